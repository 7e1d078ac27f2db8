"""Resizing: F.interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area) and the
Upsample modules, against PyTorch (values and gradients) and float64 finite differences."""
import warnings

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional

SIZES = [{"size": (7, 5)}, {"size": (16, 12)}, {"scale_factor": 2}, {"scale_factor": (1.7, 0.6)},
         {"scale_factor": 3.3, "recompute_scale_factor": True}, {"size": (8, 6)}, {"size": (1, 1)},
         {"scale_factor": 0.5}]
MODES = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
         ("bicubic", False), ("bicubic", True), ("area", None)]


@pytest.mark.parametrize("mode,align", MODES)
@pytest.mark.parametrize("kw", SIZES)
def test_interpolate_2d_matches_torch(mode, align, kw, device):
    kw = dict(kw, mode=mode, align_corners=align)
    helper_test_op([(2, 3, 8, 6)], lambda x: TF.interpolate(x, **kw), lambda x: F.interpolate(x, **kw),
                   device=device)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 8), {"mode": "linear", "scale_factor": 2.5}),
    ((2, 3, 8), {"mode": "linear", "size": 5, "align_corners": True}),
    ((2, 3, 8), {"mode": "nearest", "size": 13}),
    ((2, 3, 8), {"mode": "area", "size": 3}),
    ((1, 2, 3, 4, 5), {"mode": "trilinear", "size": (5, 6, 7)}),
    ((1, 2, 3, 4, 5), {"mode": "nearest", "scale_factor": 2}),
])
def test_interpolate_1d_3d_match_torch(shape, kw):
    helper_test_op([shape], lambda x: TF.interpolate(x, **kw), lambda x: F.interpolate(x, **kw))


def test_nearest_uses_pytorchs_float32_index_rule():
    # floor(dst * (in / out)) computed in float32, for many size pairs: the picks must be identical.
    for n_in in range(1, 24):
        x = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in)
        for n_out in range(1, 50):
            t = TF.interpolate(torch.tensor(x), size=n_out, mode="nearest").numpy()
            v = F.interpolate(vl.tensor(x), size=n_out, mode="nearest").numpy()
            np.testing.assert_array_equal(v, t, err_msg=f"nearest {n_in} -> {n_out}")
        for scale in (0.3, 1.5, 2.0, 2.7, 3.0):
            if int(n_in * scale) < 1:
                continue
            t = TF.interpolate(torch.tensor(x), scale_factor=scale).numpy()
            v = F.interpolate(vl.tensor(x), scale_factor=scale).numpy()
            np.testing.assert_array_equal(v, t, err_msg=f"nearest {n_in} x{scale}")


@pytest.mark.parametrize("n_in,n_out", [(8, 3), (8, 5), (8, 12), (8, 16), (7, 17), (10, 23), (224, 100)])
def test_nearest_exact_picks_match_torch(n_in, n_out):
    x = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in)
    t = TF.interpolate(torch.tensor(x), size=n_out, mode="nearest-exact").numpy()
    np.testing.assert_array_equal(F.interpolate(vl.tensor(x), size=n_out, mode="nearest-exact").numpy(), t)


def test_upsampling_backward_with_large_regular_scales():
    # Regular scales take the strided-slice scatter; irregular ones the gather/fancy-add fallback.
    for kw in ({"scale_factor": 4, "mode": "nearest"}, {"size": (37, 29), "mode": "bilinear"},
               {"scale_factor": 3, "mode": "bicubic", "align_corners": True}):
        helper_test_op([(1, 2, 9, 7)], lambda x, k=kw: TF.interpolate(x, **k),
                       lambda x, k=kw: F.interpolate(x, **k), grad_atol=1e-3)


@pytest.mark.parametrize("kw", [
    {"mode": "bilinear", "size": (5, 3)},
    {"mode": "bilinear", "scale_factor": 1.5, "align_corners": True},
    {"mode": "bicubic", "size": (4, 6)},
    {"mode": "nearest", "scale_factor": 2},
])
def test_interpolate_gradcheck(kw):
    gradcheck(lambda x: F.interpolate(x, **kw), [np.random.default_rng(0).standard_normal((1, 2, 3, 4))])


@pytest.mark.parametrize("call,err,pattern", [
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4)), ValueError, "exactly one of size or scale_factor"),
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4), size=2, scale_factor=2), ValueError, "exactly one"),
    (lambda: F.interpolate(vl.randn(1, 1, 4), size=2, mode="bilinear"), NotImplementedError, "needs 4D"),
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4), size=2, align_corners=True), ValueError, "align_corners"),
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4), size=2, mode="cubic"), NotImplementedError, "unknown mode"),
    (lambda: F.interpolate(vl.randn(4, 4), size=2), ValueError, "3-D, 4-D or 5-D"),
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4), size=(2, 2, 2)), ValueError, "size of length 2"),
    (lambda: F.interpolate(vl.randn(1, 1, 4, 4), scale_factor=0.1), ValueError, "empty output"),
])
def test_bad_arguments_raise_clear_errors(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


@pytest.mark.parametrize("make", [
    lambda m: m.Upsample(scale_factor=2),
    lambda m: m.Upsample(size=(5, 7), mode="bilinear"),
    lambda m: m.Upsample(scale_factor=(2, 1.5), mode="bicubic", align_corners=True),
    lambda m: m.UpsamplingNearest2d(scale_factor=3),
    lambda m: m.UpsamplingBilinear2d(size=(6, 9)),
])
def test_upsample_modules_match_torch(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notice for the Upsampling* classes
        tm = make(torch.nn)
        x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
        t = tm(torch.tensor(x))
    vm = make(nn)
    assert repr(vm) == repr(tm)
    np.testing.assert_allclose(vm(vl.tensor(x)).numpy(), t.numpy(), atol=1e-5)


def test_interpolate_threaded_matches_torch(monkeypatch):
    from visionlite.core.ops import _threads

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    monkeypatch.setenv("VISIONLITE_NUM_THREADS", "3")
    for kw in ({"scale_factor": 2, "mode": "bilinear"}, {"size": (5, 9), "mode": "bicubic"}):
        helper_test_op([(4, 2, 6, 5)], lambda x, k=kw: TF.interpolate(x, **k),
                       lambda x, k=kw: F.interpolate(x, **k))
