"""3-D pooling as in ``torch.nn.functional``: max/avg pooling and adaptive avg/max pooling of
``(N, C, T, H, W)`` or ``(C, T, H, W)``.

Max and average pooling are separable: the 2-D op of ``core/ops/pool.py`` pools each frame over (H, W)
first, which shrinks the data, then the temporal windows of ``core/ops/conv3d.py`` combine frames. For
the max, the first maximum in (t, h, w) order is the first frame's first maximum among the frames that
hold the window's maximum, so the winners (and the gradients) equal PyTorch's. Average pooling sums both
ways and divides by the product of the per-axis window sizes, which is PyTorch's divisor.
"""
import numpy as np

from ...amp_state import autocast_op
from ...autograd.node_names import presents_as
from ...backend import array_module
from ...ops.conv3d import TemporalMaxOp, TemporalUnfoldOp, TemporalWindows, pool_axis_sizes
from ...ops.pool import pool_out_size
from ...ops.pool3d import AdaptiveAvgPoolNdOp, AdaptiveMaxPoolNdOp
from ...tensor import Tensor
from .pooling import _output_hw, _tuple, avg_pool2d, max_pool2d

__all__ = ["max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices"]


def _check5(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (4, 5):
        raise RuntimeError(f"{op}: expected 4D (unbatched) or 5D (batched) input, but got input of shape "
                           f"{list(x.shape)}")
    if any(s == 0 for s in x.shape[-3:]):
        raise RuntimeError(f"{op}: expected input with non-zero spatial size, got shape {list(x.shape)}")
    return (x, False) if x.ndim == 5 else (x.unsqueeze(0), True)


def _params(kernel_size, stride, padding, dilation, op, kind):
    k = _tuple(kernel_size, "kernel_size", op, 3)
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and not stride)
    s = k if no_stride else _tuple(stride, "stride", op, 3)
    p, d = _tuple(padding, "padding", op, 3), _tuple(dilation, "dilation", op, 3)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={k}, "
                         f"stride={s}, dilation={d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or 2 * pp > dd * (kk - 1) + 1:
            raise ValueError(f"{op}: pad should be at most half of {kind} kernel size, but got pad={p}, "
                             f"kernel_size={k} and dilation={d}")
    return k, s, p, d


def _time_windows(x, k, s, p, d, ceil_mode, op):
    t = x.shape[2]
    t_out = pool_out_size(t, k[0], s[0], p[0], d[0], bool(ceil_mode))
    if t_out < 1:
        raise RuntimeError(f"{op}: given input of shape {list(x.shape)}, the calculated output depth {t_out} "
                           f"is too small; use a smaller kernel or more padding")
    return TemporalWindows(t, k[0], s[0], d[0], p[0], t_out)


@autocast_op("max_pool3d")
@presents_as("MaxPool3DWithIndicesBackward0", "input", each=True)
def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """``(values, indices)`` of 3-D max pooling; indices are flat ``t*H*W + h*W + w`` positions."""
    op = "max_pool3d"
    x, unbatched = _check5(input, op)
    k, s, p, d = _params(kernel_size, stride, padding, dilation, op, "the")
    win = _time_windows(x, k, s, p, d, ceil_mode, op)
    n, c, t, h, w = x.shape
    spatial = max_pool2d(x.reshape(n, c * t, h, w), k[1:], s[1:], p[1:], d[1:], ceil_mode=ceil_mode,
                         return_indices=return_indices)
    if return_indices:
        spatial, sp_idx = spatial
    ho, wo = spatial.shape[-2:]
    frames = spatial.reshape(n, c, t, ho, wo)
    identity = (win.k, win.stride, win.lo, win.n_out) == (1, 1, 0, t)
    taps = []
    out = frames if identity else TemporalMaxOp.apply(frames, win=win, taps_out=taps)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    # The winning frame, then the spatial winner within it.
    xp = array_module(sp_idx._data)
    tap = taps[0] if taps else 0
    src = xp.arange(win.n_out).reshape(-1, 1, 1) * win.stride - win.lo + tap * win.dilation
    src = xp.broadcast_to(src, (n, c, win.n_out, ho, wo))
    sp = xp.take_along_axis(sp_idx._data.reshape(n, c, t, ho, wo), src, axis=2)
    idx = Tensor._wrap(src * (h * w) + sp)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over ``kernel_size`` windows of ``(N, C, T, H, W)``; ``stride`` defaults to ``kernel_size``."""
    return max_pool3d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@autocast_op("avg_pool3d")  # float32 under CPU autocast, as PyTorch's lists say
@presents_as("AvgPool3DBackward0", "input")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over ``kernel_size`` windows of ``(N, C, T, H, W)``: the divisor is the window clipped to the
    padded input (to the input without ``count_include_pad``), or ``divisor_override``."""
    op = "avg_pool3d"
    x, unbatched = _check5(input, op)
    k, s, p, _ = _params(kernel_size, stride, padding, 1, op, "the")
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    win = _time_windows(x, k, s, p, (1, 1, 1), ceil_mode, op)
    n, c, t, h, w = x.shape
    sums = avg_pool2d(x.reshape(n, c * t, h, w), k[1:], s[1:], p[1:], ceil_mode, True, 1)
    ho, wo = sums.shape[-2:]
    sums = sums.reshape(n, c, t, ho, wo)
    if (win.k, win.stride, win.lo, win.n_out) == (1, 1, 0, t):
        out = sums
    else:
        out = TemporalUnfoldOp.apply(sums, win=win, fill=0.0, time_major=False).sum(3)
    if divisor_override:
        out = out / divisor_override
    else:
        sizes = [pool_axis_sizes(size, kk, ss, pp, no, count_include_pad)
                 for size, kk, ss, pp, no in zip((t, h, w), k, s, p, (win.n_out, ho, wo))]
        div = np.multiply.outer(np.multiply.outer(sizes[0], sizes[1]), sizes[2])
        xp = array_module(out._data)
        out = out * Tensor._wrap(xp.asarray((1.0 / div).astype(out._data.dtype)))
    return out.squeeze(0) if unbatched else out


@autocast_op("adaptive_avg_pool3d")
@presents_as("AdaptiveAvgPool3DBackward0", "input")
def adaptive_avg_pool3d(input, output_size):
    """Average pooling of ``(N, C, T, H, W)`` to ``output_size`` (an int or a triple; None keeps a size)."""
    op = "adaptive_avg_pool3d"
    x, unbatched = _check5(input, op)
    out = AdaptiveAvgPoolNdOp.apply(x, out_size=_output_hw(x, output_size, op, 3))
    return out.squeeze(0) if unbatched else out


@autocast_op("adaptive_max_pool3d")
@presents_as("AdaptiveMaxPool3DBackward0", "input", each=True)
def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """``(values, flat t*H*W + h*W + w indices)`` of adaptive 3-D max pooling."""
    op = "adaptive_max_pool3d"
    x, unbatched = _check5(input, op)
    found = []
    out = AdaptiveMaxPoolNdOp.apply(x, out_size=_output_hw(x, output_size, op, 3), indices_out=found)
    idx = Tensor._wrap(found[0])
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, T, H, W)`` to ``output_size``; ``return_indices`` also returns positions."""
    out, idx = adaptive_max_pool3d_with_indices(input, output_size)
    return (out, idx) if return_indices else out
