"""Tensor transforms keep the graph (issue 10): a float image that requires grad gives a result that
requires grad, with values and input gradients equal to TorchVision's on the same op."""

import warnings

import numpy as np
import pytest

import visionlite as vl
import visionlite.transforms.functional as VF
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require
from visionlite import transforms as VT

torch = require("torch")
TF = require("torchvision.transforms.functional")
TT = require("torchvision.transforms")

IMG = np.random.default_rng(0).random((2, 3, 9, 11)).astype(np.float32)
PATCH = np.linspace(0, 1, 36, dtype=np.float32).reshape(3, 3, 4)
WEIGHTS = np.random.default_rng(1).standard_normal(4096).astype(np.float32)


def _val(F, x):
    return torch.tensor(x) if F is TF else vl.tensor(x)


OPS = {
    "normalize": lambda F, t: F.normalize(t, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4]),
    "resize_antialias": lambda F, t: F.resize(t, [5, 6], antialias=True),
    "resize_up": lambda F, t: F.resize(t, [12, 13], antialias=False),
    "resize_nearest": lambda F, t: F.resize(t, [5, 6], interpolation=F.InterpolationMode.NEAREST),
    "resize_bicubic": lambda F, t: F.resize(t, [5, 7], interpolation=F.InterpolationMode.BICUBIC),
    "affine": lambda F, t: F.affine(t, angle=15.0, translate=[1, 2], scale=1.1, shear=[5.0, 3.0],
                                    interpolation=F.InterpolationMode.BILINEAR),
    "affine_fill": lambda F, t: F.affine(t, angle=-20.0, translate=[2, 0], scale=0.9, shear=[0.0, 0.0],
                                         interpolation=F.InterpolationMode.BILINEAR, fill=[0.5, 0.2, 1.0]),
    "rotate": lambda F, t: F.rotate(t, 30.0, interpolation=F.InterpolationMode.BILINEAR),
    "rotate_expand": lambda F, t: F.rotate(t, 40.0, interpolation=F.InterpolationMode.BILINEAR, expand=True),
    "rotate_nearest_fill": lambda F, t: F.rotate(t, 30.0, fill=0.3),
    "perspective": lambda F, t: F.perspective(t, [[0, 0], [10, 0], [10, 8], [0, 8]],
                                              [[1, 1], [9, 0], [10, 7], [0, 8]],
                                              interpolation=F.InterpolationMode.BILINEAR, fill=0.7),
    "elastic": lambda F, t: F.elastic_transform(
        t, _val(F, np.random.default_rng(2).uniform(-0.1, 0.1, (1, 9, 11, 2)).astype(np.float32))),
    "crop": lambda F, t: F.crop(t, 1, 2, 5, 6),
    "crop_outside": lambda F, t: F.crop(t, -2, 3, 8, 10),
    "center_crop_pad": lambda F, t: F.center_crop(t, [12, 14]),
    "resized_crop": lambda F, t: F.resized_crop(t, 1, 1, 6, 6, [4, 4], antialias=True),
    "ten_crop": lambda F, t: F.ten_crop(t, [4, 5])[7],
    "hflip": lambda F, t: F.hflip(t),
    "vflip": lambda F, t: F.vflip(t),
    "pad_reflect": lambda F, t: F.pad(t, [1, 2], padding_mode="reflect"),
    "pad_symmetric": lambda F, t: F.pad(t, [3, 1, 2, 4], padding_mode="symmetric"),
    "pad_edge": lambda F, t: F.pad(t, [2, 0, 1, 3], padding_mode="edge"),
    "pad_constant": lambda F, t: F.pad(t, [1, 2, 3, 4], fill=0.5),
    "brightness": lambda F, t: F.adjust_brightness(t, 1.3),
    "contrast": lambda F, t: F.adjust_contrast(t, 0.7),
    "saturation": lambda F, t: F.adjust_saturation(t, 1.4),
    "hue": lambda F, t: F.adjust_hue(t, 0.1),
    "gamma": lambda F, t: F.adjust_gamma(t, 1.5, 0.9),
    "sharpness": lambda F, t: F.adjust_sharpness(t, 1.5),
    "grayscale3": lambda F, t: F.rgb_to_grayscale(t, 3),
    "gaussian_blur": lambda F, t: F.gaussian_blur(t, [3, 5], [1.0, 1.5]),
    "invert": lambda F, t: F.invert(t),
    "solarize": lambda F, t: F.solarize(t, 0.5),
    "erase": lambda F, t: F.erase(t, 1, 1, 3, 3, _val(F, np.float32(0.5))),
    "erase_patch": lambda F, t: F.erase(t, 2, 3, 3, 4, _val(F, PATCH)),
    "convert_dtype": lambda F, t: F.convert_image_dtype(t, torch.float64 if F is TF else vl.float64),
}


