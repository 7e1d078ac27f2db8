"""Video files as Tensors, as ``torchvision.io`` did on its PyAV backend: ``read_video``,
``read_video_timestamps`` and ``write_video``.

TorchVision moved video decoding to TorchCodec (0.29 ships no ``read_video``); these keep the functions of
its last releases that had them, decoded by the same library (PyAV over FFmpeg), so the frames, audio samples
and timestamps equal what ``torchvision.io.read_video`` returned. PyAV is an optional extra, imported on first
use.

Differences, on purpose: a file FFmpeg cannot open raises ValueError naming it (TorchVision returned empty
tensors), and ``read_video`` stops with an error before holding more than ``MAX_DECODED_BYTES`` of frames.
"""
import math
import numbers
import os
import re
import secrets
import warnings
from fractions import Fraction

import numpy as np

from visionlite.core.tensor import Tensor

from ._av import open_container, require_av

__all__ = ["read_video", "read_video_timestamps", "write_video"]

MAX_DECODED_BYTES = 16 * 2**30  # read_video refuses to hold more decoded frames than this (a module setting)

# bytes per sample of each FFmpeg audio sample format, for numpy
_AUDIO_DTYPES = {"dbl": "<f8", "dblp": "<f8", "flt": "<f4", "fltp": "<f4", "s16": "<i2", "s16p": "<i2",
                 "s32": "<i4", "s32p": "<i4", "u8": "u1", "u8p": "u1"}


def _to_numpy(x, what):
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy() if x.device.type != "cpu" else x.numpy()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # a torch tensor works too
        return np.asarray(x.detach().cpu().numpy())
    try:
        return np.asarray(x)
    except Exception as e:
        raise TypeError(f"{what}: expected a Tensor or array, got {type(x).__name__}") from e


