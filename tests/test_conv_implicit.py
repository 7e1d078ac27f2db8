"""Convolutions by per-tap GEMMs (core/ops/conv_implicit.py) and the direct BLAS call under them
(``_blas.gemm``): forward, input and weight gradients equal PyTorch's on every geometry the phase grid
handles (strides, dilations, asymmetric kernels, padding wider than the kernel's reach), on one and two
threads, and equal the column path they replace."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.conv_paths import assert_paths_agree, raw_conv
from tests.helpers.refs import require
from visionlite.core.ops import _blas, conv, conv_implicit, conv_winograd

pytestmark = pytest.mark.skipif(not _blas.has_gemm(np.float32), reason="numpy's BLAS is not OpenBLAS")


def _calls(monkeypatch):
    monkeypatch.setattr(conv_winograd, "ENABLED", False)  # stride-1 3x3 float32 would go there (tested apart)
    seen = []
    for name in ("forward", "input_grad", "weight_grad"):
        real = getattr(conv_implicit, name)
        monkeypatch.setattr(conv_implicit, name, lambda *a, _r=real, _n=name: seen.append(_n) or _r(*a))
    return seen


def helper_test_conv(monkeypatch, shape_x, shape_w, dtype, **kw):
    """conv2d forward and all three gradients against torch; returns which per-tap functions ran."""
    torch = require("torch")
    seen = _calls(monkeypatch)
    rng = np.random.default_rng(sum(shape_x) + sum(shape_w))
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal(shape_w).astype(dtype)
    b = rng.standard_normal(shape_w[0]).astype(dtype)
    ours = [vl.tensor(a, requires_grad=True) for a in (x, w, b)]
    refs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = vl.nn.functional.conv2d(*ours, **kw)
    yt = torch.nn.functional.conv2d(*refs, **kw)
    g = rng.standard_normal(yt.shape).astype(dtype)
    y.backward(vl.tensor(g))
    yt.backward(torch.tensor(g))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for got, want in [(y.detach().numpy(), yt.detach().numpy())] + [
            (a.grad.numpy(), r.grad.numpy()) for a, r in zip(ours, refs)]:
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    return seen


GEOMETRIES = [
    ((2, 16, 9, 11), (5, 16, 3, 3), dict(padding=1)),
    ((2, 17, 10, 7), (6, 17, 3, 3), dict(stride=2, padding=1)),
    ((1, 16, 12, 12), (4, 16, 5, 5), dict(padding=2, dilation=2)),
    ((3, 16, 8, 9), (3, 16, 3, 3), dict(stride=3, dilation=2)),  # a phase the smallest offset misses
    ((2, 20, 7, 7), (4, 20, 2, 2), dict(stride=2)),
    ((1, 16, 16, 5), (2, 16, 3, 1), dict(stride=(2, 1), padding=(1, 0))),
    ((2, 16, 15, 15), (8, 16, 5, 5), dict(stride=2, padding=3)),
    ((2, 16, 5, 5), (3, 16, 3, 3), dict()),
    ((2, 16, 4, 4), (2, 16, 3, 3), dict(padding=4)),  # padding wider than the kernel reaches
    ((16, 32, 28, 28), (24, 32, 3, 3), dict(padding=1)),  # several column chunks per thread
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape_x,shape_w,kw", GEOMETRIES)
def test_conv2d_matches_torch(monkeypatch, threads, shape_x, shape_w, kw, dtype):
    seen = helper_test_conv(monkeypatch, shape_x, shape_w, dtype, **kw)
    assert {"forward", "input_grad", "weight_grad"} <= set(seen)


def test_float64_gradients_against_finite_differences():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 16, 5, 4)), rng.standard_normal((2, 16, 3, 3))
    xv, wv = vl.tensor(x, requires_grad=True), vl.tensor(w, requires_grad=True)
    y = vl.nn.functional.conv2d(xv, wv, stride=2, padding=1)
    g = rng.standard_normal(y.shape)
    y.backward(vl.tensor(g))

    def loss(xa, wa):
        out = vl.nn.functional.conv2d(vl.tensor(xa), vl.tensor(wa), stride=2, padding=1)
        return float((out.numpy() * g).sum())

    for which, base, grad in ((0, x, xv.grad), (1, w, wv.grad)):
        num = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            d = np.zeros_like(base)
            d[idx] = 1e-6
            plus = (x + d, w) if which == 0 else (x, w + d)
            minus = (x - d, w) if which == 0 else (x, w - d)
            num[idx] = (loss(*plus) - loss(*minus)) / 2e-6
        np.testing.assert_allclose(grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_same_as_the_column_path(monkeypatch, threads):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 16, 13, 10)).astype(np.float32)
    w = rng.standard_normal((7, 16, 3, 3)).astype(np.float32)
    geom = conv.ConvGeometry(3, 16, (13, 10), w.shape, 1, (2, 1), (1, 1, 2, 0), (1, 2))
    g = rng.standard_normal((3, 7) + geom.out_hw).astype(np.float32)
    fast = raw_conv(x, w, g, geom, geom.split(x))
    monkeypatch.setattr(conv_implicit, "usable", lambda *a: False)
    assert_paths_agree(fast, raw_conv(x, w, g, geom, geom.split(x)))


def test_not_used_where_it_does_not_apply(monkeypatch):
    seen = _calls(monkeypatch)
    x = vl.tensor(np.ones((1, 4, 6, 6), np.float32))
    vl.nn.functional.conv2d(x, vl.ones(4, 2, 3, 3), groups=2, padding=1)  # grouped: column path
    vl.nn.functional.conv2d(x, vl.ones(4, 1, 3, 3), groups=4, padding=1)  # depthwise
    vl.nn.functional.conv2d(x.half(), vl.ones(4, 4, 3, 3).half(), padding=1)  # no half-precision BLAS
    vl.nn.functional.conv2d(x, vl.ones(4, 4, 1, 1))  # 1x1: one GEMM already
    vl.nn.functional.conv2d(x, vl.ones(4, 4, 3, 3))  # few channels: one deep GEMM on columns wins
    assert seen == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_gemm_on_strided_views(dtype):
    rng = np.random.default_rng(1)
    big = rng.standard_normal((40, 90)).astype(dtype)
    a = big[3:13, 5:25]  # row-major window
    b = big[:30, 50:90].T[:20, :7]  # column-major window
    out = np.ones((30, 20), dtype)[4:14, 2:9]  # row-major window of a bigger array
    keep = out.copy()
    _blas.gemm(a, b, out, beta=0.5)
    np.testing.assert_allclose(out, a @ b + 0.5 * keep, rtol=1e-5 if dtype == np.float32 else 1e-12)
    _blas.gemm(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)
    with pytest.raises(ValueError, match="row- or column-major"):
        _blas.gemm(big[::2, ::2][:10, :20], b, out)
    assert not _blas.has_gemm(np.float16) and not _blas.has_gemm(np.int64)


def test_exact_columns_kept_for_small_grids():
    # batch 1 at 14x14 (30% border columns): exact columns; batch 16 at 28x28 (15%): per-tap grid
    assert conv.ConvGeometry(1, 256, (14, 14), (256, 256, 3, 3), 1, (1, 1), (1, 1, 1, 1), (1, 1)).exact
    assert not conv.ConvGeometry(16, 128, (28, 28), (128, 128, 3, 3), 1, (1, 1), (1, 1, 1, 1), (1, 1)).exact
    assert conv.ConvGeometry(16, 512, (7, 7), (512, 512, 3, 3), 1, (1, 1), (1, 1, 1, 1), (1, 1)).exact
