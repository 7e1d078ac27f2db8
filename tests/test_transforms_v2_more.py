"""The rest of transforms.v2 against torchvision.transforms.v2: key points moved by every geometric
transform, the added photometric/conversion/crop/batch transforms, and the v2 auto-augment policies.
Random parameters are drawn by visionlite and handed to TorchVision's ``transform``; the auto-augment
policies run both libraries on one scripted stream of random numbers."""

import numpy as np
import pytest
from PIL import Image as PILImage

import visionlite as vl
from visionlite.transforms import _random as R
from visionlite.transforms import functional as F1
from visionlite.transforms import v2 as V
from visionlite.transforms.v2 import tv_tensors as tvt

torch = pytest.importorskip("torch")
TV2 = pytest.importorskip("torchvision.transforms.v2")
from torchvision import tv_tensors as TVT  # noqa: E402

H, W = 40, 56
_rng = np.random.default_rng(0)
IMG = _rng.integers(0, 80, (3, H, W), dtype=np.uint8)
IMG[:, 10:30, 15:40] = np.array([220, 150, 60], np.uint8)[:, None, None]
BOXES = np.array([[15, 10, 40, 30], [2, 3, 12, 9]], np.float32)
MASK = np.zeros((H, W), np.uint8)
MASK[10:30, 15:40] = 1
POINTS = np.array([[15.0, 10.0], [39.0, 29.0], [27.5, 20.25], [0.0, 0.0], [55.0, 39.0]], np.float32)


def ours_sample(as_pil=False):
    image = PILImage.fromarray(IMG.transpose(1, 2, 0)) if as_pil else tvt.Image(vl.tensor(IMG))
    return {
        "image": image,
        "boxes": tvt.BoundingBoxes(BOXES, format="XYXY", canvas_size=(H, W)),
        "mask": tvt.Mask(vl.tensor(MASK)),
        "points": tvt.KeyPoints(POINTS, canvas_size=(H, W)),
        "labels": vl.tensor([3, 4]),
    }


def theirs_sample(as_pil=False):
    image = PILImage.fromarray(IMG.transpose(1, 2, 0)) if as_pil else TVT.Image(torch.from_numpy(IMG))
    return {
        "image": image,
        "boxes": TVT.BoundingBoxes(torch.from_numpy(BOXES), format="XYXY", canvas_size=(H, W)),
        "mask": TVT.Mask(torch.from_numpy(MASK)),
        "points": TVT.KeyPoints(torch.from_numpy(POINTS), canvas_size=(H, W)),
        "labels": torch.tensor([3, 4]),
    }


def _np(x):
    if isinstance(x, PILImage.Image):
        arr = np.asarray(x)
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def run_recording(t, sample):
    """Run ``t`` on ``sample``; return (output, the params its ``make_params`` drew)."""
    seen = []
    draw = t.make_params

    def recording(*args):
        seen.append(draw(*args))
        return seen[-1]

    t.make_params = recording
    return t(sample), (seen[0] if seen else {})


def theirs_applied(tv_transform, sample, params):
    return {k: v if k == "labels" else tv_transform.transform(v, params) for k, v in sample.items()}


def assert_sample_equal(ours, theirs, image_atol=0, point_atol=1e-3):
    a, b = _np(ours["image"]).astype(int), _np(theirs["image"]).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= image_atol
    np.testing.assert_allclose(ours["boxes"].numpy(), theirs["boxes"].numpy(), atol=1e-3)
    assert tuple(ours["boxes"].canvas_size) == tuple(theirs["boxes"].canvas_size)
    np.testing.assert_array_equal(ours["mask"].numpy(), theirs["mask"].numpy())
    np.testing.assert_allclose(ours["points"].numpy(), theirs["points"].numpy(), atol=point_atol)
    assert tuple(ours["points"].canvas_size) == tuple(theirs["points"].canvas_size)
    assert isinstance(ours["points"], tvt.KeyPoints)


def _coeffs(p):
    return F1._get_perspective_coeffs(p["start"], p["end"])