def write_video(filename, video_array, fps, video_codec="libx264", options=None, audio_array=None,
                audio_fps=None, audio_codec=None, audio_options=None):
    """Write a ``[T, H, W, C]`` uint8 video (C = 3, RGB) to ``filename``, optionally with audio.

    Args:
        filename: the output path; the container comes from its extension (``.mp4``, ``.avi``, ``.mkv``).
        video_array: ``[T, H, W, 3]`` frames; converted to uint8.
        fps: frames per second (a float is rounded, as PyAV needs a rational rate).
        video_codec: e.g. ``"libx264"`` (pixel format yuv420p), ``"libx264rgb"`` (rgb24), ``"mpeg4"``.
        options: codec options, e.g. ``{"crf": "0"}`` for lossless x264.
        audio_array: ``[C, N]`` samples; audio_fps: their sample rate; audio_codec: e.g. ``"aac"``;
        audio_options: audio codec options.
    """
    av = require_av()
    frames = _to_numpy(video_array, "write_video: video_array")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"write_video: video_array must be [T, H, W, 3] (RGB frames), got shape "
                         f"{frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("write_video: video_array has no frames (T == 0)")
    if frames.dtype.kind == "f" and frames.size and np.nanmax(frames) <= 1.0:
        # converted to uint8 as TorchVision does, which truncates [0, 1] floats to a black video
        warnings.warn("write_video: video_array holds floats in [0, 1]; they become 0 or 1 in uint8 (a black "
                      "video). Multiply by 255 (or convert with convert_image_dtype) first.", stacklevel=2)
    frames = frames.astype(np.uint8, copy=False)
    if isinstance(fps, float):
        fps = int(np.round(fps))  # PyAV's rate must be rational; TorchVision rounds too
    if not fps or fps < 0:
        raise ValueError(f"write_video: fps must be a positive number of frames per second, got {fps}")
    if audio_array is not None and (audio_fps is None or audio_codec is None):
        raise ValueError("write_video: audio_array needs audio_fps (sample rate) and audio_codec "
                         "(e.g. 'aac')")

    for codec in (video_codec, audio_codec if audio_array is not None else None):
        if codec is not None:
            try:
                av.codec.Codec(codec, "w")
            except (ValueError, av.FFmpegError):  # UnknownCodecError is a ValueError with only the name
                raise ValueError(f"write_video: FFmpeg has no encoder named {codec!r} (e.g. 'libx264', "
                                 f"'mpeg4' for video, 'aac' for audio)") from None

    # Encode into a hidden file beside the target (same extension: FFmpeg picks the container from it),
    # renamed over the target only once complete: a failed or interrupted write leaves no partial video.
    path = os.path.abspath(os.fspath(filename))
    folder, base = os.path.split(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"write_video: cannot write {filename}: the folder {folder} does not exist")
    stem, ext = os.path.splitext(base)
    tmp = os.path.join(folder, f".{stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{ext}")
    try:
        _encode(av, tmp, frames, fps, video_codec, options, audio_array, audio_fps, audio_codec,
                audio_options)
        os.replace(tmp, path)
    except av.FFmpegError as e:
        odd = "" if frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0 else (
            f"; {video_codec} with yuv420p needs an even height and width, got {frames.shape[1]}x"
            f"{frames.shape[2]} (crop or pad a row/column, or use video_codec='libx264rgb')")
        raise ValueError(f"write_video: FFmpeg could not write {filename} with codec {video_codec!r} at "
                         f"fps={fps} ({e}){odd}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _encode(av, path, frames, fps, video_codec, options, audio_array, audio_fps, audio_codec, audio_options):
    try:
        container = av.open(path, mode="w")
    except ValueError:  # PyAV's "Could not determine output format"
        ext = path[path.rfind(".tmp") + 4:]  # the target's extension, after the temporary name's ".tmp"
        raise ValueError(f"write_video: FFmpeg knows no container for the extension {ext!r}; name the file "
                         f".mp4, .avi, .mkv, ...") from None
    with container:
        stream = container.add_stream(video_codec, rate=fps)
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "rgb24" if video_codec == "libx264rgb" else "yuv420p"
        stream.options = options or {}

        if audio_array is not None:
            samples = _to_numpy(audio_array, "write_video: audio_array")
            if samples.ndim != 2:
                raise ValueError(f"write_video: audio_array must be [channels, samples], got shape "
                                 f"{samples.shape}")
            layout = "stereo" if samples.shape[0] > 1 else "mono"
            a_stream = container.add_stream(audio_codec, rate=audio_fps, layout=layout)
            a_stream.options = audio_options or {}
            fmt = a_stream.format.name
            samples = samples.astype(np.dtype(_AUDIO_DTYPES[fmt]))
            if not a_stream.format.is_planar:  # packed formats interleave channels in one row
                samples = samples.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=fmt, layout=layout)
            frame.sample_rate = audio_fps
            for packet in a_stream.encode(frame):
                container.mux(packet)
            for packet in a_stream.encode():
                container.mux(packet)

        none = av.video.frame.PictureType.NONE  # let the encoder choose each frame's type
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pict_type = none
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder's delayed frames
            container.mux(packet)


def _to_stream_units(start, end, pts_unit, time_base):
    """``(start, end)`` in the stream's pts units: seconds are floored/ceiled as TorchVision does."""
    if pts_unit == "sec":
        start = int(math.floor(start * (1 / time_base)))
        if end != float("inf"):
            end = int(math.ceil(end * (1 / time_base)))
    return start, end


