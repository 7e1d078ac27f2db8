"""transforms.functional against torchvision.transforms.functional on real photos: PIL inputs must match
pixel for pixel, uint8 tensors within one level, float tensors within float32 rounding."""
import pathlib

import numpy as np
import pytest

import visionlite as vl
import visionlite.transforms.functional as F
from tests.helpers.refs import require
from visionlite.transforms import InterpolationMode as IM

torch = require("torch")
TF = require("torchvision.transforms.functional")
from PIL import Image  # noqa: E402
from torchvision.transforms import InterpolationMode as TIM  # noqa: E402

ASSETS = pathlib.Path(__file__).parent / "assets"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def pil():
    return Image.open(ASSETS / "chelsea.png").convert("RGB")


@pytest.fixture(scope="module")
def chw(pil):
    return np.asarray(pil).transpose(2, 0, 1).copy()


SP = [[0, 0], [450, 0], [450, 299], [0, 299]]
EP = [[20, 10], [400, 30], [430, 280], [5, 250]]

# (id, fn(F, img, Interp)): the same call works for both libraries
CASES = [
    ("resize_bilinear", lambda F, x, I: F.resize(x, [123, 77])),
    ("resize_short_side", lambda F, x, I: F.resize(x, 256)),
    ("resize_upscale", lambda F, x, I: F.resize(x, [400, 700])),
    ("resize_max_size", lambda F, x, I: F.resize(x, 100, max_size=120)),
    ("resize_bicubic", lambda F, x, I: F.resize(x, [200, 180], I.BICUBIC)),
    ("resize_bicubic_up", lambda F, x, I: F.resize(x, [420, 600], I.BICUBIC)),
    ("resize_nearest", lambda F, x, I: F.resize(x, [101, 203], I.NEAREST)),
    ("center_crop", lambda F, x, I: F.center_crop(x, [224, 200])),
    ("center_crop_pad", lambda F, x, I: F.center_crop(x, [320, 500])),
    ("crop_outside", lambda F, x, I: F.crop(x, -10, -20, 100, 500)),
    ("resized_crop", lambda F, x, I: F.resized_crop(x, 10, 20, 100, 150, [64, 64])),
    ("hflip", lambda F, x, I: F.hflip(x)),
    ("vflip", lambda F, x, I: F.vflip(x)),
    ("pad_constant", lambda F, x, I: F.pad(x, [3, 5, 7, 9], fill=7)),
    ("pad_edge", lambda F, x, I: F.pad(x, [3, 5], padding_mode="edge")),
    ("pad_reflect", lambda F, x, I: F.pad(x, 6, padding_mode="reflect")),
    ("pad_symmetric_neg", lambda F, x, I: F.pad(x, [3, -5, 7, 9], padding_mode="symmetric")),
    ("brightness", lambda F, x, I: F.adjust_brightness(x, 1.4)),
    ("contrast", lambda F, x, I: F.adjust_contrast(x, 0.6)),
    ("saturation", lambda F, x, I: F.adjust_saturation(x, 1.7)),
    ("sharpness", lambda F, x, I: F.adjust_sharpness(x, 1.8)),
    ("hue", lambda F, x, I: F.adjust_hue(x, -0.2)),
    ("gamma", lambda F, x, I: F.adjust_gamma(x, 0.7, 1.1)),
    ("grayscale1", lambda F, x, I: F.rgb_to_grayscale(x, 1)),
    ("grayscale3", lambda F, x, I: F.rgb_to_grayscale(x, 3)),
    ("invert", lambda F, x, I: F.invert(x)),
    ("autocontrast", lambda F, x, I: F.autocontrast(x)),
    ("rotate_nearest", lambda F, x, I: F.rotate(x, 30)),
    ("rotate_expand_center", lambda F, x, I: F.rotate(x, -47.5, I.BILINEAR, expand=True, center=[30, 40])),
    ("rotate_fill", lambda F, x, I: F.rotate(x, 12.0, I.BILINEAR, fill=[10, 20, 30])),
    ("affine", lambda F, x, I: F.affine(x, 20, [10, -7], 1.2, [10, 5], I.BILINEAR)),
    ("affine_nearest_center", lambda F, x, I: F.affine(x, -8, [3, 4], 0.9, 7.0, center=[100, 50])),
    ("perspective", lambda F, x, I: F.perspective(x, SP, EP)),
    ("perspective_nearest_fill", lambda F, x, I: F.perspective(x, SP, EP, I.NEAREST, fill=[255.0, 0.0, 3.0])),
]
UINT8_ONLY = [
    ("posterize", lambda F, x, I: F.posterize(x, 3)),
    ("solarize", lambda F, x, I: F.solarize(x, 100)),
    ("equalize", lambda F, x, I: F.equalize(x)),
]