GEOMETRIC = [
    ("hflip", lambda: V.RandomHorizontalFlip(p=1.0), lambda: TV2.RandomHorizontalFlip(p=1.0), lambda p: {}),
    ("vflip", lambda: V.RandomVerticalFlip(p=1.0), lambda: TV2.RandomVerticalFlip(p=1.0), lambda p: {}),
    ("resize", lambda: V.Resize((31, 45)), lambda: TV2.Resize((31, 45)), lambda p: {}),
    ("center_crop", lambda: V.CenterCrop((30, 34)), lambda: TV2.CenterCrop((30, 34)), lambda p: {}),
    ("pad", lambda: V.Pad([2, 3, 4, 5]), lambda: TV2.Pad([2, 3, 4, 5]), lambda p: {}),
    (
        "resized_crop",
        lambda: V.RandomResizedCrop((24, 30)),
        lambda: TV2.RandomResizedCrop((24, 30)),
        lambda p: dict(top=p["top"], left=p["left"], height=p["height"], width=p["width"]),
    ),
    (
        "affine",
        lambda: V.RandomAffine(25, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10),
        lambda: TV2.RandomAffine(25),
        lambda p: dict(angle=p["angle"], translate=p["translate"], scale=p["scale"], shear=p["shear"]),
    ),
    (
        "rotation",
        lambda: V.RandomRotation(40),
        lambda: TV2.RandomRotation(40),
        lambda p: dict(angle=p["angle"]),
    ),
    (
        "zoom_out",
        lambda: V.RandomZoomOut(p=1.0),
        lambda: TV2.RandomZoomOut(p=1.0),
        lambda p: dict(padding=p["padding"]),
    ),
    (
        "perspective",
        lambda: V.RandomPerspective(p=1.0),
        lambda: TV2.RandomPerspective(p=1.0),
        lambda p: dict(coefficients=_coeffs(p)),
    ),
    (
        "random_resize",
        lambda: V.RandomResize(20, 50),
        lambda: TV2.RandomResize(20, 50),
        lambda p: dict(size=list(p["size"])),
    ),
    (
        "elastic",
        lambda: V.ElasticTransform(alpha=20.0, sigma=3.0),
        lambda: TV2.ElasticTransform(),
        lambda p: dict(displacement=torch.from_numpy(p["displacement"].numpy())),
    ),
]


@pytest.mark.parametrize("ours,theirs,convert", [pytest.param(*c[1:], id=c[0]) for c in GEOMETRIC])
def test_geometric_transforms_move_keypoints_with_the_pixels(ours, theirs, convert):
    for seed in range(3):
        vl.manual_seed(seed)
        out, params = run_recording(ours(), ours_sample())
        expected = theirs_applied(theirs(), theirs_sample(), convert(dict(params)))
        # tensor warps agree within TorchVision's one-level rounding; nearest warps exactly
        assert_sample_equal(out, expected, image_atol=1, point_atol=1e-3)


def test_rotation_with_expand_moves_keypoints_as_torchvision():
    vl.manual_seed(3)
    out, params = run_recording(V.RandomRotation(35, expand=True), ours_sample())
    expected = TV2.RandomRotation(35, expand=True).transform(
        theirs_sample()["points"], dict(angle=params["angle"])
    )
    np.testing.assert_allclose(out["points"].numpy(), expected.numpy(), atol=1e-3)
    assert tuple(out["points"].canvas_size) == tuple(expected.canvas_size)


PHOTOMETRIC = [
    (
        "channel_permutation",
        lambda: V.RandomChannelPermutation(),
        lambda: TV2.RandomChannelPermutation(),
        lambda p: dict(permutation=torch.tensor(p["permutation"])),
    ),
    (
        "adjust_sharpness",
        lambda: V.RandomAdjustSharpness(1.8, p=1.0),
        lambda: TV2.RandomAdjustSharpness(1.8),
        lambda p: {},
    ),
    ("autocontrast", lambda: V.RandomAutocontrast(p=1.0), lambda: TV2.RandomAutocontrast(), lambda p: {}),
    ("equalize", lambda: V.RandomEqualize(p=1.0), lambda: TV2.RandomEqualize(), lambda p: {}),
    ("invert", lambda: V.RandomInvert(p=1.0), lambda: TV2.RandomInvert(), lambda p: {}),
    ("posterize", lambda: V.RandomPosterize(3, p=1.0), lambda: TV2.RandomPosterize(3), lambda p: {}),
    ("solarize", lambda: V.RandomSolarize(100, p=1.0), lambda: TV2.RandomSolarize(100), lambda p: {}),
    ("jpeg", lambda: V.JPEG((30, 90)), lambda: TV2.JPEG((30, 90)), lambda p: dict(quality=p["quality"])),
    ("rgb", lambda: V.RGB(), lambda: TV2.RGB(), lambda p: {}),
]


