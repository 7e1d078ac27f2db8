"""In-place array steps shared by the optimizers: they work on raw numpy/cupy arrays and keep the
parameter's dtype by passing Python floats (a numpy float64 scalar would promote float32 arithmetic).

The arithmetic order follows PyTorch's single-tensor kernels so trajectories agree to rounding.
"""
import numpy as np

from ..backend import array_module
from ..dtypes import float64, get_default_dtype
from ..tensor import Tensor


def check_differentiable(differentiable):
    if differentiable:
        raise NotImplementedError("differentiable=True (gradients through the optimizer step) is not "
                                  "supported by visionlite optimizers; leave it False")


def as_float(x):
    """A Python float from a number or a one-element Tensor (``lr`` may be a Tensor, as in PyTorch).

    Python floats keep numpy's arithmetic in the parameter's dtype; a numpy float64 scalar would not."""
    return float(x.item()) if isinstance(x, Tensor) else float(x)


def check_number(name, value, low=0.0):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element")
        value = value.item()
    if not low <= value:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas):
    """PyTorch's check of a ``(beta1, beta2)`` pair: each in [0, 1)."""
    for i, beta in enumerate(betas):
        if not 0.0 <= as_float(beta) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def default_float(value):
    """``value`` rounded to the default dtype, as ``torch.as_tensor(value)`` stores it."""
    return float(np.asarray(value, dtype=get_default_dtype().np))


def scalar_dtype():
    return float64.np if get_default_dtype() is float64 else np.float32


def new_step():
    """The ``step`` count as PyTorch keeps it: a 0-d float tensor on the CPU."""
    return Tensor._wrap(np.zeros((), dtype=scalar_dtype()))


def new_scalar(value):
    """A 0-d float state tensor in the scalar dtype (``mu_product``, ``eta``, ...), as PyTorch keeps them."""
    return Tensor._wrap(np.full((), value, dtype=scalar_dtype()))


def scale_scalar(t, factor):
    """Multiply a 0-d state tensor by ``factor`` in place, in its own dtype; return the new value."""
    if not getattr(t._data.flags, "writeable", True):
        t._data = t._data.copy()
    t._data[...] *= factor
    return float(t._data)


def set_scalar(t, value):
    """Overwrite a 0-d state tensor with ``value``, rounded to its dtype (``tensor.copy_(value)``)."""
    if not getattr(t._data.flags, "writeable", True):
        t._data = t._data.copy()
    t._data[...] = value


def advance(step):
    """Add one to a ``step`` tensor and return the new count as a Python float."""
    if not getattr(step._data.flags, "writeable", True):
        step._data = step._data.copy()
    step._data[...] += 1
    return float(step._data)


def zeros_like(p):
    return Tensor._wrap(array_module(p._data).zeros_like(p._data))


def buffer(state, key, p):
    """The raw array of ``state[key]``, created as zeros like ``p`` when missing (an option such as
    ``amsgrad`` or ``momentum`` switched on after the first steps)."""
    t = state.get(key)
    if t is None:
        t = state[key] = zeros_like(p)
    return t._data


def grad_of(p):
    """The raw gradient array of parameter ``p``, checked against the parameter's shape."""
    g = p.grad._data
    if g.shape != p._data.shape:
        raise RuntimeError(f"the gradient of a parameter has shape {tuple(g.shape)} but the parameter has "
                           f"shape {tuple(p._data.shape)}; assign .grad a tensor of the parameter's shape")
    return g


def writable(p):
    """The parameter's array, ready for in-place writes (read-only storage gets a private copy)."""
    if not getattr(p._data.flags, "writeable", True):
        p._data = p._data.copy()
    return p._data


def add_scaled(y, x, alpha):
    """``y += alpha * x`` in place (``y.add_(x, alpha=alpha)``)."""
    if alpha == 1:
        y += x
    elif alpha == -1:
        y -= x
    else:
        y += x * alpha


def lerp(y, x, weight):
    """``y.lerp_(x, weight)`` in place, with PyTorch's choice of end point for accuracy."""
    if abs(weight) < 0.5:
        y += (x - y) * weight
    else:
        d = x - y
        d *= 1 - weight
        array_module(y).subtract(x, d, out=y)


def addcmul(y, a, b, value):
    """``y.addcmul_(a, b, value=value)``: ``y += value * a * b``."""
    t = a * value
    t *= b
    y += t


# ---------------------------------------------------------------------------------- fused GPU updates
def fused(param, grad):
    """True where a parameter's update runs as one GPU kernel: a cupy float32/float64 array (and a gradient
    of the same dtype).

    Each array op is a kernel launch on the GPU, and an update of a dozen ops per parameter costs more in
    launches than in arithmetic; the fused kernels follow the CPU code's order of operations.
    """
    return (type(param) is not np.ndarray and param.dtype.kind == "f" and param.dtype.itemsize >= 4
            and grad.dtype == param.dtype)


_kernels = {}


def kernel(name, in_params, out_params, body):
    """A cupy ``ElementwiseKernel``, compiled once per distinct code (variants differ by options)."""
    key = (name, in_params, out_params, body)
    k = _kernels.get(key)
    if k is None:
        from ..backend import cupy

        k = _kernels[key] = cupy().ElementwiseKernel(in_params, out_params, body, name)
    return k


def grad_expr(maximize, weight_decay):
    """CUDA code for the gradient ``d``: negated when maximizing, plus ``p * wd`` with weight decay."""
    code = "T d = -g;" if maximize else "T d = g;"
    return code + (" d = d + p * wd;" if weight_decay != 0 else "")


def lerp_expr(target, end, weight):
    """CUDA code for ``lerp(target, end, w)`` with the end point chosen as ``lerp`` does (``w1 = 1 - w``)."""
    if abs(weight) < 0.5:
        return f"{target} = {target} + ({end} - {target}) * w;"
    return f"{target} = {end} - ({end} - {target}) * w1;"
