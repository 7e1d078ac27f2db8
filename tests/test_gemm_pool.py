"""Large GEMMs split across the op pool (core/ops/_gemm_pool.py): same numbers as one numpy.matmul, the
BLAS thread setting restored, and convolutions/linear layers through it agreeing with PyTorch."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.ops import _blas, _gemm_pool, _threads, conv_implicit, conv_winograd


@pytest.fixture
def two_threads():
    before = vl.get_num_threads()
    vl.set_num_threads(2)
    yield
    vl.set_num_threads(before)


def _split_happens(monkeypatch):
    """Count the blocks handed to the pool, to prove a case really takes the split path."""
    calls = []
    real = _gemm_pool._split

    def spy(part, extent, k):
        calls.append((extent, k))
        return real(part, extent, k)

    monkeypatch.setattr(_gemm_pool, "_split", spy)
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [
    ((64, 300), (300, 4096)),  # split by columns
    ((2048, 300), (300, 96)),  # split by rows (fewer columns than rows)
    ((3, 64, 200), (3, 200, 1000)),  # batched
    ((2, 64, 200), (5, 2, 200, 700)),  # broadcast batch dims, as 1x1 convolutions use it
])
def test_matches_numpy(two_threads, monkeypatch, shapes, dtype):
    calls = _split_happens(monkeypatch)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    got = _gemm_pool.matmul(a, b)
    assert calls and calls[0][1] == 2
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


def test_into_a_strided_out_view(two_threads, monkeypatch):
    calls = _split_happens(monkeypatch)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, 64, 128)).astype(np.float32)
    b = rng.standard_normal((1, 256, 8000)).astype(np.float32)[:, ::2, 1000:7000]  # strided operand
    out = np.full((1, 64, 9000), 7.0, np.float32)
    res = _gemm_pool.matmul(a, b, out[:, :, 1000:7000])
    assert calls
    np.testing.assert_allclose(out[:, :, 1000:7000], a @ b, rtol=1e-5, atol=1e-4)
    assert (out[:, :, :1000] == 7).all() and (out[:, :, 7000:] == 7).all()  # nothing written outside
    assert res.base is out


def test_blas_threads_restored_and_small_or_single_thread_plain(two_threads, monkeypatch):
    calls = _split_happens(monkeypatch)
    before = _blas.get_blas_threads()
    a, b = np.ones((64, 256), np.float32), np.ones((256, 4096), np.float32)
    _gemm_pool.matmul(a, b)
    assert _blas.get_blas_threads() == before
    _gemm_pool.matmul(a[:8, :8], b[:8, :8])  # too small to split
    ints = _gemm_pool.matmul(np.ones((64, 256), np.int64), np.ones((256, 4096), np.int64))  # not BLAS
    assert ints.dtype == np.int64 and ints[0, 0] == 256
    assert len(calls) == 1
    vl.set_num_threads(1)
    _gemm_pool.matmul(a, b)
    assert len(calls) == 1


def test_inside_a_pool_thread_runs_plain(two_threads, monkeypatch):
    calls = _split_happens(monkeypatch)
    a, b = np.ones((64, 256), np.float32), np.ones((256, 4096), np.float32)
    outs = _threads.split_map(lambda s, e: _gemm_pool.matmul(a, b), 2, 1 << 20)
    assert all((o == 256).all() for o in outs) and not calls


def test_conv_and_linear_through_the_split_match_torch(two_threads, monkeypatch):
    torch = require("torch")
    calls = _split_happens(monkeypatch)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 32, 24, 24)).astype(np.float32)
    w = rng.standard_normal((48, 32, 3, 3)).astype(np.float32) * 0.1
    xv, wv = vl.tensor(x, requires_grad=True), vl.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    # 3x3 convolutions run Winograd or per-tap GEMMs (conv_implicit) unless BLAS is out of reach: this
    # test is about the column path's split
    monkeypatch.setattr(conv_implicit, "usable", lambda *args: False)
    monkeypatch.setattr(conv_winograd, "ENABLED", False)
    yv, yt = vl.nn.functional.conv2d(xv, wv, padding=1), torch.nn.functional.conv2d(xt, wt, padding=1)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yv.backward(vl.tensor(g))
    yt.backward(torch.tensor(g))
    assert calls  # forward, input and weight gradients took the split
    np.testing.assert_allclose(yv.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wv.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=2e-3)
    a = rng.standard_normal((512, 256)).astype(np.float32)
    lw = rng.standard_normal((300, 256)).astype(np.float32)
    np.testing.assert_allclose(vl.nn.functional.linear(vl.tensor(a), vl.tensor(lw)).numpy(),
                               torch.nn.functional.linear(torch.tensor(a), torch.tensor(lw)).numpy(),
                               rtol=1e-4, atol=1e-3)