def _read_from_stream(container, start_offset, end_offset, pts_unit, stream, stream_name, budget=None):
    """Decoded frames of ``stream`` whose pts lie in ``[start_offset, end_offset]``, sorted by pts.

    Seeks a little before the start (a few frames of margin, as files do not always seek exactly), decodes
    up to five frames past the end (frames can arrive out of pts order), and, when no frame starts exactly
    at ``start_offset``, keeps the last frame before it (so audio covering the start is not lost).
    """
    av = require_av()
    start_offset, end_offset = _to_stream_units(start_offset, end_offset, pts_unit, stream.time_base)
    max_buffer = 5
    # Buffer past the end (frames can come out of pts order), except for DivX files that say their
    # B-frames are not packed ("DivX503b1393" without the trailing "p"), as TorchVision decides.
    should_buffer = True
    extradata = stream.codec_context.extradata if stream.type == "video" else None
    if extradata and b"DivX" in extradata:
        found = re.search(rb"DivX(\d+)Build(\d+)(\w)", extradata[extradata.find(b"DivX"):]) or \
            re.search(rb"DivX(\d+)b(\d+)(\w)", extradata[extradata.find(b"DivX"):])
        if found is not None:
            should_buffer = found.group(3) == b"p"
    seek_offset = max(start_offset - 1, 0)  # some files do not seek exactly
    if should_buffer:
        seek_offset = max(seek_offset - max_buffer, 0)
    seek_offset = min(seek_offset, 2**62)  # a start past the end: FFmpeg's timestamps are int64
    frames = {}
    try:
        container.seek(seek_offset, any_frame=False, backward=True, stream=stream)
    except av.FFmpegError:
        return []
    buffered = 0
    try:
        for frame in container.decode(**stream_name):
            if frame.pts is None:
                continue
            frames[frame.pts] = frame
            if budget is not None:
                budget(frame)
            if frame.pts >= end_offset:
                if should_buffer and buffered < max_buffer:
                    buffered += 1
                    continue
                break
    except av.FFmpegError as e:  # a damaged tail: keep what decoded, as TorchVision does, but say so
        warnings.warn(f"decoding stopped early in {container.name}: {e}", stacklevel=3)
    result = [frames[p] for p in sorted(frames) if start_offset <= p <= end_offset]
    if frames and start_offset > 0 and start_offset not in frames:
        before = [p for p in frames if p < start_offset]
        if before:
            result.insert(0, frames[max(before)])
    return result


def _align_audio_frames(aframes, audio_frames, ref_start, ref_end):
    """Trim the concatenated ``[C, L]`` samples to ``[ref_start, ref_end]`` (in audio pts units)."""
    start, end = audio_frames[0].pts, audio_frames[-1].pts
    total = aframes.shape[1]
    step = (end - start + 1) / total
    s_idx, e_idx = 0, total
    if start < ref_start:
        s_idx = int((ref_start - start) / step)
    if end > ref_end:
        e_idx = int((ref_end - end) / step)
    return aframes[:, s_idx:e_idx]


class _Budget:
    """Counts decoded frame bytes and stops a read before it holds more than ``limit``."""

    def __init__(self, filename, limit):
        self.filename, self.limit, self.used = filename, limit, 0

    def __call__(self, frame):
        if frame.__class__.__name__ == "VideoFrame":
            self.used += frame.width * frame.height * 3
        else:
            self.used += frame.samples * len(frame.layout.channels) * frame.format.bytes
        if self.used > self.limit:
            raise MemoryError(f"read_video({self.filename}): the decoded frames pass "
                              f"visionlite.io.video.MAX_DECODED_BYTES = {self.limit} bytes; read a part with "
                              f"start_pts/end_pts (pts_unit='sec'), stream it with VideoReader, or raise the "
                              f"limit")


def _check_pts(name, value, unit):
    """``value`` as a number (a 0-d tensor gives its item); TypeError/ValueError naming ``name`` otherwise."""
    if not isinstance(value, numbers.Real) and hasattr(value, "item"):
        value = value.item()
    what = "seconds" if unit == "sec" else "pts"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} should be a number ({what}), got {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"{name} is NaN; pass a number ({what})")
    return value


