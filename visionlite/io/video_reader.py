"""``VideoReader``: frame-by-frame video (or audio) decoding, as ``torchvision.io.VideoReader`` on PyAV."""
import io
import math
import os
import warnings

import numpy as np

from visionlite.core.tensor import Tensor

from ._av import open_container, require_av

__all__ = ["VideoReader"]


def _parse_stream(stream):
    """``"video"`` / ``"audio:1"`` -> ``{"video": 0}`` / ``{"audio": 1}``."""
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream should be a string like 'video', 'video:0' or 'audio:0', got {stream!r}")
    kind, _, index = stream.partition(":")
    if kind not in ("video", "audio"):
        raise ValueError(f"stream type should be 'video' or 'audio', got {kind!r} (from {stream!r})")
    try:
        number = int(index) if index else 0
    except ValueError:
        raise ValueError(f"stream index should be an integer, got {index!r} (from {stream!r})") from None
    if number < 0:
        raise ValueError(f"stream index should be 0 or more, got {number} (from {stream!r})")
    return {kind: number}


class VideoReader:
    """Decode one stream of a video file frame by frame.

    Iterating yields ``{"data": Tensor, "pts": float}``: video frames as ``[C, H, W]`` uint8 RGB, audio
    frames as ``[samples, channels]``; ``pts`` is the presentation time in seconds.

    Args:
        src: path to the file, or its bytes (``bytes`` or a 1-D uint8 Tensor).
        stream: ``"video"`` (default), ``"audio"``, or ``"video:1"`` for a given stream of that type.
        num_threads: decoder threads (0: FFmpeg's choice).

    ``seek(t)`` moves to the key frame at or before ``t`` seconds; ``get_metadata()`` gives each stream
    type's ``duration`` (seconds) and ``fps`` (video) or ``framerate`` (audio) lists; ``set_current_stream``
    switches streams. Use it as a context manager (or call ``close()``) to release the file at once.
    """

    def __init__(self, src, stream="video", num_threads=0):
        av = require_av()
        if isinstance(src, str):
            if not src:
                raise ValueError("src cannot be empty")
        elif isinstance(src, os.PathLike):
            src = os.fspath(src)
        elif isinstance(src, (bytes, bytearray, memoryview)):
            src = io.BytesIO(bytes(src))
        elif isinstance(src, Tensor) or hasattr(src, "numpy"):
            data = src.numpy() if isinstance(src, Tensor) else np.asarray(src.detach().cpu().numpy())
            if data.dtype != np.uint8 or data.ndim != 1:
                raise ValueError(f"VideoReader: a tensor src must hold the file's bytes as a 1-D uint8 "
                                 f"tensor, got {data.dtype} with shape {data.shape}")
            src = io.BytesIO(data.tobytes())
        else:
            raise TypeError(f"VideoReader: src should be a path, bytes or a 1-D uint8 Tensor, got "
                            f"{type(src).__name__}")
        self._av = av
        self.container = open_container(av, src)
        if num_threads:
            for s in self.container.streams.video:
                s.thread_count = int(num_threads)
        self._set(stream)

    def _set(self, stream):
        wanted = _parse_stream(stream)
        (kind, index), = wanted.items()
        available = getattr(self.container.streams, kind)
        if index >= len(available):
            raise ValueError(f"VideoReader: the file has {len(available)} {kind} stream(s); {stream!r} "
                             f"does not exist")
        self.pyav_stream = wanted
        self._c = self.container.decode(**wanted)

    def __iter__(self):
        return self

    def _require_open(self):
        if self.container is None:
            raise ValueError("VideoReader: the file is closed")

    def __next__(self):
        self._require_open()
        try:
            frame = next(self._c)
        except (StopIteration, self._av.error.EOFError):
            raise StopIteration from None
        pts = float(frame.pts * frame.time_base)
        if "video" in self.pyav_stream:
            data = frame.to_rgb().to_ndarray().transpose(2, 0, 1)
        else:
            data = frame.to_ndarray().T
        if data.size == 0:
            raise StopIteration
        return {"data": Tensor._wrap(np.ascontiguousarray(data)), "pts": pts}

    def seek(self, time_s, keyframes_only=False):
        """Continue from the key frame at or before ``time_s`` seconds; returns ``self``.

        PyAV seeks to key frames only; ``keyframes_only=False`` warns that the exact seek is not done, as
        TorchVision's PyAV backend does.
        """
        self._require_open()
        try:
            time_s = float(time_s)
        except (TypeError, ValueError):
            raise TypeError(f"VideoReader.seek: time_s should be a number of seconds, got "
                            f"{type(time_s).__name__}") from None
        if math.isnan(time_s):
            raise ValueError("VideoReader.seek: time_s is NaN; pass a number of seconds")
        time_s = max(time_s, 0)  # FFmpeg does not handle negative times
        (kind, index), = self.pyav_stream.items()
        stream = getattr(self.container.streams, kind)[index]
        # past the end (even inf) seeks to the last key frame; FFmpeg's timestamps are int64
        ticks = time_s / stream.time_base
        offset = 2**62 if ticks >= 2**62 else int(round(ticks))
        if not keyframes_only:
            warnings.warn("Accurate seek is not implemented for pyav backend", stacklevel=2)
        self.container.seek(offset, backward=True, any_frame=False, stream=stream)
        self._c = self.container.decode(**self.pyav_stream)
        return self

    def get_metadata(self):
        """Per stream type, a list per stream: ``{"video": {"duration": [...], "fps": [...]},
        "audio": {"duration": [...], "framerate": [...]}}`` (seconds, frames or samples per second)."""
        self._require_open()
        metadata = {}
        for stream in self.container.streams:
            if stream.type not in ("video", "audio"):
                continue
            rate_key = "fps" if stream.type == "video" else "framerate"
            entry = metadata.setdefault(stream.type, {rate_key: [], "duration": []})
            rate = getattr(stream, "average_rate", None) or getattr(stream, "sample_rate", None) or 0
            if stream.duration is not None:
                duration = float(stream.duration * stream.time_base)
            elif self.container.duration is not None:  # some containers time only the whole file
                duration = self.container.duration / 1e6
            else:
                duration = float("nan")
            entry["duration"].append(duration)
            entry[rate_key].append(float(rate))
        return metadata

    def set_current_stream(self, stream):
        """Decode ``stream`` (``"video"``, ``"audio:0"``, ...) from the start of the file; returns True."""
        self._require_open()
        self._set(stream)
        (kind, index), = self.pyav_stream.items()
        # from the start: after another stream was read, the demuxer may stand anywhere in the file
        first = getattr(self.container.streams, kind)[index]
        self.container.seek(0, backward=True, any_frame=False, stream=first)
        self._c = self.container.decode(**self.pyav_stream)
        return True

    def close(self):
        if self.container is not None:
            self.container.close()
            self.container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