@pytest.mark.parametrize("ours,theirs,convert", [pytest.param(*c[1:], id=c[0]) for c in PHOTOMETRIC])
@pytest.mark.parametrize("as_pil", [False, True], ids=["tensor", "pil"])
def test_new_photometric_transforms_change_only_images(ours, theirs, convert, as_pil):
    for seed in range(2):
        vl.manual_seed(seed)
        out, params = run_recording(ours(), ours_sample(as_pil))
        expected = theirs_applied(theirs(), theirs_sample(as_pil), convert(dict(params)))
        assert_sample_equal(out, expected, image_atol=0 if as_pil else 1, point_atol=0)
        np.testing.assert_array_equal(out["points"].numpy(), POINTS)


def test_rgb_repeats_grey_images():
    grey = vl.tensor(IMG[:1])
    np.testing.assert_array_equal(V.RGB()(grey).numpy(), TV2.RGB()(torch.from_numpy(IMG[:1])).numpy())


def test_five_and_ten_crop_give_tuples_of_images_and_refuse_boxes():
    for ours, theirs in (
        (V.FiveCrop((20, 24)), TV2.FiveCrop((20, 24))),
        (V.TenCrop(18, vertical_flip=True), TV2.TenCrop(18, vertical_flip=True)),
    ):
        got = ours(tvt.Image(vl.tensor(IMG)))
        exp = theirs(TVT.Image(torch.from_numpy(IMG)))
        assert len(got) == len(exp) and all(isinstance(g, tvt.Image) for g in got)
        for g, e in zip(got, exp):
            np.testing.assert_array_equal(g.numpy(), e.numpy())
        with pytest.raises(TypeError, match="not supported"):
            ours(ours_sample())


def test_gaussian_noise_and_linear_transformation():
    x = vl.tensor(IMG.astype(np.float32) / 255)
    vl.manual_seed(2)
    out = V.GaussianNoise(mean=0.05, sigma=0.3)(tvt.Image(x))
    vl.manual_seed(2)
    noise = vl.randn(*x.shape).numpy()
    expected = np.clip(IMG.astype(np.float32) / 255 + (noise * np.float32(0.3) + np.float32(0.05)), 0, 1)
    assert isinstance(out, tvt.Image)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="float"):
        V.GaussianNoise()(vl.tensor(IMG))

    small = IMG[:, :4, :5].astype(np.float32) / 255
    n = small.size
    m = _rng.standard_normal((n, n)).astype(np.float32) * 0.1
    mean = _rng.standard_normal(n).astype(np.float32) * 0.1
    got = V.LinearTransformation(vl.tensor(m), vl.tensor(mean))(vl.tensor(small))
    exp = TV2.LinearTransformation(torch.from_numpy(m), torch.from_numpy(mean))(torch.from_numpy(small))
    np.testing.assert_allclose(got.numpy(), exp.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="square"):
        V.LinearTransformation(vl.tensor(m[:, :3]), vl.tensor(mean))


def test_conversions_identity_and_temporal_subsampling():
    pil = PILImage.fromarray(IMG.transpose(1, 2, 0))
    np.testing.assert_array_equal(V.PILToTensor()(pil).numpy(), TV2.PILToTensor()(pil).numpy())
    np.testing.assert_allclose(V.ToTensor()(pil).numpy(), TV2.ToTensor()(pil).numpy())
    back = V.ToPILImage()(vl.tensor(IMG))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(TV2.ToPILImage()(torch.from_numpy(IMG))))
    got = V.ConvertImageDtype(vl.float32)(tvt.Image(vl.tensor(IMG)))
    exp = TV2.ConvertImageDtype(torch.float32)(TVT.Image(torch.from_numpy(IMG)))
    assert isinstance(got, tvt.Image)
    np.testing.assert_allclose(got.numpy(), exp.numpy())
    sample = ours_sample()
    assert V.Identity()(sample) is sample
    video = np.arange(9 * 2 * 3 * 3, dtype=np.uint8).reshape(9, 2, 3, 3)
    got = V.UniformTemporalSubsample(4)(tvt.Video(vl.tensor(video)))
    exp = TV2.UniformTemporalSubsample(4)(TVT.Video(torch.from_numpy(video)))
    assert isinstance(got, tvt.Video)
    np.testing.assert_array_equal(got.numpy(), exp.numpy())


