"""Transform classes against torchvision.transforms: deterministic ones output for output, random ones
by drawing parameters with visionlite's ``get_params`` and replaying them through TorchVision."""
import pathlib

import numpy as np
import pytest

import visionlite as vl
import visionlite.transforms as T
import visionlite.transforms.functional as F
from tests.helpers.refs import require

torch = require("torch")
TT = require("torchvision.transforms")
import torchvision.transforms.functional as TF  # noqa: E402
from PIL import Image  # noqa: E402

ASSETS = pathlib.Path(__file__).parent / "assets"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def pil():
    return Image.open(ASSETS / "astronaut.png").convert("RGB").resize((256, 200))


@pytest.fixture(scope="module")
def chw(pil):
    return np.asarray(pil).transpose(2, 0, 1).copy()


def _np(img):
    return np.asarray(img) if isinstance(img, Image.Image) else img.numpy()


def _close(actual, expected, levels=1):
    actual, expected = _np(actual), _np(expected)
    assert actual.shape == expected.shape
    if actual.dtype == np.uint8:
        assert np.abs(actual.astype(int) - expected.astype(int)).max() <= levels
    else:
        np.testing.assert_allclose(actual, expected, atol=2e-5)


@pytest.mark.parametrize("make", [
    lambda M: M.Compose([M.Resize(256), M.CenterCrop(224), M.ToTensor(), M.Normalize(MEAN, STD)]),
    lambda M: M.Compose([M.Resize((100, 120), M.InterpolationMode.BICUBIC), M.PILToTensor()]),
    lambda M: M.Compose([M.Pad([4, 6], fill=(1, 2, 3)), M.Grayscale(3), M.PILToTensor()]),
    lambda M: M.Compose([M.Pad(5, padding_mode="symmetric"), M.CenterCrop(300), M.PILToTensor()]),
    lambda M: M.Compose([M.Resize(50, max_size=60), M.ToTensor(), M.ConvertImageDtype(torch.uint8)
                         if M is TT else M.ConvertImageDtype(vl.uint8)]),
])
def test_deterministic_pipelines_match(make, pil):
    expected = make(TT)(pil).numpy()
    actual = make(T)(pil)
    assert isinstance(actual, vl.Tensor)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_five_and_ten_crop_classes(pil):
    pairs = ((T.FiveCrop(64), TT.FiveCrop(64)), (T.TenCrop((40, 50), True), TT.TenCrop((40, 50), True)))
    for ours, theirs in pairs:
        for a, b in zip(ours(pil), theirs(pil)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _replay(transform, img, draw, apply_tv):
    """Run ``transform`` after seeding, draw the same parameters again after the same seed, and compare
    with TorchVision's functional op applied with those parameters."""
    vl.manual_seed(1234)
    actual = transform(img)
    vl.manual_seed(1234)
    params = draw()
    tv_img = img if isinstance(img, Image.Image) else torch.from_numpy(img.numpy().copy())
    _close(actual, apply_tv(tv_img, params))
    return params


@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_random_resized_crop(as_tensor, pil, chw):
    img = vl.tensor(chw) if as_tensor else pil
    t = T.RandomResizedCrop(96, scale=(0.2, 0.9))
    _replay(t, img, lambda: T.RandomResizedCrop.get_params(img, t.scale, t.ratio),
            lambda x, p: TF.resized_crop(x, *p, [96, 96]))


@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_random_crop_with_padding(as_tensor, pil, chw):
    img = vl.tensor(chw) if as_tensor else pil
    t = T.RandomCrop((230, 300), padding=3, pad_if_needed=True, padding_mode="reflect")

    def draw():
        padded = T.functional.pad(img, 3, padding_mode="reflect")
        padded = T.functional.pad(padded, [300 - 262, 0], padding_mode="reflect")
        padded = T.functional.pad(padded, [0, 230 - 206], padding_mode="reflect")
        return T.RandomCrop.get_params(padded, (230, 300))

    def apply(x, p):
        x = TF.pad(x, 3, padding_mode="reflect")
        x = TF.pad(x, [300 - 262, 0], padding_mode="reflect")
        return TF.crop(TF.pad(x, [0, 230 - 206], padding_mode="reflect"), *p)

    _replay(t, img, draw, apply)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_random_affine_rotation_perspective(as_tensor, pil, chw):
    img = vl.tensor(chw) if as_tensor else pil
    fill = [0.0, 0.0, 0.0] if as_tensor else 0
    t = T.RandomAffine(25, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    _replay(t, img, lambda: T.RandomAffine.get_params(t.degrees, t.translate, t.scale, t.shear, [256, 200]),
            lambda x, p: TF.affine(x, *p, fill=fill))
    t = T.RandomRotation(40, expand=True)
    _replay(t, img, lambda: T.RandomRotation.get_params(t.degrees),
            lambda x, p: TF.rotate(x, p, expand=True, fill=fill))
    t = T.RandomPerspective(0.4, p=1.0)

    def draw():
        vl.rand(1)  # the p-draw comes first
        return T.RandomPerspective.get_params(256, 200, 0.4)

    _replay(t, img, draw, lambda x, p: TF.perspective(x, *p, fill=fill))


@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_color_jitter(as_tensor, pil, chw):
    img = vl.tensor(chw) if as_tensor else pil
    t = T.ColorJitter(0.4, 0.4, 0.4, 0.1)

    def apply(x, p):
        order, *factors = p
        fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
        for i in order.tolist():
            x = fns[i](x, factors[i])
        return x

    draw = lambda: T.ColorJitter.get_params(t.brightness, t.contrast, t.saturation, t.hue)
    order, *_ = _replay(t, img, draw, apply)
    assert sorted(order.tolist()) == [0, 1, 2, 3]


def test_gaussian_blur_and_erasing(chw):
    img = vl.tensor(chw)
    t = T.GaussianBlur(7, (0.5, 2.0))
    _replay(t, img, lambda: T.GaussianBlur.get_params(0.5, 2.0),
            lambda x, s: TF.gaussian_blur(x, [7, 7], [s, s]))
    t = T.RandomErasing(p=1.0, value=(10, 20, 30))

    def draw():
        vl.rand(1)
        return T.RandomErasing.get_params(img, t.scale, t.ratio, [10.0, 20.0, 30.0])

    _replay(t, img, draw, lambda x, p: TF.erase(x, *p[:4], torch.tensor([10, 20, 30])[:, None, None]))


@pytest.mark.parametrize("cls,fn", [(T.RandomHorizontalFlip, TF.hflip), (T.RandomVerticalFlip, TF.vflip),
                                    (T.RandomInvert, TF.invert), (T.RandomEqualize, TF.equalize),
                                    (T.RandomAutocontrast, TF.autocontrast)])
def test_probability_transforms(cls, fn, pil):
    applied = 0
    for seed in range(8):
        vl.manual_seed(seed)
        hit = vl.rand(1).item() < 0.5
        vl.manual_seed(seed)
        out = cls(p=0.5)(pil)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(fn(pil) if hit else pil))
        applied += hit
    assert 0 < applied < 8


def test_random_grayscale_apply_choice_order(pil):
    vl.manual_seed(0)
    outs = [T.RandomGrayscale(p=0.5)(pil) for _ in range(10)]
    assert {o.mode for o in outs} == {"RGB"}
    assert any(np.array_equal(np.asarray(o), np.asarray(TF.rgb_to_grayscale(pil, 3))) for o in outs)
    flip = T.RandomApply([T.RandomHorizontalFlip(p=1.0)], p=0.5)
    seen = {np.asarray(flip(pil))[0, 0].tobytes() for _ in range(12)}
    assert len(seen) == 2
    choice = T.RandomChoice([T.Grayscale(3), T.Lambda(lambda x: x)], p=[1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(choice(pil)), np.asarray(TF.rgb_to_grayscale(pil, 3)))
    order = T.RandomOrder([T.CenterCrop(50), T.Resize(100)])
    sizes = {order(pil).size for _ in range(12)}
    assert sizes == {(100, 100), (50, 50)}


def test_manual_seed_repeats_a_pipeline(pil):
    pipeline = T.Compose([T.RandomResizedCrop(64), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.3, 0.3, 0.3, 0.05), T.RandomRotation(10), T.ToTensor(),
                          T.RandomErasing(p=0.7)])
    vl.manual_seed(7)
    first = [pipeline(pil).numpy() for _ in range(3)]
    vl.manual_seed(7)
    second = [pipeline(pil).numpy() for _ in range(3)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_elastic_transform_replay(chw):
    img = vl.tensor(chw)
    t = T.ElasticTransform(alpha=30.0, sigma=4.0)
    _replay(t, img, lambda: T.ElasticTransform.get_params(t.alpha, t.sigma, [200, 256]),
            lambda x, d: TF.elastic_transform(x, torch.from_numpy(d.numpy()), fill=[0.0]))


def test_reprs_match_torchvision():
    pairs = [(T.Resize(256), TT.Resize(256)), (T.CenterCrop(224), TT.CenterCrop(224)),
             (T.Normalize(MEAN, STD), TT.Normalize(MEAN, STD)),
             (T.RandomResizedCrop(224), TT.RandomResizedCrop(224)),
             (T.ColorJitter(0.4, 0.4), TT.ColorJitter(0.4, 0.4)),
             (T.RandomHorizontalFlip(), TT.RandomHorizontalFlip()),
             (T.Compose([T.ToTensor()]), TT.Compose([TT.ToTensor()]))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_bad_arguments_raise(pil, chw):
    with pytest.raises(ValueError, match="larger than input image size.*pad_if_needed"):
        T.RandomCrop(1000)(pil)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop((10, 1000))(vl.tensor(chw))
    with pytest.raises(ValueError, match="only two dimensions"):
        T.CenterCrop((1, 2, 3))
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="odd and positive"):
        T.GaussianBlur(4)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    with pytest.raises(ValueError, match="channels"):
        T.Normalize([0.5] * 4, [0.5] * 4)(vl.rand(3, 8, 8))
    with pytest.raises(TypeError, match="RandomErasing.*tensor.*PILToTensor"):
        T.RandomErasing(p=1.0)(pil)
    for size in (4, [4, 4]):
        with pytest.raises(ValueError, match="resize: the image is empty"):
            F.resize(vl.zeros(3, 0, 5), size)
    assert tuple(F.resize(vl.zeros(0, 3, 5, 5), 4).shape) == (0, 3, 4, 4)  # an empty batch is fine


@pytest.mark.parametrize("kwargs", [
    dict(crop_size=224), dict(crop_size=176, resize_size=232, interpolation=3),
    dict(crop_size=160, resize_size=180, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))])
def test_image_classification_preset(kwargs, pil, chw):
    from torchvision.transforms._presets import ImageClassification as TVPreset

    from visionlite.transforms.presets import ImageClassification

    tv_kwargs = dict(kwargs)
    if "interpolation" in tv_kwargs:
        tv_kwargs["interpolation"] = TT.InterpolationMode.BICUBIC
    ours, theirs = ImageClassification(**kwargs), TVPreset(**tv_kwargs)
    np.testing.assert_allclose(ours(pil).numpy(), theirs(pil).numpy(), rtol=1e-6, atol=1e-6)
    batch = np.stack([chw, chw[:, ::-1].copy()])
    # uint8 tensors are resized in float and rounded: one level is 1/255 before normalizing by std >= 0.22
    np.testing.assert_allclose(ours(vl.tensor(batch)).numpy(), theirs(torch.from_numpy(batch)).numpy(),
                               atol=1.01 / 255 / 0.224)
    assert repr(ours) == repr(theirs)