def _params(cases):
    return [pytest.param(fn, id=name) for name, fn in cases]


@pytest.mark.parametrize("fn", _params(CASES + UINT8_ONLY))
def test_pil_matches_torchvision_exactly(fn, pil):
    expected = np.asarray(fn(TF, pil, TIM))
    actual = fn(F, pil, IM)
    assert isinstance(actual, Image.Image)
    np.testing.assert_array_equal(np.asarray(actual), expected)


@pytest.mark.parametrize("fn", _params(CASES + UINT8_ONLY))
def test_uint8_tensor_within_one_level(fn, chw):
    expected = fn(TF, torch.from_numpy(chw), TIM).numpy()
    actual = fn(F, vl.tensor(chw), IM)
    assert isinstance(actual, vl.Tensor) and actual.dtype == vl.uint8
    assert actual.shape == expected.shape
    diff = np.abs(actual.numpy().astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 2e-3


@pytest.mark.parametrize("fn", _params(CASES))
def test_float_tensor_close(fn, chw):
    x = chw.astype(np.float32) / 255
    expected = fn(TF, torch.from_numpy(x), TIM).numpy()
    actual = fn(F, vl.tensor(x), IM)
    assert actual.dtype == vl.float32 and actual.shape == expected.shape
    np.testing.assert_allclose(actual.numpy(), expected, atol=2e-5, rtol=0)


WARPS = [c for c in CASES if c[0].startswith(("rotate", "affine", "perspective"))]


@pytest.mark.parametrize("fn", _params(WARPS))
def test_float16_warps_match_torchvision(fn, chw):
    # TorchVision builds a float16 image's sampling grid with float32 arithmetic (rounded once to float16)
    # and samples in float16: the same steps give the same values. (The crop stays small: PyTorch's
    # float16 grid_sample on CPU returns garbage, NaNs included, for planes of some 60k pixels and more.)
    x = (chw[:, :120, :160].astype(np.float32) / 255).astype(np.float16)
    expected = fn(TF, torch.from_numpy(x), TIM).numpy()
    actual = fn(F, vl.tensor(x), IM)
    assert actual.dtype == vl.float16 and actual.shape == expected.shape
    diff = np.abs(actual.numpy().astype(np.float32) - expected.astype(np.float32))
    assert (diff > 1e-3).mean() < 1e-3, diff.max()


def test_float16_elastic_transform_computes_in_float32(chw):
    # TorchVision's elastic grid is float32, so a float16 image is sampled in float32 and cast back
    x = (chw[:, :60, :80].astype(np.float32) / 255).astype(np.float16)
    d = np.random.default_rng(0).uniform(-0.05, 0.05, (1, 60, 80, 2)).astype(np.float32)
    expected = TF.elastic_transform(torch.from_numpy(x), torch.from_numpy(d)).numpy()
    actual = F.elastic_transform(vl.tensor(x), vl.tensor(d))
    assert actual.dtype == vl.float16
    # float32 sums may round differently: at most one float16 step apart
    np.testing.assert_allclose(actual.numpy().astype(np.float32), expected.astype(np.float32), atol=1e-3,
                               rtol=0)


BATCHED = {"resize_bilinear", "resize_bicubic", "contrast", "gamma", "affine", "equalize"}


@pytest.mark.parametrize("fn", _params([c for c in CASES + UINT8_ONLY if c[0] in BATCHED]))
def test_batched_tensor(fn, chw):
    batch = np.stack([chw, chw[:, ::-1, ::-1]])
    expected = fn(TF, torch.from_numpy(batch.copy()), TIM).numpy()
    actual = fn(F, vl.tensor(batch), IM).numpy()
    assert actual.shape == expected.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("size,sigma", [(5, 1.3), ((3, 9), None), (23, 4.0)])
def test_gaussian_blur(size, sigma, pil, chw):
    # TorchVision blurs with a float32 2-D convolution whose rounding order cannot be reproduced;
    # a handful of pixels that sit on a .5 boundary may round the other way
    expected = TF.gaussian_blur(torch.from_numpy(chw), size, sigma).numpy()
    for actual in (F.gaussian_blur(vl.tensor(chw), size, sigma).numpy(),
                   np.asarray(F.gaussian_blur(pil, size, sigma)).transpose(2, 0, 1)):
        diff = np.abs(actual.astype(int) - expected.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-4
    x = chw.astype(np.float32) / 255
    np.testing.assert_allclose(F.gaussian_blur(vl.tensor(x), size, sigma).numpy(),
                               TF.gaussian_blur(torch.from_numpy(x), size, sigma).numpy(), atol=1e-5)


def test_five_and_ten_crop(pil, chw):
    for img, to_np in ((pil, np.asarray), (vl.tensor(chw), lambda t: t.numpy())):
        ours = F.ten_crop(img, [100, 120], vertical_flip=True)
        ref_in = pil if isinstance(img, Image.Image) else torch.from_numpy(chw)
        theirs = TF.ten_crop(ref_in, [100, 120], vertical_flip=True)
        assert len(ours) == 10
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(to_np(a), np.asarray(b))


def test_conversions_match(pil, chw):
    np.testing.assert_array_equal(F.to_tensor(pil).numpy(), TF.to_tensor(pil).numpy())
    np.testing.assert_array_equal(F.pil_to_tensor(pil).numpy(), TF.pil_to_tensor(pil).numpy())
    gray = pil.convert("L")
    np.testing.assert_array_equal(F.to_tensor(gray).numpy(), TF.to_tensor(gray).numpy())
    hwc = np.asarray(pil).copy()
    np.testing.assert_array_equal(F.to_tensor(hwc).numpy(), TF.to_tensor(hwc).numpy())
    x = F.to_tensor(pil)
    back, ref = F.to_pil_image(x), TF.to_pil_image(torch.from_numpy(x.numpy()))
    assert back.mode == ref.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), np.asarray(ref))
    g = F.to_pil_image(vl.tensor(chw[:1]))
    assert g.mode == "L"
    np.testing.assert_array_equal(np.asarray(g), chw[0])
    rgba = F.to_pil_image(vl.tensor(np.concatenate([chw, chw[:1]])))
    assert rgba.mode == "RGBA"


