"""Separable resampling along one axis (nearest, nearest-exact, linear, cubic), as PyTorch's upsample
kernels compute it, with a fused backward.

Every mode is a set of taps: output ``o`` along the axis is ``sum_k w_k[o] * x[idx_k[o]]``. The forward
gathers each tap, the backward scatters each tap back. Tap indices never decrease along the axis, so
both split into rounds of distinct targets, and for regular scales each round is a few strided-slice
copies or adds (no fancy indexing, no ``np.add.at``). Source positions are computed in the input's
float type, as PyTorch does, so nearest-neighbour picks agree exactly.
"""

import numpy as np

from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._threads import split_map

_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic coefficient


def _scale(in_size, out_size, scale, align_corners, dtype):
    """PyTorch's source-per-destination ratio for one axis, in the compute dtype."""
    f = dtype.type
    if align_corners:
        return f(in_size - 1) / f(out_size - 1) if out_size > 1 else f(0)
    if scale is not None and scale > 0:
        return f(1.0 / scale)
    return f(in_size) / f(out_size)


def axis_taps(mode, in_size, out_size, scale=None, align_corners=False, dtype=np.float32):
    """Taps ``[(idx, weight or None), ...]`` (numpy arrays over the output positions) for one axis.

    ``mode`` is 'nearest', 'nearest-exact', 'linear' or 'cubic'; ``scale`` is the user's scale factor
    for this axis (None when the size was given or the factor is recomputed)."""
    dtype = np.dtype(dtype)
    o = np.arange(out_size)
    last = in_size - 1
    if mode in ("nearest", "nearest-exact"):
        if out_size == in_size:
            return [(o, None)]
        if mode == "nearest" and out_size == 2 * in_size:
            return [(o >> 1, None)]
        r = _scale(in_size, out_size, scale, False, dtype)
        pos = o.astype(dtype) if mode == "nearest" else o.astype(dtype) + dtype.type(0.5)
        return [(np.minimum(np.floor(pos * r).astype(np.int64), last), None)]
    r = _scale(in_size, out_size, scale, align_corners, dtype)
    of = o.astype(dtype)
    if mode == "linear":
        if out_size == in_size:
            return [(o, None)]
        src = of * r if align_corners else np.maximum(r * (of + dtype.type(0.5)) - dtype.type(0.5), 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), last)
        lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
        i1 = np.minimum(i0 + 1, last)
        return [(i0, (1 - lam).astype(dtype)), (i1, lam)]
    if mode == "cubic":
        src = of * r if align_corners else r * (of + dtype.type(0.5)) - dtype.type(0.5)
        fl = np.floor(src)
        t = (src - fl).astype(dtype)
        a = dtype.type(_CUBIC_A)

        def near(d):  # |d| <= 1
            return ((a + 2) * d - (a + 3)) * d * d + 1

        def far(d):  # 1 < |d| < 2
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

        weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
        base = fl.astype(np.int64) - 1
        return [(np.clip(base + k, 0, last), w.astype(dtype)) for k, w in enumerate(weights)]
    raise ValueError(f"axis_taps: unknown mode {mode!r}")


