"""Adaptive pooling over the last three dims (``adaptive_avg_pool3d`` / ``adaptive_max_pool3d``).

Adaptive windows are a product of per-axis windows (PyTorch's ``floor(i*n/o)`` .. ``ceil((i+1)*n/o)``),
so the average is three small matrix products, one per axis, and the max visits the window taps with one
gather per tap (a window shorter than the longest repeats its last element, which changes neither the max
nor the first position of it).
"""

import itertools

import numpy as np

from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor


def adaptive_windows(n, o):
    """Starts and ends of ``o`` adaptive windows over an axis of length ``n``."""
    i = np.arange(o)
    return (i * n) // o, -(-((i + 1) * n) // o)


def adaptive_matrix(n, o, dtype):
    """``(o, n)`` matrix averaging each adaptive window."""
    start, end = adaptive_windows(n, o)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _apply(xp, a, mats):
    """Apply ``mats[j] (o_j, n_j)`` along the j-th of the trailing ``len(mats)`` axes of ``a``."""
    k = len(mats)
    for j, m in enumerate(mats):
        axis = a.ndim - k + j
        a = xp.moveaxis(xp.tensordot(m, a, axes=([1], [axis])), 0, axis)
    return xp.ascontiguousarray(a)


class AdaptiveAvgPoolNdOp(Op):
    """Adaptive average pooling of the trailing ``len(out_size)`` axes."""

    def forward(self, x, out_size=None):
        xp = array_module(x)
        k = len(out_size)
        mats = [xp.asarray(adaptive_matrix(n, o, x.dtype)) for n, o in zip(x.shape[-k:], out_size)]
        if self.recording:
            self.mats = mats
        return _apply(xp, x, mats)

    def backward(self, g):
        # The backward is the same linear map transposed: linear in g, so it records like any op.
        return AdaptiveAvgPoolNdBackward.apply(g, mats=self.mats)


class AdaptiveAvgPoolNdBackward(Op):
    def forward(self, g, mats=None):
        if self.recording:
            self.mats = mats
        return _apply(array_module(g), g, [m.T for m in mats])

    def backward(self, gg):
        return AdaptiveAvgPoolNdOp.apply(gg, out_size=tuple(m.shape[0] for m in self.mats))


class AdaptiveMaxPoolNdOp(Op):
    """Adaptive max pooling of the trailing ``len(out_size)`` axes; ``indices_out`` (a list), if given,
    receives the flat position of each maximum within its input volume (PyTorch's indices)."""

    def forward(self, x, out_size=None, indices_out=None):
        xp = array_module(x)
        k = len(out_size)
        in_size = x.shape[-k:]
        wins = [adaptive_windows(n, o) for n, o in zip(in_size, out_size)]
        strides = [int(np.prod(in_size[j + 1:], dtype=np.int64)) for j in range(k)]
        best = idx = None
        for offs in itertools.product(*[range(int((e - s).max())) for s, e in wins]):
            v, here = x, 0
            for j, ((s, e), d) in enumerate(zip(wins, offs)):
                pos = np.minimum(s + d, e - 1)
                v = xp.take(v, xp.asarray(pos), axis=x.ndim - k + j)
                shape = [1] * k
                shape[j] = -1
                here = here + pos.reshape(shape) * strides[j]
            if best is None:
                best, idx = v, xp.broadcast_to(xp.asarray(here), v.shape).copy()
                continue
            better = v > best
            best = xp.where(better, v, best)
            idx = xp.where(better, xp.asarray(here), idx)
        if indices_out is not None:
            indices_out.append(idx)
        if self.recording:
            self.in_shape, self.k = x.shape, k
            self.save(idx)
        return best

    def backward(self, g):
        (idx,) = self.saved_values()
        if is_grad_enabled():
            # create_graph: a recorded scatter (its own gradient is the matching gather). Each volume is
            # seen as a one-row plane of its flat positions, which is what ``idx`` indexes.
            from .pool_adjoint import PlaneScatterOp

            lead, vol = self.in_shape[: -self.k], int(np.prod(self.in_shape[-self.k :], dtype=np.int64))
            rows = g.reshape(lead + (1, -1))
            flat_idx = idx.reshape(lead + (1, -1))
            out = PlaneScatterOp.apply(rows, idx=flat_idx, canvas_hw=(1, vol), crop=(0, 0, 1, vol))
            return out.reshape(self.in_shape)
        return Tensor._wrap(scatter_volume(g._data, idx, self.in_shape, self.k))


def scatter_volume(g, idx, in_shape, k=3):
    """Sum ``g`` into a zero ``in_shape`` array at flat positions ``idx`` within each trailing ``k``-dim
    volume."""
    xp = array_module(g)
    vol = int(np.prod(in_shape[-k:], dtype=np.int64))
    lead = int(np.prod(in_shape[:-k], dtype=np.int64))
    flat = idx.reshape(lead, -1) + (xp.arange(lead) * vol).reshape(-1, 1)
    out = xp.bincount(flat.ravel(), weights=g.reshape(-1), minlength=lead * vol)
    return out.astype(g.dtype).reshape(in_shape)


__all__ = ["AdaptiveAvgPoolNdOp", "AdaptiveMaxPoolNdOp", "adaptive_windows", "adaptive_matrix",
           "scatter_volume"]
