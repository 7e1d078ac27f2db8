"""PyTorch's other spellings and small composites (ops.compat) against PyTorch: values, dtypes and the
gradients of a weighted sum, float64 gradchecks for the differentiable ones, and the Tensor methods."""
import math

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")
IDX = np.array([3, 0, 2, 2, 5, 0], dtype=np.int64)

# name -> (shapes, fn(lib, *inputs), differentiable); the same body runs on torch and visionlite
CASES = {
    "multiply": ([(3, 4), (4,)], lambda L, a, b: L.multiply(a, b), True),
    "subtract": ([(3, 4), (3, 4)], lambda L, a, b: L.subtract(a, b, alpha=2), True),
    "divide_floor": ([(3, 4)], lambda L, a: L.divide(a, 0.7, rounding_mode="floor"), False),
    "moveaxis": ([(2, 3, 4)], lambda L, a: L.moveaxis(a, 0, -1), True),
    "swapdims": ([(2, 3, 4)], lambda L, a: L.swapdims(a, 0, 2), True),
    "ravel": ([(2, 3)], lambda L, a: L.ravel(a.mT), True),
    "select": ([(2, 3, 4)], lambda L, a: L.select(a, 1, -1), True),
    "repeat_interleave": ([(2, 3)], lambda L, a: L.repeat_interleave(a, 2), True),
    "repeat_interleave_dim": ([(2, 3)], lambda L, a: L.repeat_interleave(a, L.tensor([1, 0, 3]), dim=1),
                              True),
    "tensor_split_sections": ([(7, 2)], lambda L, a: L.tensor_split(a, 3)[0] * 2
                              + L.tensor_split(a, 3)[2].sum(), True),
    "tensor_split_indices": ([(2, 7)], lambda L, a: L.cat(L.tensor_split(a, [1, 5], dim=1)[::-1], 1), True),
    "hsplit": ([(2, 6)], lambda L, a: L.hsplit(a, 3)[1], True),
    "vsplit": ([(4, 3)], lambda L, a: L.vsplit(a, [1])[1], True),
    "dsplit": ([(2, 2, 4)], lambda L, a: L.dsplit(a, 2)[1], True),
    "dstack": ([(3,), (3,)], lambda L, a, b: L.dstack([a, b]), True),
    "column_stack": ([(3,), (3, 2)], lambda L, a, b: L.column_stack([a, b]), True),
    "row_stack": ([(3,), (2, 3)], lambda L, a, b: L.row_stack([a, b]), True),
    "atleast_3d": ([(3,)], lambda L, a: L.atleast_3d(a), True),
    "atleast_2d_many": ([(), (3,)], lambda L, a, b: L.atleast_2d(a, b)[1] * L.atleast_2d(a, b)[0], True),
    "nansum": ([(3, 4)], lambda L, a: L.nansum(L.where(a > 1, a * float("nan"), a), 1), False),
    "nanmean": ([(3, 4)], lambda L, a: L.nanmean(L.where(a > 1, a * float("nan"), a)), False),
    "aminmax": ([(3, 4)], lambda L, a: L.stack(list(L.aminmax(a, dim=1))), False),
    "msort": ([(4, 3)], lambda L, a: L.msort(a), True),
    "cross": ([(4, 3), (4, 3)], lambda L, a, b: L.cross(a, b, dim=1), True),
    "linalg_cross_dim0": ([(3, 2), (3, 2)], lambda L, a, b: L.cross(a, b, dim=0), True),
    "dist": ([(3, 4), (3, 4)], lambda L, a, b: L.dist(a, b, 3), True),
    "logit": ([(3, 4)], lambda L, a: L.logit(a.sigmoid() * 0.9 + 0.05), True),
    "logit_eps": ([(3, 4)], lambda L, a: L.logit(a.sigmoid(), eps=0.2), True),
    "erfc": ([(3, 4)], lambda L, a: L.erfc(a), True),
    "sinc": ([(3, 4)], lambda L, a: L.sinc(a), True),
    "xlogy": ([(3, 4), (3, 4)], lambda L, a, b: L.xlogy(L.where(a > 0.5, 0.0, a), b.abs() + 0.1), True),
    "float_power": ([(3, 4)], lambda L, a: L.float_power(a.abs() + 0.1, 2.5), True),
    "fmax": ([(3, 4), (3, 4)], lambda L, a, b: L.fmax(L.where(a > 1, a * float("nan"), a), b), False),
    "fmin": ([(3, 4), (3, 4)], lambda L, a, b: L.fmin(a, L.where(b > 1, b * float("nan"), b)), False),
    "copysign": ([(3, 4), (3, 4)], lambda L, a, b: L.copysign(a, b.detach()), True),
    "matrix_power": ([(2, 3, 3)], lambda L, a: (L.matrix_power if L is vl else L.linalg.matrix_power)(a, 5),
                     True),
    "matrix_power_neg": ([(3, 3)], lambda L, a: (a + 3 * L.eye(3)).matrix_power(-2), True),
    "cov": ([(3, 6)], lambda L, a: L.cov(a), True),
    "cov_correction": ([(6,)], lambda L, a: L.cov(a, correction=0), True),
    "corrcoef": ([(3, 6)], lambda L, a: L.corrcoef(a), True),
    "block_diag": ([(2, 2), (3,), ()], lambda L, a, b, c: L.block_diag(a, b, c), True),
    "inner": ([(2, 3), (4, 3)], lambda L, a, b: L.inner(a, b), True),
    "vdot": ([(5,), (5,)], lambda L, a, b: L.vdot(a, b), True),
    "addmv": ([(3,), (3, 4), (4,)], lambda L, c, m, v: L.addmv(c, m, v, beta=0.5, alpha=2), True),
    "addr": ([(3, 4), (3,), (4,)], lambda L, c, a, b: L.addr(c, a, b, alpha=3), True),
    "greater_equal": ([(3, 4)], lambda L, a: L.greater_equal(a, 0.2), False),
    "not_equal": ([(3, 4), (3, 4)], lambda L, a, b: L.not_equal(a, b), False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    shapes, fn, differentiable = CASES[name]
    helper_test_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(vl, *xs),
                   forward_only=not differentiable)
    if differentiable:
        gen = np.random.default_rng(5)
        gradcheck(lambda *xs: fn(vl, *xs), [gen.uniform(-1, 1, s) for s in shapes])


@pytest.mark.parametrize("call", [
    lambda L: L.bincount(L.tensor(IDX)),
    lambda L: L.bincount(L.tensor(IDX), minlength=9),
    lambda L: L.bincount(L.tensor(IDX), weights=L.tensor(np.linspace(0, 1, 6).astype(np.float32))),
    lambda L: L.isin(L.tensor(IDX), L.tensor([0, 5])),
    lambda L: L.isin(L.tensor(IDX), L.tensor([0, 5]), invert=True),
    lambda L: L.stack(L.unravel_index(L.tensor([7, 0, 11]), (3, 4))),
    lambda L: L.tril_indices(4, 3, -1),
    lambda L: L.triu_indices(3, 5, 1),
    lambda L: L.repeat_interleave(L.tensor([2, 0, 3])),
    lambda L: L.signbit(L.tensor([-0.0, 0.0, -2.0, 3.0])),
    lambda L: L.tensor([1.0, 2.0]).repeat_interleave(3),
])
def test_index_valued(call):
    ours, ref = call(vl), call(torch)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_constants_and_methods():
    assert (vl.pi, vl.e, vl.inf) == (torch.pi, torch.e, torch.inf)
    assert math.isnan(vl.nan) and vl.newaxis is None
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    for name, args in [("ravel", ()), ("moveaxis", (0, 1)), ("nansum", ()), ("logit", ()), ("erfc", ()),
                       ("cov", ()), ("tensor_split", (3, 1)), ("msort", ()), ("aminmax", ())]:
        ours, ref = getattr(vl.tensor(x), name)(*args), getattr(torch.tensor(x), name)(*args)
        ours = ours if isinstance(ours, tuple) else (ours,)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    with pytest.raises(RuntimeError, match="not divisible by the split_size"):
        vl.hsplit(vl.ones(2, 5), 2)


def test_cross_negative_dim():
    helper_test_op([(2, 3, 4), (2, 3, 4)], lambda a, b: torch.cross(a, b, dim=-2),
                   lambda a, b: vl.cross(a, b, dim=-2))


@pytest.mark.parametrize("name,shapes,fn", [
    ("clamp_min", [(3, 4)], lambda L, a: L.clamp_min(a, 0.1) + a.clamp_max(0.2)),
    ("diagflat", [(2, 2)], lambda L, a: L.diagflat(a, 1) + 0),
    ("logcumsumexp", [(3, 4)], lambda L, a: L.logcumsumexp(a * 30, 1) + a.logcumsumexp(0)),
    ("detach", [(3,)], lambda L, a: L.detach(a) * a),
])
def test_more_against_torch(name, shapes, fn):
    helper_test_op(shapes, lambda *xs: fn(torch, *xs), lambda *xs: fn(vl, *xs))
    if name != "detach":  # detach cuts the gradient on purpose: a finite difference sees through it
        gradcheck(lambda *xs: fn(vl, *xs), [np.random.default_rng(2).uniform(-1, 1, s) for s in shapes])


def test_windows_and_broadcast_shapes():
    for n, periodic in [(0, True), (1, True), (5, True), (6, False)]:
        np.testing.assert_allclose(vl.hann_window(n, periodic).numpy(),
                                   torch.hann_window(n, periodic).numpy(), atol=1e-6)
        np.testing.assert_allclose(vl.hamming_window(n, periodic).numpy(),
                                   torch.hamming_window(n, periodic).numpy(), atol=1e-6)
    assert tuple(vl.broadcast_shapes((2, 1), (3,), 1)) == tuple(torch.broadcast_shapes((2, 1), (3,), 1))
    with pytest.raises(RuntimeError, match="Shape mismatch"):
        vl.broadcast_shapes((2,), (3,))
