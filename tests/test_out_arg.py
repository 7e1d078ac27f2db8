"""The out= keyword on the common functions, against PyTorch: values written into out and out returned,
dtype casting, resizing with PyTorch's warning, and the autograd and cast errors."""
import warnings

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")
A = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
B = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
SQ = np.random.default_rng(2).normal(size=(4, 4)).astype(np.float32)

CALLS = {
    "add": lambda L, o: L.add(L.tensor(A), L.tensor(B), alpha=2, out=o),
    "sub": lambda L, o: L.sub(L.tensor(A), L.tensor(B), out=o),
    "mul": lambda L, o: L.mul(L.tensor(A), 3, out=o),
    "div": lambda L, o: L.div(L.tensor(A), L.tensor(B), out=o),
    "matmul": lambda L, o: L.matmul(L.tensor(A), L.tensor(SQ), out=o),
    "mm": lambda L, o: L.mm(L.tensor(A), L.tensor(SQ), out=o),
    "cat": lambda L, o: L.cat([L.tensor(A), L.tensor(B)], 1, out=o),
    "stack": lambda L, o: L.stack([L.tensor(A), L.tensor(B)], out=o),
    "sum": lambda L, o: L.sum(L.tensor(A), 1, out=o),
    "mean": lambda L, o: L.mean(L.tensor(A), 0, keepdim=True, out=o),
    "clamp": lambda L, o: L.clamp(L.tensor(A), -0.5, 0.5, out=o),
    "exp": lambda L, o: L.exp(L.tensor(A), out=o),
    "maximum": lambda L, o: L.maximum(L.tensor(A), L.tensor(B), out=o),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
def test_out_written_and_returned(name, out_dtype):
    if out_dtype == "float64" and name in ("matmul", "mm", "clamp"):
        msgs = []
        for L in (torch, vl):  # these refuse to cast, in PyTorch's words
            with pytest.raises(RuntimeError) as err:
                CALLS[name](L, L.empty(0, dtype=L.float64))
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]
        return
    ref_out = torch.empty(0, dtype=getattr(torch, out_dtype))
    ours_out = vl.empty(0, dtype=getattr(vl, out_dtype))
    ref = CALLS[name](torch, ref_out)
    ours = CALLS[name](vl, ours_out)
    assert ours is ours_out and ref is ref_out
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)


def test_same_shape_written_in_place_and_resize_warning():
    out = vl.zeros(3, 4)
    view = out[0]
    vl.add(vl.tensor(A), 1.0, out=out)
    np.testing.assert_allclose(view.numpy(), A[0] + 1)  # same storage: views see the result
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        vl.add(vl.ones(2), vl.ones(2), out=vl.zeros(3))
    with warnings.catch_warnings(record=True) as ref:
        warnings.simplefilter("always")
        torch.add(torch.ones(2), torch.ones(2), out=torch.zeros(3))
    assert str(ours[0].message) == str(ref[0].message).split(" (Triggered internally")[0]


def test_errors_as_torch():
    for L in (torch, vl):
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            L.add(L.ones(2, requires_grad=True), 1.0, out=L.empty(2))
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type"):
            L.add(L.ones(2), L.ones(2), out=L.empty(2, dtype=L.int64))
    with vl.no_grad():
        assert vl.add(vl.ones(2, requires_grad=True), 1.0, out=vl.empty(2)).tolist() == [2.0, 2.0]
