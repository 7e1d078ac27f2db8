"""Video io (visionlite.io.read_video, read_video_timestamps, write_video, VideoReader) on clips the tests
write themselves. TorchVision 0.29 has no read_video (it moved to TorchCodec): where torchvision.io still has
it, it is the reference; otherwise PyAV, the decoder both use, decodes the same file frame by frame."""
import sys
from fractions import Fraction

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite.io import VideoReader, read_video, read_video_timestamps, write_video

av = require("av")

pytestmark = pytest.mark.filterwarnings("ignore:The pts_unit 'pts'", "ignore:Accurate seek")

T, H, W, FPS = 12, 32, 48, 8
AUDIO_RATE = 16000


def _clip():
    """Smooth moving gradients (codecs keep them well), frame t shifted by 4 t pixels."""
    y, x = np.mgrid[0:H, 0:W]
    frames = []
    for t in range(T):
        r = (x + 4 * t) * 255 // (W + 4 * T)
        g = y * 255 // H
        b = np.full_like(x, 40 + 15 * t)
        frames.append(np.stack([r, g, b], -1))
    return np.stack(frames).astype(np.uint8)


@pytest.fixture(scope="module")
def clip():
    return _clip()


@pytest.fixture(scope="module")
def files(tmp_path_factory, clip):
    d = tmp_path_factory.mktemp("video")
    audio = (0.3 * np.sin(np.arange(AUDIO_RATE * T // FPS) * 0.05))[None].astype(np.float32)
    paths = {"x264": d / "a.mp4", "audio": d / "b.mp4", "lossless": d / "c.mkv", "mpeg4": d / "d.avi"}
    write_video(paths["x264"], clip, FPS)
    write_video(paths["audio"], clip, float(FPS), audio_array=audio, audio_fps=AUDIO_RATE, audio_codec="aac")
    write_video(paths["lossless"], clip, FPS, video_codec="libx264rgb", options={"crf": "0"})
    write_video(paths["mpeg4"], clip, FPS, video_codec="mpeg4", options={"b": "2000000"})
    return {k: str(v) for k, v in paths.items()}


def _pyav_frames(path):
    """Every video frame decoded by PyAV, sorted by pts: ``(pts list, [T, H, W, 3] uint8)``."""
    with av.open(path) as c:
        frames = sorted(c.decode(video=0), key=lambda f: f.pts)
        return [f.pts for f in frames], np.stack([f.to_rgb().to_ndarray() for f in frames])


def _tv_read_video():
    tv_io = require("torchvision.io")
    return getattr(tv_io, "read_video", None)


@pytest.mark.parametrize("kind", ["x264", "audio", "lossless", "mpeg4"])
def test_frames_and_timestamps_equal_the_decoder(files, clip, kind):
    path = files[kind]
    ref_pts, ref_frames = _pyav_frames(path)
    vframes, aframes, info = read_video(path, pts_unit="sec")
    assert vframes.dtype.np == np.uint8 and tuple(vframes.shape) == (T, H, W, 3)
    np.testing.assert_array_equal(vframes.numpy(), ref_frames)
    assert info["video_fps"] == FPS
    pts, fps = read_video_timestamps(path)
    assert pts == ref_pts and fps == FPS
    tv_read = _tv_read_video()
    if tv_read is not None:  # torchvision <= 0.21: the function itself is the reference
        tv_v, _, tv_info = tv_read(path, pts_unit="sec")
        np.testing.assert_array_equal(vframes.numpy(), tv_v.numpy())
        assert info == tv_info
    # round trip within the codec's loss (exact for lossless RGB x264)
    err = np.abs(vframes.numpy().astype(int) - clip.astype(int))
    if kind == "lossless":
        assert err.max() == 0
    else:
        assert err.mean() < 4, err.mean()


def test_time_ranges_and_output_format(files):
    path = files["x264"]
    ref_pts, ref_frames = _pyav_frames(path)
    time_base = Fraction(ref_pts[1] - ref_pts[0]) * FPS  # pts per second
    v, _, _ = read_video(path, start_pts=0.25, end_pts=0.75, pts_unit="sec", output_format="tchw")
    want = [i for i, p in enumerate(ref_pts) if 0.25 <= p / time_base <= 0.75]
    assert want == [2, 3, 4, 5, 6]
    np.testing.assert_array_equal(v.numpy(), ref_frames[want].transpose(0, 3, 1, 2))
    v, _, _ = read_video(path, start_pts=ref_pts[3], end_pts=ref_pts[5])  # pts units
    np.testing.assert_array_equal(v.numpy(), ref_frames[3:6])
    sec, fps = read_video_timestamps(path, pts_unit="sec")
    assert sec == [Fraction(p) / time_base for p in ref_pts] and all(isinstance(s, Fraction) for s in sec)


def test_audio_round_trip(files):
    v, a, info = read_video(files["audio"], pts_unit="sec")
    assert info == {"video_fps": FPS, "audio_fps": AUDIO_RATE}
    with av.open(files["audio"]) as c:
        ref = np.concatenate([f.to_ndarray() for f in sorted(c.decode(audio=0), key=lambda f: f.pts)], 1)
    assert a.dtype.np == np.float32 and a.shape[0] == 1  # mono stays mono
    np.testing.assert_array_equal(a.numpy(), ref)
    _, a_part, _ = read_video(files["audio"], start_pts=0.5, end_pts=1.0, pts_unit="sec")
    assert 0.4 * AUDIO_RATE < a_part.shape[1] < 0.7 * AUDIO_RATE  # about half a second, frame-aligned
    _, a_none, _ = read_video(files["x264"], pts_unit="sec")
    assert tuple(a_none.shape) == (1, 0) and a_none.dtype.np == np.float32


def test_video_reader(files):
    ref_pts, ref_frames = _pyav_frames(files["audio"])
    with VideoReader(files["audio"]) as reader:
        meta = reader.get_metadata()
        assert meta["video"]["fps"] == [FPS] and meta["audio"]["framerate"] == [AUDIO_RATE]
        assert meta["video"]["duration"][0] == pytest.approx(T / FPS)
        got = list(reader)
        assert [g["pts"] for g in got] == [p / (ref_pts[1] - ref_pts[0]) / FPS for p in ref_pts]
        frames = np.stack([g["data"].numpy() for g in got])
        np.testing.assert_array_equal(frames, ref_frames.transpose(0, 3, 1, 2))
        assert reader.set_current_stream("audio")
        first = next(reader)
        assert first["pts"] == 0 and first["data"].shape[1] == 1  # [samples, channels]
        reader.set_current_stream("video:0")
        assert next(reader.seek(0.9, keyframes_only=True))["pts"] <= 0.9  # at or before: key frames only
    with open(files["x264"], "rb") as f:  # from memory too: bytes or a 1-D uint8 Tensor of them
        data = f.read()
    assert len(list(VideoReader(data))) == T
    import visionlite as vl

    reader = VideoReader(vl.from_numpy(np.frombuffer(data, np.uint8)), num_threads=2)
    frames = [g["data"].numpy() for g in reader]
    np.testing.assert_array_equal(np.stack(frames), _pyav_frames(files["x264"])[1].transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="audio stream"):
        VideoReader(files["x264"], stream="audio")
    with pytest.raises(ValueError, match="stream type"):
        VideoReader(files["x264"], stream="subtitles")


def test_bad_inputs_raise_clear_errors(tmp_path, files, clip):
    with pytest.raises(FileNotFoundError, match="File not found.*nothere.mp4"):
        read_video(str(tmp_path / "nothere.mp4"), pts_unit="sec")
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"this is not a video file at all" * 10)
    for call in (lambda: read_video(str(junk), pts_unit="sec"), lambda: read_video_timestamps(str(junk)),
                 lambda: VideoReader(str(junk))):
        with pytest.raises(ValueError, match="notes.mp4.*FFmpeg"):
            call()
    with pytest.raises(ValueError, match="output_format"):
        read_video(files["x264"], output_format="HWC")
    with pytest.raises(ValueError, match="end_pts should be larger"):
        read_video(files["x264"], start_pts=2, end_pts=1, pts_unit="sec")
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        write_video(str(tmp_path / "x.mp4"), clip[..., 0], FPS)
    with pytest.raises(ValueError, match="audio_fps"):
        write_video(str(tmp_path / "x.mp4"), clip, FPS, audio_array=np.zeros((1, 10), np.float32))


def test_decoded_size_is_bounded(files, monkeypatch):
    from visionlite.io import video

    monkeypatch.setattr(video, "MAX_DECODED_BYTES", 5 * H * W * 3)
    with pytest.raises(MemoryError, match="MAX_DECODED_BYTES"):
        read_video(files["x264"], pts_unit="sec")


def test_missing_pyav_names_the_extra(monkeypatch, files):
    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails
    with pytest.raises(ImportError, match=r'pip install "visionlite\[video\]"'):
        read_video(files["x264"], pts_unit="sec")
    with pytest.raises(ImportError, match="visionlite"):
        VideoReader(files["x264"])
