"""Compare visionlite ops with PyTorch (forward and backward) and with float64 finite differences.

``helper_test_op(shapes, torch_fn, vl_fn)`` feeds the same seeded inputs to both libraries and compares
the outputs and the gradients of ``out.sum()`` (weighted, so every output element matters).
``gradcheck(fn, inputs)`` checks visionlite's analytic gradients against central differences in float64,
so the suite means something without torch.
"""

import numpy as np

import visionlite as vl
from tests.helpers.refs import require

# The device the helpers run on when a test does not name one (set by the test module's device fixture).
current = {"device": "cpu"}


def _torch():
    return require("torch")


def make_inputs(shapes, low=-2.0, high=2.0, seed=0, dtype=np.float32, forward_only=False):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(low, high, size=s).astype(dtype) if not isinstance(s, np.ndarray) else s for s in shapes
    ]


def to_vl(arrays, requires_grad=True, device="cpu"):
    out = []
    for a in arrays:
        t = vl.tensor(a, device=device)
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        out.append(t)
    return out


def to_torch(arrays, requires_grad=True):
    torch = _torch()
    out = []
    for a in arrays:
        t = torch.tensor(a)
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        out.append(t)
    return out


def _as_numpy(x):
    if hasattr(x, "detach") and hasattr(x, "cpu") and not isinstance(x, vl.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, vl.Tensor):
        return np.asarray(x.detach().cpu().__array__())
    return np.asarray(x)


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def helper_test_op(
    shapes,
    torch_fn,
    vl_fn=None,
    atol=1e-5,
    rtol=1e-4,
    grad_atol=1e-4,
    grad_rtol=1e-3,
    low=-2.0,
    high=2.0,
    forward_only=False,
    inputs=None,
    device=None,
    dtype=np.float32,
):
    """Forward + backward of ``vl_fn`` against ``torch_fn`` (same function body usually: pass one)."""
    torch = _torch()
    device = device or current["device"]
    vl_fn = vl_fn or torch_fn
    arrays = inputs if inputs is not None else make_inputs(shapes, low, high, dtype=dtype)
    tt = to_torch(arrays, requires_grad=not forward_only)
    vt = to_vl(arrays, requires_grad=not forward_only, device=device)
    t_out = _first(torch_fn(*tt))
    v_out = _first(vl_fn(*vt))
    assert tuple(v_out.shape) == tuple(t_out.shape), (
        f"shape {tuple(v_out.shape)} != torch {tuple(t_out.shape)}"
    )
    assert str(v_out.dtype).split(".")[-1] == str(t_out.dtype).split(".")[-1], (
        f"dtype {v_out.dtype} != torch {t_out.dtype}"
    )
    np.testing.assert_allclose(_as_numpy(v_out), _as_numpy(t_out), atol=atol, rtol=rtol, err_msg="forward")
    if forward_only or not t_out.requires_grad:
        return v_out
    weights = (
        np.random.default_rng(1)
        .uniform(0.5, 1.5, size=tuple(t_out.shape))
        .astype(arrays[0].dtype if arrays else np.float32)
    )
    (t_out * torch.tensor(weights, dtype=t_out.dtype)).sum().backward()
    (v_out * vl.tensor(weights, dtype=v_out.dtype, device=device)).sum().backward()
    for i, (a, b) in enumerate(zip(vt, tt)):
        if b.grad is None:
            assert a.grad is None or np.allclose(_as_numpy(a.grad), 0), f"input {i}: torch has no grad"
            continue
        assert a.grad is not None, f"input {i}: visionlite produced no gradient"
        np.testing.assert_allclose(
            _as_numpy(a.grad), _as_numpy(b.grad), atol=grad_atol, rtol=grad_rtol, err_msg=f"grad of input {i}"
        )
    return v_out


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Central-difference check of d(sum(w * fn(*inputs)))/d(input) in float64 for every float input."""
    device = current["device"]
    inputs = [
        vl.tensor(
            np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x),
            device=device,
        )
        for x in inputs
    ]
    for t in inputs:
        if t.is_floating_point():
            t.requires_grad_(True)
    out = _first(fn(*inputs))
    w = vl.tensor(np.random.default_rng(seed).uniform(0.5, 1.5, size=tuple(out.shape)), device=device)
    (out * w).sum().backward()
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        base = t.detach().cpu().numpy().copy()
        numeric = np.zeros_like(base)
        flat = numeric.reshape(-1)
        for j in range(base.size):
            plus, minus = base.copy().reshape(-1), base.copy().reshape(-1)
            plus[j] += eps
            minus[j] -= eps
            args_p = [
                vl.tensor(plus.reshape(base.shape), device=device) if k == i else x.detach()
                for k, x in enumerate(inputs)
            ]
            args_m = [
                vl.tensor(minus.reshape(base.shape), device=device) if k == i else x.detach()
                for k, x in enumerate(inputs)
            ]
            with vl.no_grad():
                fp = float((_first(fn(*args_p)) * w).sum().item())
                fm = float((_first(fn(*args_m)) * w).sum().item())
            flat[j] = (fp - fm) / (2 * eps)
        analytic = np.zeros_like(base) if t.grad is None else t.grad.cpu().numpy()
        np.testing.assert_allclose(analytic, numeric, atol=atol, rtol=rtol, err_msg=f"gradcheck input {i}")