def _shape_along(w, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return w.reshape(shape)


def _pieces(src, dst):
    """Split paired index lists into maximal pieces along which both advance by constant steps:
    ``[(src slice, dst slice), ...]``."""
    out, i, n = [], 0, len(src)
    while i < n:
        j = i + 1
        if j < n:
            ds, dd = src[j] - src[i], dst[j] - dst[i]
            while j + 1 < n and src[j + 1] - src[j] == ds and dst[j + 1] - dst[j] == dd:
                j += 1
            j += 1
        ds = src[i + 1] - src[i] if j - i > 1 else 1
        dd = dst[i + 1] - dst[i] if j - i > 1 else 1
        out.append((slice(src[i], src[j - 1] + 1, ds), slice(dst[i], dst[j - 1] + 1, dd)))
        i = j
    return out


def scatter_plan(idx):
    """How to add values at output positions ``o`` into positions ``idx[o]`` (``idx`` non-decreasing)
    without ``np.add.at``: rounds in which every target appears once, each as a few strided slices
    (regular resampling) or, failing that, one gather and a fancy-index add."""
    idx = np.asarray(idx)
    uniq, starts, counts = np.unique(idx, return_index=True, return_counts=True)
    rounds = []
    for r in range(int(counts.max())):
        sel = counts > r
        src, dst = (starts[sel] + r).tolist(), uniq[sel].tolist()
        pieces = _pieces(src, dst)
        rounds.append(pieces if len(pieces) <= 8 else (np.asarray(src), np.asarray(dst)))
    return rounds


def index_add(out, axis, plan, values):
    """``out[..., idx[o], ...] += values[..., o, ...]`` along ``axis`` following ``scatter_plan(idx)``."""
    xp = array_module(out)
    lead = (slice(None),) * axis
    for rnd in plan:
        if isinstance(rnd, list):
            for src, dst in rnd:
                out[lead + (dst,)] += values[lead + (src,)]
        else:
            src, dst = rnd
            out[lead + (xp.asarray(dst),)] += xp.take(values, xp.asarray(src), axis=axis)
    return out


def gather(out, axis, plan, x):
    """``out[..., o, ...] = x[..., idx[o], ...]`` along ``axis`` (the same plan read the other way)."""
    xp = array_module(out)
    lead = (slice(None),) * axis
    for rnd in plan:
        if isinstance(rnd, list):
            for src, dst in rnd:
                out[lead + (src,)] = x[lead + (dst,)]
        else:
            src, dst = rnd
            out[lead + (xp.asarray(src),)] = xp.take(x, xp.asarray(dst), axis=axis)
    return out


class Resample1dOp(Op):
    """``sum_k w_k * x[..., idx_k, ...]`` along ``axis`` for the ``taps`` of ``axis_taps``; slices of the
    leading (batch) dim run in parallel threads on the CPU."""

    def forward(self, x, axis=-1, taps=()):
        xp = array_module(x)
        axis = axis % x.ndim
        plans = [scatter_plan(i) for i, _ in taps]
        weights = [
            None if w is None else _shape_along(xp.asarray(w, dtype=x.dtype), x.ndim, axis) for _, w in taps
        ]
        shape = list(x.shape)
        shape[axis] = len(taps[0][0])
        out = xp.empty(shape, dtype=x.dtype)

        def part(a, b):
            o, xs = out[a:b], x[a:b]
            tmp = xp.empty(o.shape, dtype=x.dtype) if len(taps) > 1 else None
            for k, (plan, w) in enumerate(zip(plans, weights)):
                dst = o if k == 0 else tmp
                gather(dst, axis, plan, xs)
                if w is not None:
                    dst *= w
                if k:
                    o += tmp

        if axis == 0:
            part(0, x.shape[0])
        else:
            split_map(part, x.shape[0], out.size * len(taps), xp)
        if self.recording:
            self.axis, self.plans, self.weights, self.in_size = axis, plans, weights, x.shape[axis]
        return out

    def backward(self, g):
        if is_grad_enabled():
            raise RuntimeError(
                "interpolate: double backward (create_graph=True) is not supported; its "
                "backward runs on raw arrays for speed"
            )
        gd = g._data
        xp = array_module(gd)
        shape = list(gd.shape)
        shape[self.axis] = self.in_size
        gx = xp.zeros(shape, dtype=gd.dtype)

        def part(a, b):
            for plan, w in zip(self.plans, self.weights):
                index_add(gx[a:b], self.axis, plan, gd[a:b] if w is None else gd[a:b] * w)

        if self.axis == 0:
            part(0, gd.shape[0])
        else:
            split_map(part, gd.shape[0], gd.size * len(self.plans), xp)
        return Tensor._wrap(gx)
