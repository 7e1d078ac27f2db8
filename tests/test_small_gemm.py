"""Products cut for OpenBLAS's small-matrix kernels (core/ops/_blas.small_gemm_step, used by
_gemm_pool.matmul_here): where the cut applies, pieces under the kernel's 100**3 multiply-adds; the
pieces' results equal one numpy.matmul, for column and row cuts, batched operands and strided outputs;
transposed operands are never cut."""

import numpy as np
import pytest

from visionlite.core.ops import _blas, _gemm_pool


@pytest.fixture
def small_kernels(monkeypatch):
    """As on a SkylakeX-family OpenBLAS (the cut's rules apply whatever the machine's kernels)."""
    monkeypatch.setattr(_blas, "_small", [True])


@pytest.mark.parametrize("m,n,k,along,expected", [
    (6, 20976, 25, "n", True),  # LeNet's first layer: pieces of ~6.6k columns
    (16, 3360, 150, "n", True),
    (64, 3568, 147, "n", False),  # pieces would be under 192 columns: one call
    (6, 100, 25, "n", False),  # small already
    (2048, 96, 30, "m", True),
])
def test_step_rules(small_kernels, m, n, k, along, expected):
    step = _blas.small_gemm_step(m, n, k, np.dtype(np.float32), along)
    assert bool(step) is expected
    if step:
        extent = m if along == "m" else n
        assert step % 16 == 0 and step >= _blas._MIN_SMALL_STEP
        assert m * n * k // extent * step <= _blas._SMALL_MACS  # every piece within the kernel's limit
        assert step < extent


def test_no_cut_where_the_kernel_is_absent_or_for_float64(monkeypatch):
    f32 = np.dtype(np.float32)
    monkeypatch.setattr(_blas, "_small", [False])
    assert _blas.small_gemm_step(6, 20976, 25, f32, "n") == 0
    monkeypatch.setattr(_blas, "_small", [True])
    assert _blas.small_gemm_step(6, 20976, 25, np.dtype(np.float64), "n") == 0  # float32 only


@pytest.mark.parametrize("a_shape,b_shape,a_t", [
    ((6, 25), (25, 20976), False),  # cut along columns
    ((3000, 40), (40, 100), False),  # cut along rows
    ((2, 8, 30), (2, 30, 9000), False),  # batched (grouped convolutions)
    ((150, 16), (16, 3496), True),  # a transposed first operand (an input gradient's W^T): one call
])
def test_matmul_here_equals_one_product(small_kernels, monkeypatch, a_shape, b_shape, a_t):
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape[::-1] if a_t else a_shape).astype(np.float32)
    a = a.T if a_t else a
    b = rng.standard_normal(b_shape).astype(np.float32)
    out = np.full(a_shape[:-2] + (a_shape[-2], b_shape[-1] + 5), 7.0, np.float32)[..., 2:-3]  # strided
    _gemm_pool.matmul_here(a, b, out)
    assert (len(calls) == 1) is a_t  # plain operands really cut, a transposed one not
    np.testing.assert_allclose(out, real(a, b), rtol=1e-5, atol=1e-4)
    full = out.base if out.base is not None else out
    assert (full[..., :2] == 7).all() and (full[..., -3:] == 7).all()


def test_accumulate_here_adds_in_place():
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((25, 20480)).astype(np.float32)
    g = rng.standard_normal((6, 20480)).astype(np.float32)
    acc = rng.standard_normal((25, 6)).astype(np.float32)
    want = acc + cols.astype(np.float64) @ g.T.astype(np.float64)
    before = acc.ctypes.data
    _gemm_pool.accumulate_here(cols, g.T, acc)
    assert acc.ctypes.data == before
    np.testing.assert_allclose(acc, want, rtol=1e-4, atol=1e-3)


def test_plain_matmul_allocates_for_a_cut_product(small_kernels, monkeypatch):
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((6, 25)).astype(np.float32), rng.standard_normal((25, 9000)).astype(np.float32)
    got = _gemm_pool.matmul(a, b)  # below the thread split: the plain call allocates, then cuts
    assert len(calls) > 1
    np.testing.assert_allclose(got, real(a, b), rtol=1e-5, atol=1e-4)
