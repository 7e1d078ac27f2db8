"""Normalization as in ``torch.nn.functional``: batch_norm, layer_norm, group_norm, instance_norm,
local_response_norm.

Statistics and gradients are computed by the fused ops of ``core/ops/norm.py``; running statistics are
updated here, in place and outside the graph, as PyTorch does (the unbiased batch variance goes into
``running_var``).
"""
import numpy as np

from ...amp_state import autocast_op
from ...autograd import function as _function
from ...autograd.grad_mode import no_grad
from ...autograd.node_names import presents_as
from ...autograd.versions import bump_version
from ...backend import array_module
from ...ops.movement import pad as _pad
from ...ops.norm import BatchNormOp, RowNormOp
from ...tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm"]


def _check(x, op, min_dim=2):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < min_dim:
        raise ValueError(f"{op}: expected an input with at least {min_dim} dims (N, C, ...), got shape "
                         f"{list(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {x.dtype}")


def _check_param(t, name, n, op, x):
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if t.numel() != n:
        raise RuntimeError(f"{op}: {name} should contain {n} elements (one per channel of input of shape "
                           f"{list(x.shape)}), not {t.numel()}")


def _update_running(running, stat, momentum):
    """``running = (1 - momentum) * running + momentum * stat``, in place, as a new version."""
    data = running._data
    data *= 1 - momentum
    data += (momentum * stat).astype(data.dtype, copy=False).reshape(data.shape)
    bump_version(running)


@presents_as("NativeBatchNormBackward0", "input", "weight", "bias")
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalization of ``input (N, C, *)`` per channel. In training the batch statistics are used
    and, when given, ``running_mean``/``running_var`` are updated with ``momentum``; otherwise the
    running statistics normalize."""
    op = "batch_norm"
    _check(input, op)
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_param(t, name, c, op, input)
    if weight is None and bias is not None:
        weight = Tensor._wrap(array_module(bias._data).ones_like(bias._data))
    params = [p.reshape(c) for p in (weight, bias) if p is not None]
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be given when training=False")
        dt = input._data.dtype
        rm, rv = (t._data.reshape(c).astype(dt, copy=False) for t in (running_mean, running_var))
        return BatchNormOp.apply(input, *params, training=False, mean=rm, var=rv, eps=eps)
    m = input.numel() // max(c, 1)
    if m <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of shape "
                         f"{list(input.shape)}")
    stats = []
    out = BatchNormOp.apply(input, *params, training=True, eps=eps, stats_out=stats)
    mean, var = stats[0]
    with no_grad():
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            _update_running(running_var, var * (m / (m - 1)), momentum)
    return out


def _unshared(y, weight, bias):
    """The normalized rows ``y``, copied when nothing else (affine) will copy them and they will be
    differentiated: the normalizing op keeps its output for backward, and an in-place op after a norm
    without affine (InstanceNorm2d then ReLU(inplace=True), as in RAFT's encoders) would overwrite it,
    where PyTorch (which keeps the input) works."""
    if weight is None and bias is None and y.requires_grad:
        return y.clone()
    return y


def _affine(y, weight, bias, shape):
    dtype = y.dtype
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    if y.dtype is not dtype and dtype.itemsize == 2:
        # PyTorch's mixed-dtype norms: a bfloat16/float16 input with float32 parameters (autocast's usual
        # case) gives an output in the input's dtype
        y = y.to(dtype)
    return y


@autocast_op("layer_norm")
@presents_as("NativeLayerNormBackward0", "input", "weight", "bias")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``
    (both of shape ``normalized_shape``)."""
    op = "layer_norm"
    _check(input, op, 1)
    ns = normalized_shape
    ns = (int(ns),) if isinstance(ns, (int, np.integer)) else tuple(int(d) for d in ns)
    if not ns or tuple(input.shape[-len(ns):]) != ns or input.ndim < len(ns):
        raise RuntimeError(f"{op}: given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of shape {list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"{op}: {name} must have shape {list(ns)}, got {list(t.shape)}")
    n = int(np.prod(ns))
    y = _unshared(RowNormOp.apply(input.reshape(-1, n), eps=eps), weight, bias).reshape(input.shape)
    return _affine(y, weight, bias, ns)


@autocast_op("group_norm")
@presents_as("NativeGroupNormBackward0", "input", "weight", "bias")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize ``input (N, C, *)`` over each group of ``C / num_groups`` channels (and all positions),
    then apply the per-channel ``weight`` and ``bias``."""
    op = "group_norm"
    _check(input, op)
    n, c = input.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise RuntimeError(f"{op}: expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_param(t, name, c, op, input)
    y = _unshared(RowNormOp.apply(input.reshape(n * num_groups, -1), eps=eps), weight, bias)
    y = y.reshape(input.shape)
    return _affine(y, weight, bias, (c,) + (1,) * (input.ndim - 2))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each channel of each sample of ``input (N, C, *)`` over its positions; with
    ``use_input_stats=False`` the running statistics normalize instead."""
    op = "instance_norm"
    _check(input, op, 3)
    n, c = input.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_param(t, name, c, op, input)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    length = input.numel() // max(n * c, 1)
    if length <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input of shape "
                         f"{list(input.shape)}")
    stats = []
    y = RowNormOp.apply(input.reshape(n * c, -1), eps=eps, stats_out=stats)
    y = _unshared(y, weight, bias).reshape(input.shape)
    mean, var = stats[0]
    with no_grad():
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
        if running_var is not None:
            _update_running(running_var, var.reshape(n, c).mean(0) * (length / (length - 1)), momentum)
    out = _affine(y, weight, bias, (c,) + (1,) * (input.ndim - 2))
    if out is y and _function.is_op_tracing():
        # y is a view; the ONNX exporter cannot follow an in-place op into a view (RAFT's ReLU(inplace=True)
        # after InstanceNorm2d), so while it traces the result is a copy, as PyTorch's (never a view).
        out = y.clone()
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """``x / (k + alpha * mean of x^2 over a window of `size` neighbouring channels) ** beta``, with the
    window zero-padded ``size // 2`` before and ``(size - 1) // 2`` after, as PyTorch."""
    _check(input, "local_response_norm", 3)
    c = input.shape[1]
    sq = input * input
    pad = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = _pad(sq, pad)
    total = padded[:, 0:c]
    for i in range(1, size):
        total = total + padded[:, i:i + c]
    div = (total * (alpha / size) + k) ** beta
    return input / div


@autocast_op("rms_norm")
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the trailing ``normalized_shape`` dims (``eps`` added to the mean
    square; None: the dtype's machine epsilon, as PyTorch), then scale by ``weight``."""
    ns = normalized_shape
    ns = (int(ns),) if isinstance(ns, (int, np.integer)) else tuple(int(d) for d in ns)
    if not ns or input.ndim < len(ns) or tuple(input.shape[-len(ns):]) != ns:
        raise RuntimeError(f"rms_norm: given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of shape {list(input.shape)}")
    if weight is not None and tuple(weight.shape) != ns:
        raise RuntimeError(f"rms_norm: weight must have shape {list(ns)}, got {list(weight.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - len(ns), input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight
