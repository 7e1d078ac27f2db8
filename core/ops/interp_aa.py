"""Antialiased (Pillow-style) float resampling along one axis, rounding exactly as PyTorch's CPU kernel.

PyTorch resamples the last axis first, then each axis before it, through a float buffer of the input's
dtype. Output ``o`` sums ``count[o]`` taps starting at input ``start[o]``; the weights are a triangle
(bilinear) or Keys cubic with a = -0.5 (bicubic) widened by the downscale factor, normalised by their
running float sum. Its compiled float32 code (x86, measured bit for bit) rounds like this:

* the cubic filter's polynomials are evaluated with fused multiply-adds;
* the sum starts from ``x[0] * w[0]``; the next taps are taken in groups of four as separately rounded
  products added one by one in order; the last ``(count - 1) % 4`` taps are fused multiply-adds.

Here a fused multiply-add of float32 numbers is a float64 product (exact) plus the sum, rounded once to
float32, with the rare double-rounding tie corrected; separately rounded steps computed in float64 and
rounded to float32 are exact (53 >= 2 * 24 + 2). float64 inputs follow the same order without the fused
steps (within an ulp of PyTorch).

Not reproduced on purpose: PyTorch (2.14, CPU) returns the first output row everywhere when the height is
resampled on an image whose width is 1 (its vertical loop reads the taps with zero strides); here every
row is resampled.
"""
import math

import numpy as np

from ..backend import array_module
from ._threads import split_map
from .interp import Resample1dOp, scatter_plan

_F32 = np.float32


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0).astype(x.dtype)


def _fma32(a, b, c):
    """float32 ``a * b + c`` rounded once (numpy, elementwise)."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    return _round_sum(p, np.broadcast_to(np.asarray(c, np.float64), p.shape), np)


def _keys_cubic(x):
    """Keys' cubic (a = -0.5) in ``x``'s dtype, float32 with PyTorch's fused multiply-adds."""
    t = x.dtype.type
    a = t(-0.5)
    x = np.abs(x)
    if x.dtype == np.float32:
        near = _fma32(_fma32(a + t(2), x, -(a + t(3))) * x, x, t(1))
        far = _fma32(_fma32(_fma32(a, x, -(t(5) * a)), x, t(8) * a), x, -(t(4) * a))
    else:
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, t(0))).astype(x.dtype)


def aa_scale(in_size, out_size, align_corners=False, scale=None, dtype=np.float32):
    """PyTorch's source-per-destination ratio for the antialiased kernels, in ``dtype``."""
    t = np.dtype(dtype).type
    if align_corners:
        return t(in_size - 1) / t(out_size - 1) if out_size > 1 else t(0)
    if scale is not None and scale > 0:
        return t(1.0 / scale)
    return t(in_size) / t(out_size)


def aa_taps(in_size, out_size, mode, dtype=np.float32, align_corners=False, scale=None):
    """``(start, weights (out, K), count)`` of the antialiased resize along one axis (numpy, ``dtype``):
    output ``o`` reads inputs ``start[o] + k`` for ``k < count[o]``; weights past ``count`` are zero."""
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"aa_taps: antialiasing needs mode 'bilinear' or 'bicubic', got {mode!r}")
    t = np.dtype(dtype).type
    interp, fn = (2, _triangle) if mode == "bilinear" else (4, _keys_cubic)
    r = aa_scale(in_size, out_size, align_corners, scale, dtype)
    support = t(t(interp * 0.5) * r) if r >= 1.0 else t(interp * 0.5)
    invscale = np.float64(t(1.0 / np.float64(r))) if r >= 1.0 else np.float64(1.0)
    n_taps = int(math.ceil(support)) * 2 + 1
    center = (np.float64(r) * (np.arange(out_size) + 0.5)).astype(t)
    # window bounds: float32 difference, then + 0.5 in float64 and truncated, as the C++ promotes
    start = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    stop = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), in_size)
    count = np.clip(stop - start, 0, n_taps)
    k = np.arange(n_taps)
    pos = (start[:, None] + k).astype(t)
    arg = (((pos - center[:, None]).astype(np.float64) + 0.5) * invscale).astype(t)
    w = fn(arg)
    w[k[None, :] >= count[:, None]] = 0
    total = np.zeros(out_size, dtype=t)
    for j in range(n_taps):  # running sum, tap by tap
        total = (total + w[:, j]).astype(t)
    w = np.divide(w, total[:, None], out=np.zeros_like(w), where=total[:, None] != 0).astype(t)
    return start, w, count