def _forward_backward(F, op, x):
    t = _val(F, x).requires_grad_(True)
    out = op(F, t)
    assert out.requires_grad, "the transform dropped the graph"
    n = int(np.prod(out.shape))
    (out * _val(F, WEIGHTS[:n].reshape(tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", list(OPS))
def test_transform_gradient_matches_torchvision(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _forward_backward(TF, OPS[name], IMG)
        ours = _forward_backward(VF, OPS[name], IMG)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=2e-6)


# (not hue: it computes in float32 whatever the input, as TorchVision's does)
@pytest.mark.parametrize("name", ["resize_antialias", "affine_fill", "perspective", "sharpness",
                                  "gaussian_blur", "contrast", "pad_symmetric"])
def test_transform_float64_gradcheck(name):
    x = np.random.default_rng(3).uniform(0.05, 0.95, (3, 6, 7))  # away from the clamps at 0 and 1
    if name == "perspective":
        start, end = [[0, 0], [6, 0], [6, 5], [0, 5]], [[1, 0], [5, 0], [6, 5], [0, 4]]
        gradcheck(lambda t: VF.perspective(t, start, end, interpolation=VF.InterpolationMode.BILINEAR), [x])
        return
    gradcheck(lambda t: OPS[name](VF, t), [x])


def test_autocontrast_gradcheck():
    # TorchVision's autocontrast cannot be differentiated (it modifies a saved tensor in place)
    x = np.random.default_rng(4).uniform(0.1, 0.9, (3, 5, 6))
    gradcheck(lambda t: VF.autocontrast(t), [x])


def test_transform_classes_keep_the_graph_and_no_grad_does_not():
    pipeline = VT.Compose([VT.Resize(7), VT.CenterCrop(6), VT.RandomHorizontalFlip(1.0),
                           VT.ColorJitter(0.2, 0.2, 0.2, 0.05), VT.Normalize([0.5] * 3, [0.25] * 3)])
    x = vl.tensor(IMG[0], requires_grad=True)
    out = pipeline(x)
    assert out.requires_grad and out.shape == (3, 6, 6)
    out.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with vl.no_grad():
        assert not pipeline(x).requires_grad
    assert not VF.resize(vl.tensor(IMG[0]), [4, 4]).requires_grad


def test_in_place_transforms_on_a_graph_tensor():
    x = vl.tensor(IMG[0], requires_grad=True)
    y = x * 1.0
    VF.normalize(y, [0.5] * 3, [0.5] * 3, inplace=True)
    VF.erase(y, 0, 0, 2, 2, 0.0, inplace=True)
    y.sum().backward()
    expected = np.full(IMG[0].shape, 2.0, dtype=np.float32)
    expected[:, :2, :2] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


V2_OPS = {
    "resize": lambda F, t: F.resize(t, [5, 6]),
    "normalize": lambda F, t: F.normalize(t, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4]),
    "affine": lambda F, t: F.affine(t, angle=10.0, translate=[1, 1], scale=1.1, shear=[2.0, 0.0],
                                    interpolation=F.InterpolationMode.BILINEAR),
    "perspective": lambda F, t: F.perspective(t, [[0, 0], [10, 0], [10, 8], [0, 8]],
                                              [[1, 1], [9, 0], [10, 7], [0, 8]]),
    "crop_flip": lambda F, t: F.horizontal_flip(F.crop(t, 1, 2, 6, 7)),
    "pad": lambda F, t: F.pad(t, [1, 2], padding_mode="reflect"),
    "colour": lambda F, t: F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(t, 1.2), 0.8), 1.3),
    "blur": lambda F, t: F.gaussian_blur(t, [3, 3]),
    "to_dtype": lambda F, t: F.to_dtype(t, torch.float64 if F.__name__.startswith("torch") else vl.float64,
                                        scale=True),
}


@pytest.mark.parametrize("kind", ["tensor", "image"])
@pytest.mark.parametrize("name", list(V2_OPS))
def test_v2_transform_gradient_matches_torchvision(name, kind):
    TF2 = require("torchvision.transforms.v2.functional")
    tv_tensors = require("torchvision.tv_tensors")
    from visionlite.transforms.v2 import functional as VF2
    from visionlite.transforms.v2 import tv_tensors as vl_tv

    grads, outs = [], []
    for F, lib in ((TF2, "torch"), (VF2, "vl")):
        if lib == "torch":
            t = torch.tensor(IMG[0], requires_grad=True)
            x = tv_tensors.Image(t) if kind == "image" else t
        else:
            t = x = vl_tv.Image(IMG[0], requires_grad=True) if kind == "image" else vl.tensor(IMG[0],
                                                                                             requires_grad=True)
        out = V2_OPS[name](F, x)
        assert out.requires_grad
        if kind == "image":
            assert type(out).__name__ == "Image"
        n = int(np.prod(out.shape))
        w = WEIGHTS[:n].reshape(tuple(out.shape))
        (out * (torch.tensor(w) if lib == "torch" else vl.tensor(w))).sum().backward()
        outs.append(np.asarray(out.detach().numpy()))
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=2e-6)