def test_clamp_and_sanitize_keypoints():
    pts = np.array(
        [[[-2.0, 3.0], [5.0, 5.0]], [[3.0, 3.0], [4.0, 4.0]], [[70.0, 2.0], [1.0, 1.0]]], np.float32
    )
    got = V.ClampKeyPoints()({"p": tvt.KeyPoints(pts, canvas_size=(H, W))})["p"]
    exp = TV2.ClampKeyPoints()({"p": TVT.KeyPoints(torch.from_numpy(pts), canvas_size=(H, W))})["p"]
    np.testing.assert_array_equal(got.numpy(), exp.numpy())
    labels = np.array([1, 2, 3])
    got = V.SanitizeKeyPoints(labels_getter="default")(
        {"p": tvt.KeyPoints(pts, canvas_size=(H, W)), "labels": vl.tensor(labels)}
    )
    exp = TV2.SanitizeKeyPoints(labels_getter="default")(
        {"p": TVT.KeyPoints(torch.from_numpy(pts), canvas_size=(H, W)), "labels": torch.from_numpy(labels)}
    )
    np.testing.assert_array_equal(got["p"].numpy(), exp["p"].numpy())
    np.testing.assert_array_equal(got["labels"].numpy(), exp["labels"].numpy())


def test_query_helpers():
    leaves = list(ours_sample().values())[:-1]  # labels are a plain tensor, which counts as an image
    assert V.query_size(leaves) == (H, W) and V.query_chw(leaves) == (3, H, W)
    assert V.has_any(leaves, tvt.Mask) and V.has_all(leaves, tvt.Mask, tvt.KeyPoints)
    assert not V.has_any(leaves, tvt.Video)
    assert V.get_bounding_boxes(leaves) is leaves[1] and V.get_keypoints(leaves) is leaves[3]
    assert V.check_type(leaves[0], (tvt.Image,))
    with pytest.raises(ValueError, match="multiple"):
        V.query_size(leaves + [tvt.Mask(vl.zeros(3, 3))])
    with pytest.raises(TypeError, match="No image"):
        V.query_chw(leaves[1:])


# ---------------------------------------------------------------------------------- batch mixing
@pytest.mark.parametrize("labels_2d", [False, True])
def test_mixup_and_cutmix_match_torchvision(labels_2d):
    batch = (np.random.default_rng(1).random((4, 3, 12, 10))).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    if labels_2d:
        labels = np.eye(3, dtype=np.float32)[labels]
    num_classes = None if labels_2d else 3
    for ours, theirs in (
        (V.MixUp(alpha=0.7, num_classes=num_classes), TV2.MixUp(alpha=0.7, num_classes=num_classes)),
        (V.CutMix(alpha=0.7, num_classes=num_classes), TV2.CutMix(alpha=0.7, num_classes=num_classes)),
    ):
        vl.manual_seed(4)
        seen = []

        def recording(pixels, draw=ours.draw, seen=seen):
            seen.append(draw(pixels))
            return seen[-1]

        ours.draw = recording
        img, lab = ours(tvt.Image(vl.tensor(batch)), vl.tensor(labels))
        t_img, t_lab = TVT.Image(torch.from_numpy(batch)), torch.from_numpy(labels)
        params = dict(seen[0], labels=t_lab, batch_size=4)
        np.testing.assert_allclose(img.numpy(), theirs.transform(t_img, params).numpy(), atol=1e-6)
        np.testing.assert_allclose(lab.numpy(), theirs.transform(t_lab, params).numpy(), atol=1e-6)
        assert isinstance(img, tvt.Image)
    with pytest.raises(ValueError, match="num_classes"):
        V.MixUp()(vl.tensor(batch), vl.tensor(np.array([0, 1, 2, 0])))
    with pytest.raises(ValueError, match="does not support"):
        V.CutMix(num_classes=3)(ours_sample())