def _round_sum(p, c, xp):
    """float32 nearest to ``p + c`` for float64 ``p`` (an exact product) and float64 ``c`` (a float32)."""
    s = p + c
    low = xp.bitwise_and(s.view(np.uint64), np.uint64(0x1FFFFFFF))
    tie = low == np.uint64(0x10000000)  # halfway between two float32s: right only if the sum was exact
    n_tie = int(xp.count_nonzero(tie))
    if n_tie == 0:
        return s.astype(_F32)
    if n_tie * 16 < s.size:  # few: work on those alone
        at = xp.nonzero(tie)
        sa, pa, ca = s[at], p[at], c[at]
        bp = sa - ca
        err = (pa - bp) + (ca - (sa - bp))  # two-sum: what the float64 sum lost
        s[at] = xp.where(err != 0, xp.nextafter(sa, sa + err), sa)
        return s.astype(_F32)
    bp = s - c
    err = (p - bp) + (c - (s - bp))
    fix = tie & (err != 0)
    if bool(fix.any()):  # nudge the rounded ties toward the exact value
        s = xp.where(fix, xp.nextafter(s, s + err), s)
    return s.astype(_F32)


def _along(v, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def _group_sum(x3, start, w, count, grouped, xp):
    """Outputs sharing one ``count`` and ``grouped``: ``x3 (A, n, B)`` -> ``(A, len(start), B)``."""
    fused = grouped < count
    w = xp.asarray(w[:, :count, None], dtype=x3.dtype)
    w64 = w.astype(np.float64) if fused else None
    acc = None
    for j in range(count):
        t = xp.take(x3, xp.asarray(start + j), axis=1)
        if j == 0:
            acc = xp.multiply(t, w[:, 0], out=t)
        elif j < grouped:  # a separately rounded product, then the add
            acc += xp.multiply(t, w[:, j], out=t)
        else:  # one fused multiply-add
            p = t.astype(np.float64)
            p *= w64[:, j]
            acc = _round_sum(p, acc.astype(np.float64), xp)
    return acc


def aa_pass(x, axis, start, w, count):
    """Resample float ``x`` (numpy or cupy) along ``axis`` with ``aa_taps``' ``(start, w, count)``."""
    xp = array_module(x)
    axis = axis % x.ndim
    shape = x.shape
    a, n = math.prod(shape[:axis]), shape[axis]
    b = x.size // max(a * n, 1)
    x3 = x.reshape(a, n, b)
    lastaxis = b == 1 and a > 1
    if lastaxis:  # gather whole rows: put the resampled axis first
        x3 = xp.ascontiguousarray(x3.reshape(a, n).T).reshape(1, n, a)
    # taps 1 .. grouped-1 are multiply-then-add; the rest below ``count`` fused (float32 only)
    grouped = 1 + 4 * ((count - 1) // 4) if x.dtype == np.float32 else count
    keys = count * 4096 + grouped
    kinds = [np.nonzero(keys == key)[0] for key in np.unique(keys)]
    out = xp.zeros((x3.shape[0], len(start), x3.shape[2]), dtype=x.dtype)
    by_rows = x3.shape[0] > 1

    def part(lo, hi):
        src = x3[lo:hi] if by_rows else x3[:, :, lo:hi]
        dst = out[lo:hi] if by_rows else out[:, :, lo:hi]
        for sel in kinds:
            res = _group_sum(src, start[sel], w[sel], int(count[sel[0]]), int(grouped[sel[0]]), xp)
            if len(kinds) == 1:
                dst[...] = res
            else:
                dst[:, xp.asarray(sel)] = res

    split_map(part, x3.shape[0] if by_rows else x3.shape[2], out.size * w.shape[1], xp)
    if lastaxis:
        out = xp.ascontiguousarray(out.reshape(len(start), a).T)
    return out.reshape(shape[:axis] + (len(start),) + shape[axis + 1:])


def aa_resize(x, sizes, mode, align_corners=False, scales=None):
    """Antialiased resize of float ``x (N, C, *spatial)`` to ``sizes``, last axis first, as PyTorch."""
    dims = len(sizes)
    scales = scales or (None,) * dims
    out = x
    for d in reversed(range(dims)):
        axis = x.ndim - dims + d
        if out.shape[axis] == sizes[d]:
            continue
        start, w, count = aa_taps(out.shape[axis], sizes[d], mode, x.dtype, align_corners, scales[d])
        out = aa_pass(out, axis, start, w, count)
    return out


class AAResample1dOp(Resample1dOp):
    """Antialiased resampling along ``axis`` (forward rounded as PyTorch's CPU kernel; the backward is
    the plain transpose of the taps, from ``Resample1dOp``)."""

    def forward(self, x, axis=-1, mode="bilinear", size=1, align_corners=False, scale=None):
        axis = axis % x.ndim
        work = x if x.dtype in (np.float32, np.float64) else x.astype(_F32)
        start, w, count = aa_taps(x.shape[axis], size, mode, work.dtype, align_corners, scale)
        out = aa_pass(work, axis, start, w, count).astype(x.dtype, copy=False)
        if self.recording:
            xp = array_module(x)
            idx = np.minimum(start[:, None] + np.arange(w.shape[1]), x.shape[axis] - 1)
            self.axis, self.in_size = axis, x.shape[axis]
            self.plans = [scatter_plan(idx[:, k]) for k in range(w.shape[1])]
            wd = xp.asarray(w, dtype=x.dtype)
            self.weights = [_along(wd[:, k], x.ndim, axis) for k in range(w.shape[1])]
        return out