@pytest.mark.parametrize("src,dst", [("uint8", "float32"), ("float32", "uint8"), ("uint8", "int32"),
                                     ("int32", "uint8"), ("float64", "int16"), ("float32", "float64")])
def test_convert_image_dtype(src, dst, chw):
    x = chw.astype(src) / (255 if src.startswith("float") else 1)
    x = x.astype(src)
    expected = TF.convert_image_dtype(torch.from_numpy(x), getattr(torch, dst)).numpy()
    actual = F.convert_image_dtype(vl.tensor(x), getattr(vl, dst)).numpy()
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_normalize_and_erase(chw):
    x = chw.astype(np.float32) / 255
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    np.testing.assert_allclose(F.normalize(vl.tensor(x), mean, std).numpy(),
                               TF.normalize(torch.from_numpy(x), mean, std).numpy(), rtol=1e-6, atol=1e-7)
    t = vl.tensor(x)
    assert F.normalize(t, mean, std, inplace=True) is t
    np.testing.assert_allclose(t.numpy(), TF.normalize(torch.from_numpy(x), mean, std).numpy(), atol=1e-6)
    v = np.random.default_rng(0).standard_normal((3, 20, 30)).astype(np.float32)
    np.testing.assert_array_equal(F.erase(vl.tensor(x), 5, 7, 20, 30, vl.tensor(v)).numpy(),
                                  TF.erase(torch.from_numpy(x), 5, 7, 20, 30, torch.from_numpy(v)).numpy())