# -------------------------------------------------------------------------------- auto augment
class _Script:
    """One stream of uniform numbers feeding both libraries' integer and float draws."""

    def __init__(self, seed):
        self.values = list(np.random.default_rng(seed).random(400))

    def next(self):
        return self.values.pop(0)

    def ours_randint(self, low, high):
        return int(low + int(self.next() * (high - low)))

    def ours_rand(self):
        return self.next()

    def torch_randint(self, *args, low=None, high=None, size=None, **kwargs):
        if args and not isinstance(args[-1], (int, np.integer)):
            size, args = args[-1], args[:-1]
        if len(args) == 2:
            low, high = args
        elif len(args) == 1:
            low, high = 0, args[0]
        low = 0 if low is None else low
        return torch.tensor(self.ours_randint(low, high)).reshape(size if size is not None else ())

    def torch_rand(self, *size, **kwargs):
        shape = size[0] if len(size) == 1 and isinstance(size[0], tuple) else size
        return torch.tensor(self.next(), dtype=torch.float32).reshape(shape)


AUTO = [
    ("autoaugment_imagenet", lambda: V.AutoAugment(), lambda: TV2.AutoAugment()),
    (
        "autoaugment_svhn",
        lambda: V.AutoAugment(V.AutoAugmentPolicy.SVHN, fill=7),
        lambda: TV2.AutoAugment(TV2.AutoAugmentPolicy.SVHN, fill=7),
    ),
    (
        "randaugment",
        lambda: V.RandAugment(num_ops=3, magnitude=12),
        lambda: TV2.RandAugment(num_ops=3, magnitude=12),
    ),
    ("trivial", lambda: V.TrivialAugmentWide(), lambda: TV2.TrivialAugmentWide()),
    ("augmix", lambda: V.AugMix(severity=4), lambda: TV2.AugMix(severity=4)),
]


@pytest.mark.parametrize("ours,theirs", [pytest.param(*c[1:], id=c[0]) for c in AUTO])
@pytest.mark.parametrize("kind", ["tensor", "pil", "float"])
def test_auto_augment_policies_match_torchvision_on_the_same_draws(ours, theirs, kind, monkeypatch):
    dirichlet = lambda self, params: torch.tensor(  # noqa: E731
        np.tile(
            np.linspace(1.0, 2.0, params.shape[-1]) / np.linspace(1.0, 2.0, params.shape[-1]).sum(),
            (params.shape[0], 1),
        ),
        dtype=torch.float32,
    )
    for seed in range(6):
        if kind == "pil":
            a = b = PILImage.fromarray(IMG.transpose(1, 2, 0))
        elif kind == "float":
            a, b = (
                tvt.Image(vl.tensor(IMG / np.float32(255))),
                TVT.Image(torch.from_numpy(IMG / np.float32(255))),
            )
        else:
            a, b = tvt.Image(vl.tensor(IMG)), TVT.Image(torch.from_numpy(IMG))
        script = _Script(seed)
        with monkeypatch.context() as m:
            m.setattr(R, "randint", script.ours_randint)
            m.setattr(R, "rand", script.ours_rand)
            t = ours()
            if isinstance(t, V.AugMix):
                m.setattr(
                    type(t), "_sample_dirichlet", lambda self, p: dirichlet(None, torch.tensor(p)).numpy()
                )
            got = t(a)
        script = _Script(seed)
        with monkeypatch.context() as m:
            m.setattr(torch, "randint", script.torch_randint)
            m.setattr(torch, "rand", script.torch_rand)
            t = theirs()
            if isinstance(t, TV2.AugMix):
                m.setattr(type(t), "_sample_dirichlet", dirichlet)
            exp = t(b)
        assert type(got).__name__ == type(exp).__name__
        # uint8 tensors: each colour op may round one level off TorchVision (float32 maths), and a policy
        # chains up to three; PIL images go through tensors in AugMix only
        atol = (
            1e-5
            if kind == "float"
            else (
                2
                if kind == "tensor"
                else int(isinstance(got, PILImage.Image) and "AugMix" in type(t).__name__)
            )
        )
        np.testing.assert_allclose(_np(got).astype(np.float64), _np(exp).astype(np.float64), atol=atol)


