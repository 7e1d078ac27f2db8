"""Pooling as in ``torch.nn.functional``: max/avg pooling (1-D and 2-D), adaptive average/max pooling.

This module checks arguments; the arithmetic lives in ``core/ops/pool.py``.
"""
from ...autograd.node_names import presents_as
from ...backend import array_module
from ...ops.pool import (
    AdaptiveAvgPool2dOp,
    AdaptiveMaxPool2dOp,
    AvgPool2dOp,
    MaxPool2dOp,
    PoolGeometry,
    avg_divisor,
)
from ...tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices", "avg_pool1d",
           "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices"]


def _tuple(v, name, op, n):
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _check_input(x, op, spatial):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input, "
                           f"but got input of shape {list(x.shape)}")
    if any(s == 0 for s in x.shape[-spatial:]):
        raise RuntimeError(f"{op}: expected input with non-zero spatial size, got shape {list(x.shape)}")


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, op, kind):
    k = _tuple(kernel_size, "kernel_size", op, 2)
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and not stride)
    s = k if no_stride else _tuple(stride, "stride", op, 2)
    p, d = _tuple(padding, "padding", op, 2), _tuple(dilation, "dilation", op, 2)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={k}, "
                         f"stride={s}, dilation={d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or 2 * pp > dd * (kk - 1) + 1:
            raise ValueError(f"{op}: pad should be at most half of {kind} kernel size, but got pad={p}, "
                             f"kernel_size={k} and dilation={d}")
    geom = PoolGeometry(tuple(x.shape[-2:]), k, s, p, d, bool(ceil_mode))
    if min(geom.out_hw) < 1:
        raise RuntimeError(f"{op}: given input of shape {list(x.shape)}, the calculated output size "
                           f"{list(geom.out_hw)} is too small; use a smaller kernel or more padding")
    return geom


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """Max pooling of ``input (N, C, H, W)`` or ``(C, H, W)`` returning ``(values, indices)``, where
    ``indices`` are flat ``h * W + w`` positions in each input plane (int64)."""
    _check_input(input, "max_pool2d", 2)
    geom = _geometry(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d", "effective")
    taps = [] if return_indices else None  # no list: eval/no_grad pooling skips the argmax bookkeeping
    out = MaxPool2dOp.apply(input, geom=geom, indices_out=taps)
    if not return_indices:
        return out
    return out, Tensor._wrap(geom.flat_indices(taps[0]))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling over ``kernel_size`` windows (``stride`` defaults to the kernel size); with
    ``return_indices`` also the flat position of each maximum."""
    return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _one(v, name, op):
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        return v[0]
    return v


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """Max pooling of ``input (N, C, L)`` or ``(C, L)``; indices are positions along L."""
    _check_input(input, "max_pool1d", 1)
    op = "max_pool1d"
    stride = None if stride is None or stride == [] or stride == () else (1, _one(stride, "stride", op))
    res = max_pool2d_with_indices(input.unsqueeze(-2), (1, _one(kernel_size, "kernel_size", op)), stride,
                                  (0, _one(padding, "padding", op)), (1, _one(dilation, "dilation", op)),
                                  ceil_mode, return_indices)
    if not return_indices:
        return res.squeeze(-2)
    return res[0].squeeze(-2), res[1].squeeze(-2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over the last dim."""
    return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling of ``input (N, C, H, W)`` or ``(C, H, W)``; the divisor follows PyTorch
    (``count_include_pad`` counts the zero padding; ``divisor_override`` replaces the window size)."""
    _check_input(input, "avg_pool2d", 2)
    geom = _geometry(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d", "")
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("avg_pool2d: divisor_override must be non-zero")
    divisor = avg_divisor(geom, count_include_pad, divisor_override, array_module(input._data))
    return AvgPool2dOp.apply(input, geom=geom, divisor=divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over the last dim."""
    _check_input(input, "avg_pool1d", 1)
    op = "avg_pool1d"
    stride = None if stride is None or stride == [] or stride == () else (1, _one(stride, "stride", op))
    out = avg_pool2d(input.unsqueeze(-2), (1, _one(kernel_size, "kernel_size", op)), stride,
                     (0, _one(padding, "padding", op)), ceil_mode, count_include_pad)
    return out.squeeze(-2)


def _output_hw(x, output_size, op, spatial=2):
    sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * spatial
    if len(sizes) != spatial:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {spatial}, got {output_size!r}")
    out = tuple(int(x.shape[-spatial + i]) if s is None else int(s) for i, s in enumerate(sizes))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _divisible(x, out_hw):
    return all(n % o == 0 for n, o in zip(x.shape[-2:], out_hw))


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling to ``output_size`` (an int, or a pair whose None entries keep that size)."""
    _check_input(input, "adaptive_avg_pool2d", 2)
    out_hw = _output_hw(input, output_size, "adaptive_avg_pool2d")
    if tuple(input.shape[-2:]) == out_hw:
        return input.clone()
    if out_hw == (1, 1):
        return input.mean(dim=(-2, -1), keepdim=True)
    return AdaptiveAvgPool2dOp.apply(input, out_hw=out_hw)


def adaptive_avg_pool1d(input, output_size):
    """1-D adaptive average pooling over the last dim."""
    _check_input(input, "adaptive_avg_pool1d", 1)
    size = _one(output_size, "output_size", "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, size)).squeeze(-2)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """Adaptive max pooling returning ``(values, flat indices)``."""
    _check_input(input, "adaptive_max_pool2d", 2)
    out_hw = _output_hw(input, output_size, "adaptive_max_pool2d")
    if _divisible(input, out_hw):  # equal windows: a plain max pooling, which is faster
        k = tuple(n // o for n, o in zip(input.shape[-2:], out_hw))
        return max_pool2d_with_indices(input, k, k, 0, 1, False, return_indices)
    idx = []
    out = AdaptiveMaxPool2dOp.apply(input, out_hw=out_hw, indices_out=idx)
    return (out, Tensor._wrap(idx[0])) if return_indices else out


@presents_as("AdaptiveMaxPool2DBackward0", "input")
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling to ``output_size``; with ``return_indices`` also flat positions (int64)."""
    return adaptive_max_pool2d_with_indices(input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    _check_input(input, "adaptive_max_pool1d", 1)
    size = _one(output_size, "output_size", "adaptive_max_pool1d")
    res = adaptive_max_pool2d_with_indices(input.unsqueeze(-2), (1, size), return_indices)
    if not return_indices:
        return res.squeeze(-2)
    return res[0].squeeze(-2), res[1].squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-D adaptive max pooling over the last dim."""
    return adaptive_max_pool1d_with_indices(input, output_size, return_indices)