def test_interpolation_accepts_pil_constants_and_torchvision_enum(chw):
    a = F.resize(vl.tensor(chw), [50, 60], interpolation=Image.Resampling.BICUBIC)
    b = F.resize(vl.tensor(chw), [50, 60], interpolation=TIM.BICUBIC)
    c = F.resize(vl.tensor(chw), [50, 60], interpolation=IM.BICUBIC)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    np.testing.assert_array_equal(b.numpy(), c.numpy())


def test_bad_input_raises_clear_errors(chw, pil):
    t = vl.tensor(chw)
    with pytest.raises(TypeError, match="2 dimensions"):
        F.hflip(vl.tensor(np.zeros(5, np.uint8)))
    with pytest.raises(TypeError, match="PIL Image or a visionlite Tensor"):
        F.resize([[1, 2]], 10)
    with pytest.raises(ValueError, match="mean has 2 values but the image has 3 channels"):
        F.normalize(t.float(), [0.5, 0.5], [0.5, 0.5, 0.5])
    with pytest.raises(TypeError, match="float tensor"):
        F.normalize(t, [0.5], [0.5])
    with pytest.raises(ValueError, match="positive integers"):
        F.resize(t, [-3, 10])
    with pytest.raises(ValueError, match="positive integers"):
        F.center_crop(pil, 0)
    with pytest.raises(ValueError, match="bigger than input size"):
        F.five_crop(t, 1000)
    with pytest.raises(TypeError, match="channel values are \\[1, 3\\]"):
        F.adjust_brightness(vl.tensor(np.zeros((5, 8, 8), np.uint8)), 1.2)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(t, 0.7)
    with pytest.raises(ValueError, match="unsupported with Tensor input"):
        F.rotate(t, 10, IM.BICUBIC)
    with pytest.raises(ValueError, match="symmetric"):
        F.pad(t, 400, padding_mode="reflect")
    with pytest.raises(TypeError, match="uint8"):
        F.posterize(t.float(), 2)


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not vl.cuda_available(), reason="cuda: cupy or a GPU is "
                                                                                       "not available"))


@pytest.mark.parametrize("fn", _params(CASES + UINT8_ONLY))
@pytest.mark.parametrize("gpu", [CUDA])
def test_tensor_ops_on_gpu_match_cpu(fn, gpu, chw):
    for x in (chw, chw.astype(np.float32) / 255):
        if x.dtype != np.uint8 and fn in [f for _, f in UINT8_ONLY]:
            continue
        cpu = fn(F, vl.tensor(x), IM)
        out = fn(F, vl.tensor(x, device=gpu), IM)
        assert out.device.type == gpu and out.dtype == cpu.dtype and out.shape == cpu.shape
        diff = np.abs(out.cpu().numpy().astype(np.float64) - cpu.numpy().astype(np.float64))
        assert diff.max() <= (1 if x.dtype == np.uint8 else 1e-4)


@pytest.mark.parametrize("gpu", [CUDA])
def test_blur_normalize_erase_on_gpu(gpu, chw):
    x = chw.astype(np.float32) / 255
    for img in (chw, x):
        cpu = F.gaussian_blur(vl.tensor(img), 7, 1.5).numpy().astype(np.float64)
        out = F.gaussian_blur(vl.tensor(img, device=gpu), 7, 1.5).cpu().numpy().astype(np.float64)
        assert np.abs(out - cpu).max() <= 1
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    np.testing.assert_allclose(F.normalize(vl.tensor(x, device=gpu), mean, std).cpu().numpy(),
                               F.normalize(vl.tensor(x), mean, std).numpy(), rtol=1e-6, atol=1e-6)
    v = vl.randn(3, 10, 12)
    np.testing.assert_array_equal(F.erase(vl.tensor(x, device=gpu), 3, 4, 10, 12, v).cpu().numpy(),
                                  F.erase(vl.tensor(x), 3, 4, 10, 12, v).numpy())