def test_auto_augment_refuses_boxes_and_masks():
    with pytest.raises(TypeError, match="not supported"):
        V.TrivialAugmentWide()(ours_sample())


def test_custom_transform_written_the_torchvision_way():
    def make(base, functional):
        class HalfFlip(base):
            _transformed_types = (tvt.Image, tvt.BoundingBoxes) if base is V.Transform else (
                TVT.Image, TVT.BoundingBoxes)

            def make_params(self, flat_inputs):
                return {"flip": True}

            def transform(self, inpt, params):
                return self._call_kernel(functional.horizontal_flip, inpt) if params["flip"] else inpt

        return HalfFlip()

    ours = make(V.Transform, V.functional)(ours_sample())
    theirs = make(TV2.Transform, TV2.functional)(theirs_sample())
    np.testing.assert_array_equal(ours["image"].numpy(), theirs["image"].numpy())
    np.testing.assert_allclose(ours["boxes"].numpy(), theirs["boxes"].numpy())
    np.testing.assert_array_equal(ours["mask"].numpy(), MASK)  # not among _transformed_types
    np.testing.assert_array_equal(ours["points"].numpy(), POINTS)
    assert isinstance(ours["image"], tvt.Image) and ours["labels"].tolist() == [3, 4]


def test_v1_style_get_params_on_v2_classes():
    img = vl.zeros(3, 40, 50)
    for name in ("RandomResizedCrop", "RandomCrop", "ColorJitter", "RandomRotation", "AutoAugment"):
        assert callable(getattr(V, name).get_params)
        assert hasattr(getattr(TV2, name), "get_params")
    vl.manual_seed(0)
    top, left, h, w = V.RandomResizedCrop.get_params(img, (0.08, 1.0), (0.75, 4 / 3))
    assert 0 <= top <= 40 - h and 0 <= left <= 50 - w
    assert V.RandomCrop.get_params(img, (10, 10))[2:] == (10, 10)


def test_resize_to_a_longest_side():
    got = V.Resize(None, max_size=30)(ours_sample())
    exp = TV2.Resize(None, max_size=30)(theirs_sample())
    assert_sample_equal(got, exp)
    with pytest.raises(ValueError, match="max_size"):
        V.Resize(None)


def test_to_dtype_converts_videos_and_to_image_takes_arrays():
    video = np.random.default_rng(0).integers(0, 255, (2, 3, 4, 5), dtype=np.uint8)
    got = V.ToDtype(vl.float32, scale=True)(tvt.Video(vl.tensor(video)))
    exp = TV2.ToDtype(torch.float32, scale=True)(TVT.Video(torch.from_numpy(video)))
    assert isinstance(got, tvt.Video)
    np.testing.assert_allclose(got.numpy(), exp.numpy())
    arr = IMG.transpose(1, 2, 0).copy()
    got = V.ToImage()({"a": arr, "n": 3})
    exp = TV2.ToImage()({"a": arr, "n": 3})
    assert isinstance(got["a"], tvt.Image) and got["n"] == 3
    np.testing.assert_array_equal(got["a"].numpy(), exp["a"].numpy())


def test_videos_go_through_the_image_transforms():
    video = np.random.default_rng(0).integers(0, 255, (4, 3, 20, 24), dtype=np.uint8)
    for t in (V.RandomPhotometricDistort(p=1.0), V.RandomChannelPermutation(), V.RandomResizedCrop(10),
              V.RandAugment(), V.AugMix(), V.JPEG(50)):
        out = t(tvt.Video(vl.tensor(video)))
        assert isinstance(out, tvt.Video) and out.shape[:2] == (4, 3), type(t).__name__
    vl.manual_seed(1)
    out, params = run_recording(V.RandomChannelPermutation(), tvt.Video(vl.tensor(video)))
    exp = TV2.RandomChannelPermutation().transform(TVT.Video(torch.from_numpy(video)),
                                                   dict(permutation=torch.tensor(params["permutation"])))
    np.testing.assert_array_equal(out.numpy(), exp.numpy())
