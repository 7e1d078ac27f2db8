"""Antialiased float resizing equals PyTorch's CPU kernel bit for bit: ``F.interpolate(antialias=True)``
on float32, the TorchVision classification presets on real photos (uint8 -> float32 -> round), and the
v1/v2 ``Resize`` on float tensors. ``torch.equal`` throughout, no tolerance."""
import pathlib

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require

torch = require("torch")
tv = require("torchvision")
TF = torch.nn.functional

ASSETS = pathlib.Path(__file__).parent / "assets"
PHOTOS = sorted(p.name for p in ASSETS.glob("*.png"))
PRESETS = ["ResNet50_Weights.IMAGENET1K_V2", "ResNet50_Weights.IMAGENET1K_V1",
           "ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1", "EfficientNet_B0_Weights.IMAGENET1K_V1",
           "EfficientNet_V2_S_Weights.IMAGENET1K_V1"]


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x.numpy()))


def _random_case(rng):
    h, w = (int(v) for v in rng.integers(2, 300, 2))
    oh, ow = (int(v) for v in rng.integers(2, 300, 2))  # width 1 hits a PyTorch bug (see the report)
    x = rng.standard_normal((2, 3, h, w)).astype(np.float32) * 60
    return x, (oh, ow)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_antialias_float32_bit_exact(mode):
    rng = np.random.default_rng(0 if mode == "bilinear" else 1)
    for trial in range(24):
        x, size = _random_case(rng)
        if trial % 3 == 0:
            x = np.round(x)  # integer-valued, as images cast from uint8
        align = trial % 4 == 1
        ref = TF.interpolate(torch.from_numpy(x), size=size, mode=mode, antialias=True, align_corners=align)
        out = F.interpolate(vl.tensor(x), size=size, mode=mode, antialias=True, align_corners=align)
        assert torch.equal(_t(out), ref), (x.shape, size, mode, align)


@pytest.mark.parametrize("kw", [{"scale_factor": 0.37}, {"scale_factor": (2.5, 0.3)},
                                {"scale_factor": 0.61, "recompute_scale_factor": True}, {"size": (40, 9)}])
def test_interpolate_antialias_scale_factor_and_grad(kw):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 37, 53)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    xv = vl.tensor(x, requires_grad=True)
    for mode in ("bilinear", "bicubic"):
        ref = TF.interpolate(xt, mode=mode, antialias=True, **kw)
        out = F.interpolate(xv, mode=mode, antialias=True, **kw)
        assert torch.equal(_t(out.detach()), ref.detach())
        g = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
        (gt,) = torch.autograd.grad(ref, xt, torch.from_numpy(g))
        (gv,) = vl.autograd.grad(out, xv, vl.tensor(g))
        np.testing.assert_allclose(gv.numpy(), gt.numpy(), rtol=1e-5, atol=1e-5)
        assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__


def test_interpolate_antialias_rejects_other_modes():
    with pytest.raises(NotImplementedError, match="anti-alias"):
        F.interpolate(vl.zeros(1, 1, 4, 4), size=(2, 2), mode="nearest", antialias=True)
    with pytest.raises(NotImplementedError, match="anti-alias"):
        F.interpolate(vl.zeros(1, 1, 4), size=2, mode="linear", antialias=True)


@pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
@pytest.mark.parametrize("preset", PRESETS)
def test_classification_presets_equal_torchvision_on_photos(preset):
    assert PHOTOS, "tests/assets holds the sample photos"
    import visionlite.io as vio
    from visionlite import models as vm

    tvm = require("torchvision.models")
    enum, member = preset.split(".")
    ours = getattr(getattr(vm, enum), member).transforms()
    theirs = getattr(getattr(tvm, enum), member).transforms()
    for name in PHOTOS:
        img_t = tv.io.read_image(str(ASSETS / name))
        img_v = vio.read_image(str(ASSETS / name))
        assert torch.equal(_t(img_v), img_t)
        ref = theirs(img_t)
        out = ours(img_v)
        assert torch.equal(_t(out), ref), (preset, name, int((_t(out) != ref).sum()))


@pytest.mark.parametrize("interp", ["BILINEAR", "BICUBIC"])
def test_resize_float_tensor_v1_v2_bit_exact(interp):
    import visionlite.transforms as T
    import visionlite.transforms.v2 as T2

    tv2 = require("torchvision.transforms.v2")
    rng = np.random.default_rng(5)
    x = rng.random((3, 123, 211)).astype(np.float32)
    for size in ([57], [200, 64], [301]):
        for ours, theirs in ((T, tv.transforms), (T2, tv2)):
            mode_v = getattr(ours.InterpolationMode, interp)
            mode_t = getattr(theirs.InterpolationMode, interp)
            ref = theirs.Resize(size, interpolation=mode_t, antialias=True)(torch.from_numpy(x))
            out = ours.Resize(size, interpolation=mode_v, antialias=True)(vl.tensor(x))
            assert torch.equal(_t(out), ref), (ours.__name__, size, interp)
