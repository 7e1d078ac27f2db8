"""v2 transforms on videos (tv_tensors.Video, [..., T, C, H, W]) against torchvision.transforms.v2, on a real
clip written with write_video and read back with read_video (TCHW)."""
import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite.transforms import v2 as V

torch = require("torch")
TV = require("torchvision.transforms.v2")
TF = require("torchvision.transforms.v2.functional")
tv_tensors = require("torchvision.tv_tensors")
require("av")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from visionlite.io import read_video, write_video

    y, x = np.mgrid[0:36, 0:44]
    frames = np.stack([np.stack([(x * 5 + 9 * t) % 256, (y * 7) % 256, (x * y + t * 30) % 256], -1)
                       for t in range(10)]).astype(np.uint8)
    path = str(tmp_path_factory.mktemp("clip") / "clip.mp4")
    write_video(path, frames, 10)
    video, _, _ = read_video(path, pts_unit="sec", output_format="TCHW")
    return video.numpy()


def _pair(array):
    return V.Video(_tensor(array)), tv_tensors.Video(torch.from_numpy(array.copy()))


def _tensor(array):
    import visionlite as vl

    return vl.from_numpy(np.ascontiguousarray(array))


def _check(ours, ref, atol=0):
    assert isinstance(ours, V.Video) and isinstance(ref, tv_tensors.Video)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert ours.dtype.np == ref.numpy().dtype
    np.testing.assert_allclose(ours.numpy().astype(np.float64), ref.numpy().astype(np.float64), atol=atol)


CASES = [
    ("UniformTemporalSubsample", lambda m, f32: m.UniformTemporalSubsample(4), 0),
    ("Resize", lambda m, f32: m.Resize((18, 20)), 1),
    ("Resize-antialias-off", lambda m, f32: m.Resize(25, antialias=False), 1),
    ("CenterCrop", lambda m, f32: m.CenterCrop((20, 30)), 0),
    ("HorizontalFlip", lambda m, f32: m.RandomHorizontalFlip(p=1.0), 0),
    ("VerticalFlip", lambda m, f32: m.RandomVerticalFlip(p=1.0), 0),
    ("Pad", lambda m, f32: m.Pad([1, 2, 3, 4], padding_mode="reflect"), 0),
    ("ToDtype", lambda m, f32: m.ToDtype(f32, scale=True), 1e-6),
]


@pytest.mark.parametrize("name, make, atol", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("batched", [False, True], ids=["TCHW", "BTCHW"])
def test_transform_equals_torchvision(clip, name, make, atol, batched):
    import visionlite as vl

    array = np.stack([clip, clip[::-1]]) if batched else clip
    ours, ref = _pair(array)
    _check(make(V, vl.float32)(ours), make(TV, torch.float32)(ref), atol)


def test_normalize_and_pipeline(clip):
    ours, ref = _pair(clip)
    mean, std = [0.43216, 0.394666, 0.37645], [0.22803, 0.22145, 0.216989]
    import visionlite as vl

    pipe = V.Compose([V.UniformTemporalSubsample(8), V.Resize(24), V.CenterCrop(20),
                      V.ToDtype(vl.float32, scale=True), V.Normalize(mean, std)])
    ref_pipe = TV.Compose([TV.UniformTemporalSubsample(8), TV.Resize(24), TV.CenterCrop(20),
                           TV.ToDtype(torch.float32, scale=True), TV.Normalize(mean, std)])
    _check(pipe(ours), ref_pipe(ref), atol=1.1 / 255 / min(std))  # one uint8 step of resize rounding


def test_random_crop_is_one_crop_for_all_frames(clip):
    ours, ref = _pair(clip)
    out = V.RandomCrop(16)(ours).numpy()
    first = clip[0]
    hits = [(i, j) for i in range(clip.shape[2] - 15) for j in range(clip.shape[3] - 15)
            if np.array_equal(first[:, i:i + 16, j:j + 16], out[0])]
    assert hits, "the first frame is not a 16x16 crop of the clip"
    i, j = hits[0]
    np.testing.assert_array_equal(out, TF.crop(ref, i, j, 16, 16).numpy())  # the same window in every frame


def test_video_classification_preset(clip):
    presets = require("torchvision.transforms._presets")
    from visionlite.transforms.presets import VideoClassification

    ours = VideoClassification(crop_size=(16, 16), resize_size=(20, 24))(_tensor(clip))
    ref = presets.VideoClassification(crop_size=(16, 16), resize_size=(20, 24))(torch.from_numpy(clip.copy()))
    assert tuple(ours.shape) == tuple(ref.shape) == (3, 10, 16, 16)
    # uint8 bilinear resize without antialias rounds a few pixels one step apart from TorchVision's
    # (visionlite.transforms.functional.resize; about 1 pixel in 1000): one uint8 step after normalizing
    diff = np.abs(ours.numpy() - ref.numpy())
    assert diff.max() < 1.01 / 255 / 0.216989 and (diff > 1e-4).mean() < 0.005