def read_video(filename, start_pts=0, end_pts=None, pts_unit="pts", output_format="THWC"):
    """Read the video frames and audio of ``filename`` between ``start_pts`` and ``end_pts``.

    Args:
        filename: path to the video file.
        start_pts, end_pts: the first and last presentation times to return (inclusive); ``end_pts=None``
            reads to the end. Integers in the stream's time base for ``pts_unit="pts"``, seconds (float or
            Fraction) for ``pts_unit="sec"`` (recommended).
        output_format: ``"THWC"`` (default) or ``"TCHW"``.

    Returns:
        ``(vframes, aframes, info)``: uint8 Tensor ``[T, H, W, C]`` (or ``[T, C, H, W]``), the audio Tensor
        ``[K, L]`` (K channels; ``[1, 0]`` float32 when there is none), and a dict with ``video_fps`` (float)
        and ``audio_fps`` (int) for the streams present.
    """
    output_format = output_format.upper() if isinstance(output_format, str) else output_format
    if output_format not in ("THWC", "TCHW"):
        raise ValueError(f"output_format should be either 'THWC' or 'TCHW', got {output_format}.")
    if pts_unit not in ("pts", "sec"):
        raise ValueError(f"pts_unit should be 'pts' or 'sec', got {pts_unit!r}")
    start_pts = _check_pts("start_pts", start_pts, pts_unit)
    end_pts = None if end_pts is None else _check_pts("end_pts", end_pts, pts_unit)
    if math.isinf(start_pts):
        raise ValueError(f"start_pts should be finite, got {start_pts}")
    av = require_av()
    if end_pts is None:
        end_pts = float("inf")
    if end_pts < start_pts:
        raise ValueError(f"end_pts should be larger than start_pts, got start_pts={start_pts} and "
                         f"end_pts={end_pts}")
    if pts_unit == "pts":
        warnings.warn("The pts_unit 'pts' gives wrong results. Please use pts_unit 'sec'.", stacklevel=2)

    info, video_frames, audio_frames = {}, [], []
    audio_timebase = Fraction(1, 1000000)
    budget = _Budget(os.fspath(filename), MAX_DECODED_BYTES)
    with open_container(av, filename) as container:
        if container.streams.audio:
            audio_timebase = container.streams.audio[0].time_base
        if container.streams.video:
            video_frames = _read_from_stream(container, start_pts, end_pts, pts_unit,
                                             container.streams.video[0], {"video": 0}, budget)
            rate = container.streams.video[0].average_rate
            if rate is not None:  # missing in some damaged files
                info["video_fps"] = float(rate)
        if container.streams.audio:
            audio_frames = _read_from_stream(container, start_pts, end_pts, pts_unit,
                                             container.streams.audio[0], {"audio": 0}, budget)
            info["audio_fps"] = container.streams.audio[0].rate
        vlist = [frame.to_rgb().to_ndarray() for frame in video_frames]
        alist = [frame.to_ndarray() for frame in audio_frames]

    vframes = np.stack(vlist) if vlist else np.empty((0, 1, 1, 3), np.uint8)
    if alist:
        aframes = np.concatenate(alist, 1)
        if pts_unit == "sec":
            start_pts, end_pts = _to_stream_units(start_pts, end_pts, "sec", audio_timebase)
        aframes = _align_audio_frames(aframes, audio_frames, start_pts, end_pts)
    else:
        aframes = np.empty((1, 0), np.float32)
    if output_format == "TCHW":
        vframes = vframes.transpose(0, 3, 1, 2)
    return Tensor._wrap(np.ascontiguousarray(vframes)), Tensor._wrap(np.ascontiguousarray(aframes)), info


def _can_read_timestamps_from_packets(container):
    # Files written by FFmpeg (libavcodec, "Lavc" in the extradata) have exact packet pts: no need to decode
    extradata = container.streams[0].codec_context.extradata
    return extradata is not None and b"Lavc" in extradata


def read_video_timestamps(filename, pts_unit="pts"):
    """The presentation timestamps of every video frame, and the frame rate.

    Returns:
        ``(pts, video_fps)``: a sorted list of ints (``pts_unit="pts"``) or Fractions of a second
        (``pts_unit="sec"``), and the average frame rate as a float (None without a video stream).
    """
    if pts_unit not in ("pts", "sec"):
        raise ValueError(f"pts_unit should be 'pts' or 'sec', got {pts_unit!r}")
    av = require_av()
    video_fps, pts, time_base = None, [], None
    with open_container(av, filename) as container:
        if container.streams.video:
            stream = container.streams.video[0]
            time_base = stream.time_base
            try:
                if _can_read_timestamps_from_packets(container):
                    pts = [p.pts for p in container.demux(video=0) if p.pts is not None]
                else:
                    pts = [f.pts for f in container.decode(video=0) if f.pts is not None]
            except av.FFmpegError:
                warnings.warn(f"Failed decoding frames for file {filename}", stacklevel=2)
            if stream.average_rate is not None:
                video_fps = float(stream.average_rate)
    pts.sort()
    if pts_unit == "sec":
        pts = [p * time_base for p in pts]
    return pts, video_fps
