"""Sigmoid, SiLU, exact GELU, hardswish and hardsigmoid as short chains of in-place numpy passes
(core/ops/activation_kernels.py): values and first-order gradients equal PyTorch's on ordinary, extreme
and special inputs (overflowing exp, +-inf, NaN), in float32 and float64, on one and two threads with
arrays split across them; the Tensor ops take the kernels exactly where they apply."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.conv_paths import count_calls
from tests.helpers.refs import require
from visionlite.core.ops import activation_kernels as ak

torch = require("torch")
TF = torch.nn.functional
SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 5, -5, 10, -10, 20, -20, 50, -50, 88, -88, 89, -89, 100, -100,
           1e30, -1e30, np.inf, -np.inf, np.nan]

# name: (kernel, PyTorch function, Tensor-level function)
FORWARD = {
    "sigmoid": (ak.sigmoid, torch.sigmoid, vl.sigmoid),
    "silu": (ak.silu, TF.silu, vl.nn.functional.silu),
    "gelu": (ak.gelu, TF.gelu, vl.nn.functional.gelu),
    "hardswish": (ak.hardswish, TF.hardswish, vl.nn.functional.hardswish),
    "hardsigmoid": (ak.hardsigmoid, TF.hardsigmoid, vl.nn.functional.hardsigmoid),
}


def _inputs(n, dtype, scale=4.0):
    """``n`` normal values times ``scale`` with the special values at the end."""
    x = np.random.default_rng(n).standard_normal(n - len(SPECIAL)) * scale
    return np.concatenate([x, SPECIAL]).astype(dtype)


def helper_test_kernel(name, n, dtype):
    kernel, ref, _ = FORWARD[name]
    x = _inputs(n, dtype)
    got, want = kernel(x), ref(torch.tensor(x)).numpy()
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)
    assert got.dtype == x.dtype and got.shape == x.shape


@pytest.mark.parametrize("name,dtype", [(n, d) for n in FORWARD for d in (np.float32, np.float64)
                                        if (n, d) != ("gelu", np.float64)])  # float64 GELU: the exact series
def test_kernel_matches_torch(name, dtype):
    helper_test_kernel(name, 5000, dtype)


@pytest.mark.parametrize("name", FORWARD)
def test_kernel_split_across_threads(name, threads, monkeypatch):
    # shares of 3000 values, processed in steps of 1000: shares and steps both end mid-array
    monkeypatch.setattr(ak, "_SPLIT_ELEMS", 3000)
    monkeypatch.setattr(ak, "_CHUNK", 1000)
    helper_test_kernel(name, 6001, np.float32)


@pytest.mark.parametrize("name,grad,ref", [("silu", ak.silu_grad, TF.silu), ("gelu", ak.gelu_grad, TF.gelu)])
def test_gradient_kernels_match_torch(name, grad, ref, threads, monkeypatch):
    monkeypatch.setattr(ak, "_SPLIT_ELEMS", 3000)
    x = _inputs(6001, np.float32)[: -len(SPECIAL)]  # finite inputs: PyTorch's gradient formula at inf is NaN
    g = np.random.default_rng(1).standard_normal(x.size).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(grad(g, x), xt.grad.numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", FORWARD)
def test_tensor_ops_take_the_kernels(name, monkeypatch):
    _, ref, op = FORWARD[name]
    calls = count_calls(monkeypatch, ak, (name,))
    x = _inputs(4096, np.float32).reshape(4, 32, 32)
    np.testing.assert_allclose(op(vl.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=2e-6, atol=2e-6,
                               equal_nan=True)
    assert calls == [name]


@pytest.mark.parametrize("name,op,ref", [("silu_grad", vl.nn.functional.silu, TF.silu),
                                         ("gelu_grad", vl.nn.functional.gelu, TF.gelu)])
def test_backward_takes_the_gradient_kernel(name, op, ref, monkeypatch):
    calls = count_calls(monkeypatch, ak, (name,))
    x = np.random.default_rng(3).standard_normal((8, 512)).astype(np.float32)
    ours, theirs = vl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    op(ours).square().sum().backward()
    ref(theirs).square().sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert calls == [name]


def test_second_order_keeps_the_recorded_formula(monkeypatch):
    # create_graph: the gradient must itself be differentiable, so the raw kernels are not used
    calls = count_calls(monkeypatch, ak, ("silu_grad", "gelu_grad"))
    x = np.random.default_rng(4).standard_normal(2048)
    for op, ref in ((vl.nn.functional.silu, TF.silu), (vl.nn.functional.gelu, TF.gelu)):
        ours, theirs = vl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        for a, f, lib in ((ours, op, vl), (theirs, ref, torch)):
            (gx,) = lib.autograd.grad(f(a).sum(), a, create_graph=True)
            gx.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert calls == []


@pytest.mark.parametrize("array,expected", [
    (np.zeros(4096, np.float32), True),
    (np.zeros(4096, np.float64), True),
    (np.zeros(100, np.float32), False),  # small: the plain expression
    (np.zeros((64, 128), np.float32)[:, ::2], False),  # not contiguous
    (np.zeros(4096, np.float16), False),
    (np.zeros(4096, np.int32), False),
])
def test_usable(array, expected):
    assert ak.usable(array) is expected


def test_gelu_kernel_is_float32_only():
    assert ak.gelu_usable(np.zeros(4096, np.float32)) and not ak.gelu_usable(np.zeros(4096, np.float64))
