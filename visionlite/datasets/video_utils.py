"""``VideoClips``: every fixed-length clip of a list of videos, indexed as TorchVision 0.29 indexes them.

A video's "pts" here are its frame indices ``0 .. num_frames - 1`` and its fps the average frame rate
measured from the stream (frames / time spanned), as TorchVision 0.29 takes them from TorchCodec; clips
are windows of ``clip_length_in_frames`` indices, ``frames_between_clips`` apart, optionally on a video
resampled to ``frame_rate``. Frames are decoded with PyAV (the optional ``video`` extra): only the packets
are scanned when clips are computed, and a clip decodes from the key frame before it to its last frame.
"""
import bisect
import math
import os
import threading
import warnings

import numpy as np

from visionlite.core.tensor import Tensor

__all__ = ["VideoClips", "unfold"]


def _np(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _long(a):
    return Tensor._wrap(np.ascontiguousarray(a, dtype=np.int64))


def unfold(tensor, size, step, dilation=1):
    """All windows of ``size`` elements of a 1-D tensor, ``step`` apart, with ``dilation`` inside a window.

    Returns a ``(num_windows, size)`` tensor (``(0, size)`` when the tensor is too short).
    """
    values = _np(tensor)
    if values.ndim != 1:
        raise ValueError(f"tensor should have 1 dimension instead of {values.ndim}")
    span = dilation * (size - 1) + 1
    count = max((values.shape[0] - span) // step + 1, 0)
    index = np.arange(count)[:, None] * step + np.arange(size)[None, :] * dilation
    return Tensor._wrap(np.ascontiguousarray(values[index.reshape(count, size)]))


_SCANS = {}  # (path, mtime, size) -> _scan's result: get_clip reads a video's packet list once, not per clip
_SCANS_KEPT = 64
_SCANS_LOCK = threading.Lock()


def _scan_cached(path):
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    with _SCANS_LOCK:
        found = _SCANS.get(key)
    if found is None:
        found = _scan(path)
        with _SCANS_LOCK:  # DataLoader worker threads share the cache
            if len(_SCANS) >= _SCANS_KEPT:
                _SCANS.pop(next(iter(_SCANS)))  # oldest first
            _SCANS[key] = found
    return found


def _scan(path):
    """``(sorted packet pts, time base, fps)`` of the first video stream, from the packets (no decoding)."""
    from visionlite.io._av import open_container, require_av

    av = require_av()
    with open_container(av, path) as container:
        if not container.streams.video:
            return [], None, None
        stream = container.streams.video[0]
        pts, end = [], None
        try:
            for packet in container.demux(stream):
                if packet.pts is None:  # the demuxer's final empty packet
                    continue
                pts.append(packet.pts)
                last = packet.pts + (packet.duration or 0)
                end = last if end is None else max(end, last)
        except av.FFmpegError as e:
            warnings.warn(f"reading the packets of {path} stopped early: {e}", stacklevel=2)
        pts.sort()
        fps = None
        if pts and end is not None and end > pts[0]:
            fps = len(pts) / float((end - pts[0]) * stream.time_base)
        elif stream.average_rate is not None:
            fps = float(stream.average_rate)
        return pts, stream.time_base, fps


class _VideoTimestampsDataset:
    """Frame indices and fps of each video, as a dataset so that a DataLoader can scan videos in parallel."""

    def __init__(self, video_paths):
        self.video_paths = video_paths

    def __len__(self):
        return len(self.video_paths)

    def __getitem__(self, idx):
        pts, _, fps = _scan(self.video_paths[idx])
        return list(range(len(pts))), fps


def _collate_fn(x):
    return x


def _decode_clip(path, start_idx, end_idx, output_format):
    """Frames ``start_idx .. end_idx`` (inclusive, by presentation order) and the audio they span."""
    from visionlite.io._av import open_container, require_av

    av = require_av()
    pts, _, fps = _scan_cached(path)
    if end_idx >= len(pts):
        raise IndexError(f"{path} has {len(pts)} frames; frame {end_idx} was asked for (has the file changed "
                         f"since the clips were computed?)")
    wanted = set(pts[start_idx:end_idx + 1])
    frames = {}
    with open_container(av, path) as container:
        stream = container.streams.video[0]
        container.seek(pts[start_idx], backward=True, any_frame=False, stream=stream)
        for frame in container.decode(stream):
            if frame.pts in wanted:
                frames[frame.pts] = frame.to_rgb().to_ndarray()
            if frame.pts is not None and frame.pts >= pts[end_idx] and len(frames) == len(wanted):
                break
        if len(frames) != len(wanted):
            raise RuntimeError(f"could not decode frames {start_idx}..{end_idx} of {path} "
                               f"(got {len(frames)} of "
                               f"{len(wanted)}); the file may be damaged")
        video = np.stack([frames[p] for p in sorted(frames)])
    audio = _audio_between(av, path, start_idx / fps, (end_idx + 1) / fps)
    if output_format == "TCHW":
        video = video.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(video), audio, fps


def _audio_between(av, path, start_sec, stop_sec):
    """Float32 ``[channels, samples]`` audio played in ``[start_sec, stop_sec)``; ``[1, 0]`` without audio.

    Decoded from the stream's start by a fresh decoder, as TorchCodec does for audio: after a seek, codecs
    such as AAC (noise substitution, frame overlap) give other samples than a decode from the start.
    """
    from visionlite.io._av import open_container

    with open_container(av, path) as container:
        if not container.streams.audio:
            return np.empty((1, 0), np.float32)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        chunks, first = [], None
        try:
            for frame in container.decode(stream):  # demuxes only this stream: no video is decoded
                if frame.pts is None:
                    continue
                t = float(frame.pts * frame.time_base)
                if t >= stop_sec:
                    break
                if t + frame.samples / stream.rate <= start_sec:
                    continue  # ends before the clip
                if first is None:
                    first = t
                chunks += [out.to_ndarray() for out in resampler.resample(frame)]
        except av.FFmpegError as e:
            warnings.warn(f"audio decoding of {path} stopped early: {e}", stacklevel=3)
    if not chunks:
        return np.empty((1, 0), np.float32)
    samples = np.concatenate(chunks, 1).astype(np.float32, copy=False)
    begin = max(int(round((start_sec - first) * stream.rate)), 0)
    end = max(int(round((stop_sec - first) * stream.rate)), begin)
    return np.ascontiguousarray(samples[:, begin:end])


class VideoClips:
    """All consecutive clips of ``clip_length_in_frames`` frames, ``frames_between_clips`` apart, of each
    video.

    Args:
        video_paths: the video files.
        clip_length_in_frames: frames per clip.
        frames_between_clips: step (in frames) between the starts of two clips of one video.
        frame_rate: if given, every video is first resampled to this rate (frames dropped or repeated).
        num_workers: processes scanning the videos (0: this one).
        output_format: ``"THWC"`` (default) or ``"TCHW"``.

    Clips shorter than ``clip_length_in_frames`` at a video's end are dropped. Scanning many videos takes
    time: keep ``metadata`` and pass it back as ``_precomputed_metadata``.
    """

    def __init__(self, video_paths, clip_length_in_frames=16, frames_between_clips=1, frame_rate=None,
                 _precomputed_metadata=None, num_workers=0, _video_width=0, _video_height=0,
                 _video_min_dimension=0, _video_max_dimension=0, _audio_samples=0, _audio_channels=0,
                 output_format="THWC"):
        self.video_paths = video_paths
        self.num_workers = num_workers
        # kept for TorchVision's signature; the PyAV decoder returns frames at their stored size
        self._video_width = _video_width
        self._video_height = _video_height
        self._video_min_dimension = _video_min_dimension
        self._video_max_dimension = _video_max_dimension
        self._audio_samples = _audio_samples
        self._audio_channels = _audio_channels
        self.output_format = output_format.upper()
        if self.output_format not in ("THWC", "TCHW"):
            raise ValueError(f"output_format should be either 'THWC' or 'TCHW', got {output_format}.")
        if _precomputed_metadata is None:
            self._compute_frame_pts()
        else:
            self._init_from_metadata(_precomputed_metadata)
        self.compute_clips(clip_length_in_frames, frames_between_clips, frame_rate)

    def _compute_frame_pts(self):
        from tqdm.auto import tqdm

        from visionlite.data import DataLoader

        self.video_pts, self.video_fps = [], []
        loader = DataLoader(_VideoTimestampsDataset(self.video_paths), batch_size=16,
                            num_workers=self.num_workers, collate_fn=_collate_fn)
        with tqdm(total=len(loader), disable=None) as bar:  # disable=None: silent when not on a terminal
            for batch in loader:
                bar.update(1)
                for pts, fps in batch:
                    self.video_pts.append(_long(pts))
                    self.video_fps.append(fps)

    def _init_from_metadata(self, metadata):
        self.video_paths = metadata["video_paths"]
        if not len(self.video_paths) == len(metadata["video_pts"]) == len(metadata["video_fps"]):
            raise ValueError("_precomputed_metadata: video_paths, video_pts and video_fps must have one "
                             "entry per video")
        self.video_pts = [_long(_np(p)) for p in metadata["video_pts"]]
        self.video_fps = metadata["video_fps"]

    @property
    def metadata(self):
        """``{"video_paths", "video_pts", "video_fps"}``: pass it back as ``_precomputed_metadata``."""
        return {"video_paths": self.video_paths, "video_pts": self.video_pts, "video_fps": self.video_fps}

    def subset(self, indices):
        """A VideoClips over the videos at ``indices`` only (no rescanning)."""
        metadata = {"video_paths": [self.video_paths[i] for i in indices],
                    "video_pts": [self.video_pts[i] for i in indices],
                    "video_fps": [self.video_fps[i] for i in indices]}
        return type(self)(metadata["video_paths"], clip_length_in_frames=self.num_frames,
                          frames_between_clips=self.step, frame_rate=self.frame_rate,
                          _precomputed_metadata=metadata, num_workers=self.num_workers,
                          _video_width=self._video_width, _video_height=self._video_height,
                          _video_min_dimension=self._video_min_dimension,
                          _video_max_dimension=self._video_max_dimension, _audio_samples=self._audio_samples,
                          _audio_channels=self._audio_channels, output_format=self.output_format)

    @staticmethod
    def _resample_video_idx(num_frames, original_fps, new_fps):
        step = original_fps / new_fps
        if float(step).is_integer():
            return slice(None, None, int(step))  # a plain stride needs no index list
        return _long(np.floor(np.arange(num_frames, dtype=np.float32) * step))  # float32 as TorchVision

    @staticmethod
    def compute_clips_for_video(video_pts, num_frames, step, fps, frame_rate=None):
        """``(clips, idxs)`` of one video: ``clips`` a ``(n, num_frames)`` tensor of its pts; ``idxs`` the
        resampling indices of each clip (a list of slices, or a tensor like ``clips``)."""
        if fps is None:
            fps = 1  # no video stream: video_pts is empty, any rate gives no clip
        if frame_rate is None:
            frame_rate = fps
        total_frames = len(video_pts) * frame_rate / fps
        idxs = VideoClips._resample_video_idx(int(math.floor(total_frames)), fps, frame_rate)
        pts = _np(video_pts)[idxs if isinstance(idxs, slice) else _np(idxs)]
        clips = unfold(pts, num_frames, step)
        if not clips.numel():
            warnings.warn("There aren't enough frames in the current video to get a clip for the given clip "
                          "length and frames between clips. The video (and potentially others) will be "
                          "skipped.",
                          stacklevel=2)
        if isinstance(idxs, slice):
            return clips, [idxs] * len(clips)
        return clips, unfold(idxs, num_frames, step)

    def compute_clips(self, num_frames, step, frame_rate=None):
        """Recompute every clip for a new clip length, step or frame rate (fast: no decoding)."""
        if num_frames < 1 or step < 1:
            raise ValueError(f"clip length and step must be at least 1, got {num_frames} and {step}")
        self.num_frames, self.step, self.frame_rate = num_frames, step, frame_rate
        self.clips, self.resampling_idxs = [], []
        for video_pts, fps in zip(self.video_pts, self.video_fps):
            clips, idxs = self.compute_clips_for_video(video_pts, num_frames, step, fps, frame_rate)
            self.clips.append(clips)
            self.resampling_idxs.append(idxs)
        self.cumulative_sizes = np.cumsum([len(c) for c in self.clips]).tolist()

    def __len__(self):
        return self.num_clips()

    def num_videos(self):
        return len(self.video_paths)

    def num_clips(self):
        """Number of clips over all videos."""
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def get_clip_location(self, idx):
        """Flat clip index -> ``(video_idx, clip_idx)``."""
        video_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        clip_idx = idx if video_idx == 0 else idx - self.cumulative_sizes[video_idx - 1]
        return video_idx, clip_idx

    def get_clip(self, idx):
        """``(video, audio, info, video_idx)`` of clip ``idx``.

        ``video`` is uint8 ``[T, H, W, C]`` (or ``[T, C, H, W]``), ``audio`` float32 ``[channels, samples]``
        for the clip's time span, ``info`` ``{"video_fps": ...}`` (the resampled rate when ``frame_rate``).
        """
        if idx >= self.num_clips() or idx < -self.num_clips():
            raise IndexError(f"Index {idx} out of range ({self.num_clips()} number of clips)")
        if idx < 0:
            idx += self.num_clips()
        video_idx, clip_idx = self.get_clip_location(idx)
        path = self.video_paths[video_idx]
        clip_pts = _np(self.clips[video_idx][clip_idx])
        start_idx, end_idx = int(clip_pts[0]), int(clip_pts[-1])
        video, audio, fps = _decode_clip(os.fspath(path), start_idx, end_idx, self.output_format)
        info = {"video_fps": fps}
        if self.frame_rate is not None:
            resampling = self.resampling_idxs[video_idx][clip_idx]
            if not isinstance(resampling, slice):
                resampling = _np(resampling) - _np(resampling)[0]
            video = video[resampling]
            info["video_fps"] = self.frame_rate
        if len(video) != self.num_frames:
            raise RuntimeError(f"clip {idx} of {path}: decoded {len(video)} frames, "
                               f"expected {self.num_frames}")
        return Tensor._wrap(np.ascontiguousarray(video)), Tensor._wrap(audio), info, video_idx

    def __getstate__(self):
        # pts of all videos in one array (pickles small); clips are recomputed on load
        state = self.__dict__.copy()
        state["video_pts_sizes"] = [len(v) for v in self.video_pts]
        pts = [_np(v).astype(np.int64) for v in self.video_pts]
        state["video_pts"] = np.concatenate(pts) if pts else []
        for key in ("clips", "resampling_idxs", "cumulative_sizes"):
            del state[key]
        state["_version"] = 2
        return state

    def __setstate__(self, state):
        if "_version" not in state:
            self.__dict__ = state
            return
        flat = np.asarray(state.pop("video_pts"), dtype=np.int64)
        sizes = state.pop("video_pts_sizes")
        state["video_pts"] = [_long(part) for part in np.split(flat, np.cumsum(sizes)[:-1])] if sizes else []
        self.__dict__ = state
        self.compute_clips(self.num_frames, self.step, self.frame_rate)
