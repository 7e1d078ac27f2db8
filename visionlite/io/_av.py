"""PyAV, imported on first use: video io is an optional extra, and ``import visionlite`` must stay light."""


def require_av():
    """Return the ``av`` module, or raise ImportError naming the extra that installs it."""
    try:
        import av
    except ImportError as e:
        raise ImportError('Video reading and writing need PyAV, which is not installed: '
                          'pip install "visionlite[video]" (or pip install av)') from e
    return av


def open_container(av, src, what="video", **kwargs):
    """``av.open(src)`` for reading, with errors that name the file and say what is wrong with it.

    A missing file raises FileNotFoundError (TorchVision raises RuntimeError("File not found") there;
    FileNotFoundError is an OSError, the usual type for it). A file FFmpeg cannot parse raises ValueError.
    """
    import os

    if isinstance(src, (str, os.PathLike)):
        src = os.fspath(src)
        if not os.path.exists(src):
            raise FileNotFoundError(f"File not found: {src}")
        if os.path.isdir(src):
            raise IsADirectoryError(f"{what} path {src} is a folder, not a video file")
    name = src if isinstance(src, str) else "<in-memory video>"
    try:
        return av.open(src, metadata_errors="ignore", **kwargs)
    except av.FFmpegError as e:
        raise ValueError(f"cannot read {what} {name}: FFmpeg cannot parse it ({e}); is it a video file "
                         f"in a format FFmpeg knows (mp4, avi, mkv, webm, ...)?") from e
