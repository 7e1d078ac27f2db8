"""Separable resampling along one axis (nearest, nearest-exact, linear, cubic), as PyTorch's upsample
kernels compute it, with a fused backward.

Every mode is a set of taps: output ``o`` along the axis is ``sum_k w_k[o] * x[idx_k[o]]``. The forward
gathers each tap, the backward scatters each tap back. Tap indices never decrease along the axis, so
both split into rounds of distinct targets, and for regular scales each round is a few strided-slice
copies or adds (no fancy indexing, no ``np.add.at``). Source positions are computed in the input's
float type, as PyTorch does, so nearest-neighbour picks agree exactly.

float32 linear and cubic resampling is bit-exact with PyTorch's x86-64 CPU kernel (measured against
torch 2.14 on photos): its compiler fuses ``scale * (i + 0.5) - 0.5`` and the tap sums into fused
multiply-adds (the sum starts from ``x[i1] * w1``, then ``fma(x[i0], w0, .)``, ``fma(x[i2], w2, .)``,
...), the width is interpolated before the height, and the cubic weights fuse their inner terms. A
fused multiply-add of float32 values is emulated exactly enough by float64 arithmetic rounded once
(the product is exact; the sum is rounded twice only on rare ties). float64 inputs use plain
arithmetic (within an ulp of PyTorch's).
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


def _fma(a, b, c, dtype):
    """``a * b + c`` rounded once to ``dtype`` (a fused multiply-add) for float32; plain for others."""
    if np.dtype(dtype) == np.float32:
        wide = np.float64
        return (np.asarray(a, wide) * np.asarray(b, wide) + np.asarray(c, wide)).astype(dtype)
    return (np.asarray(a) * np.asarray(b) + np.asarray(c)).astype(dtype)


def _cubic_weights(t, dtype):
    """The four cubic-convolution weights (A = -0.75) for fractional positions ``t``, rounded as PyTorch's
    float32 kernel computes them: the inner multiply-adds fused, the outer steps rounded one by one."""
    f = dtype.type
    a = f(_CUBIC_A)
    one = f(1)

    def near(d):  # |d| <= 1: ((A + 2) d - (A + 3)) d d + 1
        return (_fma(a + f(2), d, -(a + f(3)), dtype) * d * d + one).astype(dtype)

    def far(d):  # 1 < |d| < 2: ((A d - 5A) d + 8A) d - 4A
        inner = _fma(_fma(a, d, -(f(5) * a), dtype), d, f(8) * a, dtype)
        return (inner * d - f(4) * a).astype(dtype)

    u = (one - t).astype(dtype)
    return far((t + one).astype(dtype)), near(t), near(u), far((u + one).astype(dtype))


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
    if mode not in ("linear", "cubic"):
        raise ValueError(f"axis_taps: unknown mode {mode!r}")
    if mode == "linear" and out_size == in_size:
        return [(o, None)]
    r = _scale(in_size, out_size, scale, align_corners, dtype)
    of = o.astype(dtype)
    half = dtype.type(0.5)
    # PyTorch's area_pixel_compute_source_index; its multiply-subtract is one fused operation
    src = (of * r).astype(dtype) if align_corners else _fma(r, of + half, -half, dtype)
    if mode == "linear" and not align_corners:
        src = np.maximum(src, dtype.type(0))
    # guard_index_and_lambda: index floored and kept inside, fraction clamped to [0, 1]
    i0 = np.minimum(np.floor(src).astype(np.int64), last)
    t = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    if mode == "linear":
        return [(i0, (dtype.type(1) - t).astype(dtype)), (np.minimum(i0 + 1, last), t)]
    return [(np.clip(i0 - 1 + k, 0, last), w) for k, w in enumerate(_cubic_weights(t, dtype))]


def resample_axis(x, axis, taps):
    """``sum_k w_k * x[..., idx_k, ...]`` along ``axis`` (raw numpy or cupy array), summed in PyTorch's
    order: ``x[idx_1] * w_1`` first, then ``idx_0``, ``idx_2``, ... each as a fused multiply-add (float32;
    other dtypes multiply and add). One tap without a weight is a plain gather."""
    xp = array_module(x)
    axis = axis % x.ndim
    plans = [scatter_plan(i) for i, _ in taps]
    weights = [
        None if w is None else _shape_along(xp.asarray(w, dtype=x.dtype), x.ndim, axis) for _, w in taps
    ]
    fused = x.dtype == np.float32
    wide = [None if w is None else w.astype(np.float64) for w in weights] if fused else weights
    shape = list(x.shape)
    shape[axis] = len(taps[0][0])
    out = xp.empty(shape, dtype=x.dtype)
    order = [1, 0] + list(range(2, len(taps))) if len(taps) > 1 else [0]

    def part(a, b):
        o, xs = out[a:b], x[a:b]
        gather(o, axis, plans[order[0]], xs)
        if weights[order[0]] is not None:
            o *= weights[order[0]]
        if len(taps) == 1:
            return
        tmp = xp.empty(o.shape, dtype=np.float64 if fused else x.dtype)
        for k in order[1:]:
            gather(tmp, axis, plans[k], xs)
            tmp *= wide[k]
            if fused:  # exact product in float64, one rounding of the sum
                tmp += o
                o[...] = tmp
            else:
                o += tmp

    if axis == 0:
        part(0, x.shape[0])
    else:
        split_map(part, x.shape[0], out.size * len(taps), xp)
    return out, plans, weights


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
        axis = axis % x.ndim
        out, plans, weights = resample_axis(x, axis, taps)
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
