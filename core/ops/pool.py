"""2-D pooling primitives (max, average, adaptive average, adaptive max) with fused backward.

Windows are visited one kernel tap at a time: tap ``(i, j)`` of every window is one strided slice of
the (padded) input, so a pooling is ``kh*kw`` vectorized passes over output-sized arrays. Max pooling
keeps the winning tap per output (int8/int16) and scatters gradients back by flat index (no ``np.add.at``).
Without autograd (eval, no_grad) max pooling keeps no taps, and windows from 3x3 on are reduced as a max
along rows then along columns (``kh + kw`` passes instead of ``kh * kw``).
Planes are processed in parallel slices on the CPU.
Backward runs on raw arrays; under ``create_graph=True`` (grad mode on while it runs) each op records a
differentiable backward instead: max pooling scatters through ``pool_adjoint``'s scatter/gather pair,
the average poolings through adjoint ops whose own backward is the pooling itself.
"""

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._threads import split_map
from .pool_adjoint import PlaneScatterOp

_BLOCK_ELEMS = 1 << 19  # input elements per block of planes (CPU): ~2 MB of float32, cache-sized
_MASKED_TAPS_MAX = 16  # up to this many taps, max-pool backward makes one masked pass per tap


def pool_out_size(size, k, s, p, d, ceil_mode):
    """Output length of one pooled axis, PyTorch's rule (a ceil-mode window must start inside the input
    or its left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class PoolGeometry:
    """Windows of a 2-D pooling: kernel ``k``, ``stride``, symmetric ``pad``, ``dilation`` per axis."""

    def __init__(self, in_hw, k, stride, pad, dilation, ceil_mode):
        self.in_hw, self.k, self.stride, self.pad, self.dilation = tuple(in_hw), k, stride, pad, dilation
        self.out_hw = tuple(pool_out_size(*a, ceil_mode) for a in zip(in_hw, k, stride, pad, dilation))
        # The padded extent that windows reach (ceil mode can reach past the right padding).
        self.padded = tuple(
            max(n + 2 * p, (o - 1) * s + d * (kk - 1) + 1)
            for n, p, o, s, d, kk in zip(in_hw, pad, self.out_hw, stride, dilation, k)
        )
        # Windows never share an input element: each tap slice can be written, not added.
        self.disjoint = all(d * (kk - 1) < s for kk, s, d in zip(k, stride, dilation))

    def padded_input(self, x, fill):
        """``x`` inside a ``fill``-valued border (``x`` itself when no border is needed)."""
        (ph, pw), (h, w) = self.pad, self.in_hw
        if self.padded == (h, w):
            return x
        xp = array_module(x)
        out = xp.full(x.shape[:-2] + self.padded, fill, dtype=x.dtype)
        out[..., ph : ph + h, pw : pw + w] = x
        return out

    def tap_slices(self):
        """For each tap, the index of its strided slice into the padded input."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.k, self.stride, self.dilation, self.out_hw
        return [
            (
                Ellipsis,
                slice(i * dh, i * dh + (ho - 1) * sh + 1, sh),
                slice(j * dw, j * dw + (wo - 1) * sw + 1, sw),
            )
            for i in range(kh)
            for j in range(kw)
        ]

    def unpad(self, gpad):
        (ph, pw), (h, w) = self.pad, self.in_hw
        return (
            gpad
            if gpad.shape[-2:] == (h, w)
            else array_module(gpad).ascontiguousarray(gpad[..., ph : ph + h, pw : pw + w])
        )

    def flat_indices(self, tap):
        """PyTorch's ``return_indices``: flat ``h * W + w`` input position of each window's winning tap."""
        xp = array_module(tap)
        (_, kw), (sh, sw), (ph, pw) = self.k, self.stride, self.pad
        (dh, dw), (ho, wo) = self.dilation, self.out_hw
        tap = tap.astype(np.int64)
        rows = (xp.arange(ho) * sh - ph).reshape(-1, 1) + (tap // kw) * dh
        cols = (xp.arange(wo) * sw - pw) + (tap % kw) * dw
        return rows * self.in_hw[1] + cols


def _tap_dtype(ntaps):
    return np.int8 if ntaps <= 127 else np.int16 if ntaps <= 32767 else np.int32


def _planes(a):
    """``a (..., H, W)`` as ``(planes, H, W)`` (a view when possible)."""
    return a.reshape((-1,) + a.shape[-2:])


def _max_tree(xp, views):
    """``(max, first index of the max)`` over a list of same-shape arrays, combined pairwise in order:
    the left operand wins ties, so the first maximum in list order wins, as in PyTorch's scan. The
    tree needs no masked writes into a running index array (measured ~2x faster than a linear scan)."""
    dt = np.dtype(_tap_dtype(len(views)))
    level = list(zip(views, range(len(views))))
    while len(level) > 1:
        nxt = []
        for (lv, li), (rv, ri) in zip(level[0::2], level[1::2]):
            right = xp.greater(rv, lv)
            val = xp.maximum(lv, rv)
            # li + right * (ri - li): branch-free; xp.where on a random mask mispredicts its branches
            # (0.41 ms against 0.007 ms for this blend on a 41x56x56 block of int8 taps)
            leaves = isinstance(ri, int) and isinstance(li, int)
            gap = dt.type(ri - li) if leaves else xp.subtract(ri, li, dtype=dt)
            step = (right.view(np.int8) if dt == np.int8 else right.astype(dt)) * gap
            idx = step if isinstance(li, int) and not li else xp.add(step, li, dtype=dt)
            nxt.append((val, idx))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    val, idx = level[0]
    return val, idx


def _blocks(xp, a, b, plane_elems):
    """``[a, b)`` cut into runs of planes small enough (on the CPU) that a block's tap views and
    temporaries stay in cache: pooling passes are memory-bound, and blocking made them 2-3x faster."""
    step = b - a if xp is not np else max(1, _BLOCK_ELEMS // max(plane_elems, 1))
    return [(s, min(s + step, b)) for s in range(a, b, step)]


def _axis_taps(o, n, s, p, d, k):
    """Taps of one pooled axis that touch the input: ``(lo, hi, start)`` per tap, where outputs
    ``[lo, hi)`` read input ``start, start + s, ...`` (the rest of that tap falls in the padding)."""
    taps = []
    for t in range(k):
        off = t * d - p  # input position of this tap in output 0's window
        lo = min(o, -(off // s)) if off < 0 else 0  # first output whose tap is at >= 0
        hi = max(lo, min(o, (n - 1 - off) // s + 1))
        taps.append((lo, hi, lo * s + off))
    return taps


def _axis_slice(axis, a, b, step=1):
    return (Ellipsis, slice(a, b, step)) if axis == -1 else (Ellipsis, slice(a, b, step), slice(None))


def _max_along(xp, src, dst, taps, s, axis, fill):
    """``dst`` = maximum over ``taps`` (from ``_axis_taps``) of strided slices of ``src`` along ``axis``."""
    o = dst.shape[axis]
    full = [t for t in taps if t[0] == 0 and t[1] == o]
    if full:  # a copy, then in-place maxima (measured faster than a first maximum of two strided taps)
        lo, hi, st = full[0]
        xp.copyto(dst, src[_axis_slice(axis, st, st + (o - 1) * s + 1, s)])
    else:
        dst.fill(fill)
    for lo, hi, st in taps:
        if (full and (lo, hi, st) == full[0]) or hi <= lo:
            continue
        d = dst[_axis_slice(axis, lo, hi)]
        xp.maximum(d, src[_axis_slice(axis, st, st + (hi - lo - 1) * s + 1, s)], out=d)  # carries NaN


def _separable(geom):
    """Untracked max pooling as a max along rows, then along columns: ``kw + kh`` passes instead of
    ``kh * kw`` and no padded copy. It pays from 3x3 windows on (3x3/2 pad 1 on 16x64x112x112:
    12.6 -> 10.0 ms, 1 thread); 2x2 windows and single rows/columns stay on the tap loop (2x2/2:
    1.3 vs 1.7 ms)."""
    kh, kw = geom.k
    return kh > 1 and kw > 1 and kh * kw > 4


def max_pool_forward(x, geom, track=True):
    """Raw max pooling of ``x (..., H, W)``: ``(out, winning tap per output or None)``; ties go to the
    first tap in row-major order, as in PyTorch. Without ``track`` only the maxima are computed (NaN
    wins, as in PyTorch; with ``track`` the values carry NaN too, the taps of such windows are unspecified).
    Planes are split across threads (see ``_threads``)."""
    xp = array_module(x)
    fill = -np.inf if dtypes.is_float(x.dtype) else np.iinfo(x.dtype).min  # bfloat16's numpy kind is 'V'
    x3 = _planes(x)
    out = xp.empty((x3.shape[0],) + geom.out_hw, dtype=x.dtype)
    tap = xp.zeros(out.shape, dtype=_tap_dtype(geom.k[0] * geom.k[1])) if track else None
    slices = geom.tap_slices()
    separable = not track and _separable(geom)
    if separable:
        h, wo = geom.in_hw[0], geom.out_hw[1]
        row_taps, col_taps = [
            _axis_taps(o, n, s, p, d, k)
            for o, n, s, p, d, k in zip(geom.out_hw, geom.in_hw, geom.stride, geom.pad, geom.dilation, geom.k)
        ]

    # Tracked strided windows: taps read contiguous rows of stride-phase copies of the input (one
    # de-interleaving pass in place of the padded copy; a ufunc on 3-D strided views ran ~6x slower than
    # on contiguous arrays). Tracked 3x3/2 pad 1 on 16x64x112x112: 24.4 -> 19.8 ms, 2x2/2 on 128x32x32x32:
    # 2.96 -> 2.11 ms (1 thread); untracked 2x2/2 it was slower (1.35 -> 1.57 ms), so not there.
    phases = _stride_phases(geom) if track and geom.stride != (1, 1) else None

    def part(a, b):
        blocks = _blocks(xp, a, b, x3.shape[1] * x3.shape[2])
        if separable:
            rows_max = xp.empty((blocks[0][1] - blocks[0][0], h, wo), dtype=x.dtype)  # per thread
        for c, d in blocks:
            o = out[c:d]
            if separable:
                r = rows_max[: d - c]
                _max_along(xp, x3[c:d], r, col_taps, geom.stride[1], -1, fill)
                _max_along(xp, r, o, row_taps, geom.stride[0], -2, fill)
                continue
            if phases is not None:
                views = _phase_views(xp, x3[c:d], phases, geom.out_hw, fill)
            else:
                xpad = geom.padded_input(x3[c:d], fill)
                views = [xpad[s] for s in slices]
            if not track:
                o[...] = views[0]
                for v in views[1:]:
                    xp.maximum(o, v, out=o)  # carries NaN, as PyTorch does
                continue
            o[...], tap[c:d] = _max_tree(xp, views)

    split_map(part, x3.shape[0], x.size, xp)
    lead = x.shape[:-2]
    return out.reshape(lead + geom.out_hw), (tap.reshape(lead + geom.out_hw) if track else None)


def _phase_views(xp, x, phases, out_hw, fill):
    """Per tap, the ``out_hw`` view of ``x (planes, H, W)``'s padded input that the tap reads, taken from
    ``fill``-bordered stride-phase copies (``_stride_phases``), so every view has contiguous rows."""
    taps, grids, _ = phases
    planes = {}
    for p, (shape, in_rows, ph_rows, in_cols, ph_cols) in grids.items():
        a = xp.empty((x.shape[0],) + shape, dtype=x.dtype)
        inner = a[:, ph_rows, ph_cols]
        if inner.shape[1:] != shape:
            a.fill(fill)
        inner[...] = x[:, in_rows, in_cols]
        planes[p] = a
    ho, wo = out_hw
    return [planes[p][:, r : r + ho, c : c + wo] for p, r, c in taps]


def _stride_phases(geom):
    """Strided windows cut the padded input into ``sh * sw`` phase grids (rows ``= r mod sh``, columns
    ``= c mod sw``); every tap lands in one of them at a fixed offset, so the tracked forward reads each
    tap as contiguous rows of a phase copy, and the backward adds each tap's gradients to a contiguous
    block of rows instead of a strided one (a strided add was 3/4 of the time of a 3x3/2 pool's backward).
    Returns ``(taps, grids, stride)``: per tap ``(phase, row offset, column offset)``, and per used phase
    ``(grid shape, input rows slice, phase rows slice, same for columns)``."""
    (kh, kw), (sh, sw), (dh, dw) = geom.k, geom.stride, geom.dilation
    (ph, pw), (h, w), (hp, wp) = geom.pad, geom.in_hw, geom.padded

    def axis(p, s, pad, n, padded):
        count = -(-(padded - p) // s)  # padded positions p, p + s, ... of this phase
        first = -(-max(pad - p, 0) // s)  # first of them inside the input
        last = min(count, (n - 1 + pad - p) // s + 1)
        return count, slice(p + first * s - pad, n, s), slice(first, max(first, last))

    taps = [((i * dh % sh, j * dw % sw), i * dh // sh, j * dw // sw) for i in range(kh) for j in range(kw)]
    grids = {}
    for (pr, pc), _, _ in taps:
        rows, cols = axis(pr, sh, ph, h, hp), axis(pc, sw, pw, w, wp)
        grids[pr, pc] = ((rows[0], cols[0]), rows[1], rows[2], cols[1], cols[2])
    return taps, grids, (sh, sw)


def _phase_scatter(xp, g, tap, gx, phases, hit, routed):
    """Max-pool backward of one block of planes through stride phases (``_stride_phases``)."""
    taps, grids, (sh, sw) = phases
    ho, wo = g.shape[-2:]
    acc = {p: xp.zeros((g.shape[0],) + grids[p][0], dtype=g.dtype) for p in grids}
    for t, (p, r, c) in enumerate(taps):
        xp.equal(tap, t, out=hit)
        xp.multiply(g, hit, out=routed)
        acc[p][:, r : r + ho, c : c + wo] += routed
    if len(grids) < sh * sw:  # windows skip some phases: their input elements get no gradient
        gx.fill(0)
    for p, (_, in_rows, ph_rows, in_cols, ph_cols) in grids.items():
        gx[:, in_rows, in_cols] = acc[p][:, ph_rows, ph_cols]


def _tiled_backward(xp, g3, tap3, gx, geom):
    """Max-pool backward when the windows tile the input (kernel = stride, no padding or dilation: 2x2/2):
    each tap's gradients are written straight into its positions of ``gx`` seen as ``(planes, Ho, kh, Wo,
    kw)``, so every input element is written once (8 passes for 2x2 against 14 through a zeroed padded
    copy: LeNet's 256x6x28x28 pool 1.7 -> 1.0 ms). Rows and columns past the last window get zeros."""
    (kh, kw), (ho, wo) = geom.k, geom.out_hw
    h, w = geom.in_hw

    def part(a, b):
        for c, d in _blocks(xp, a, b, h * w):
            tiles = gx[c:d, : ho * kh, : wo * kw].reshape(d - c, ho, kh, wo, kw)
            hit = xp.empty((d - c, ho, wo), dtype=bool)
            for t in range(kh * kw):
                xp.equal(tap3[c:d], t, out=hit)
                xp.multiply(g3[c:d], hit, out=tiles[:, :, t // kw, :, t % kw])
            gx[c:d, ho * kh :] = 0
            gx[c:d, : ho * kh, wo * kw :] = 0

    split_map(part, g3.shape[0], g3.size * 4, xp)
    return gx


def max_pool_backward(g, tap, geom):
    """Route ``g`` to each window's winning input element. Few taps: one masked pass per tap over
    cache-sized blocks; many taps (large windows): a scatter by flat index (an assignment when windows are
    disjoint, a bincount where they overlap), whose cost does not grow with the window."""
    xp = array_module(g)
    (kh, kw), (sh, sw), (dh, dw) = geom.k, geom.stride, geom.dilation
    (ho, wo), (hp, wp) = geom.out_hw, geom.padded
    g3, tap3 = _planes(g), _planes(tap)
    gx = xp.empty((g3.shape[0],) + geom.in_hw, dtype=g.dtype)
    if (kh, kw) == (sh, sw) and (dh, dw) == (1, 1) and not any(geom.pad) and kh * kw <= _MASKED_TAPS_MAX \
            and ho * kh <= geom.in_hw[0] and wo * kw <= geom.in_hw[1]:  # ceil_mode may overhang: not tiled
        return _tiled_backward(xp, g3, tap3, gx, geom).reshape(g.shape[:-2] + geom.in_hw)
    if kh * kw <= _MASKED_TAPS_MAX:
        slices = geom.tap_slices()

        phased = not geom.disjoint and (sh > 1 or sw > 1)
        if phased:
            phases = _stride_phases(geom)

        def part(a, b):
            for c, d in _blocks(xp, a, b, hp * wp):
                hit = xp.empty((d - c, ho, wo), dtype=bool)
                routed = xp.empty((d - c, ho, wo), dtype=g.dtype)
                if phased:
                    _phase_scatter(xp, g3[c:d], tap3[c:d], gx[c:d], phases, hit, routed)
                    continue
                gpad = xp.zeros((d - c, hp, wp), dtype=g.dtype)
                for t, s in enumerate(slices):
                    xp.equal(tap3[c:d], t, out=hit)
                    xp.multiply(g3[c:d], hit, out=routed)
                    if geom.disjoint:
                        gpad[s] = routed
                    else:
                        gpad[s] += routed
                (ph, pw), (h, w) = geom.pad, geom.in_hw
                gx[c:d] = gpad[:, ph : ph + h, pw : pw + w]

        split_map(part, g3.shape[0], g.size * 4, xp)
        return gx.reshape(g.shape[:-2] + geom.in_hw)
    offsets = xp.asarray([i * dh * wp + j * dw for i in range(kh) for j in range(kw)], dtype=np.int64)
    base = (xp.arange(ho, dtype=np.int64) * (sh * wp)).reshape(-1, 1) + xp.arange(wo, dtype=np.int64) * sw

    def scatter(a, b):
        idx = offsets[tap3[a:b]]
        idx += base
        idx += (xp.arange(b - a, dtype=np.int64) * (hp * wp)).reshape(-1, 1, 1)
        size = (b - a) * hp * wp
        if geom.disjoint:
            gpad = xp.zeros(size, dtype=g.dtype)
            gpad[idx.reshape(-1)] = g3[a:b].reshape(-1)
        else:
            gpad = xp.bincount(idx.reshape(-1), weights=g3[a:b].reshape(-1), minlength=size).astype(g.dtype)
        gx[a:b] = geom.unpad(gpad.reshape(b - a, hp, wp))

    split_map(scatter, g3.shape[0], g.size * 4, xp)
    return gx.reshape(g.shape[:-2] + geom.in_hw)


class MaxPool2dOp(Op):
    """Max pooling over the last two dims; ``indices_out`` (a list), if given, receives the winning taps."""

    def forward(self, x, geom=None, indices_out=None):
        out, tap = max_pool_forward(x, geom, track=self.recording or indices_out is not None)
        if indices_out is not None:
            indices_out.append(tap)
        if self.recording:
            self.geom = geom
            self.save(tap)
        return out

    def backward(self, g):
        (tap,) = self.saved_values()
        geom = self.geom
        if is_grad_enabled():  # create_graph: a recorded scatter into the padded input
            crop = geom.pad + geom.in_hw
            return PlaneScatterOp.apply(g, idx=padded_flat_index(tap, geom), canvas_hw=geom.padded, crop=crop)
        return Tensor._wrap(max_pool_backward(g._data, tap, geom))


def padded_flat_index(tap, geom):
    """Flat position ``row * W_padded + col`` in the padded input of each window's winning tap."""
    xp = array_module(tap)
    (_, kw), (sh, sw), (dh, dw), (ho, wo) = geom.k, geom.stride, geom.dilation, geom.out_hw
    wp = geom.padded[1]
    tap = tap.astype(np.int64)
    rows = (xp.arange(ho, dtype=np.int64) * sh).reshape(-1, 1) + (tap // kw) * dh
    cols = xp.arange(wo, dtype=np.int64) * sw + (tap % kw) * dw
    return rows * wp + cols


def avg_divisor(geom, count_include_pad, divisor_override, xp):
    """The ``(Ho, Wo)`` divisor of each window, as PyTorch: window size clipped to the padded input, or
    (without ``count_include_pad``) to the input; ``divisor_override`` replaces both."""
    if divisor_override:
        return divisor_override
    sizes = []
    for n, k, s, p, o in zip(geom.in_hw, geom.k, geom.stride, geom.pad, geom.out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    return xp.asarray(np.outer(sizes[0], sizes[1]))


class AvgPool2dOp(Op):
    """Average pooling over the last two dims; ``divisor`` is a number or an ``(Ho, Wo)`` array."""

    def forward(self, x, geom=None, divisor=None):
        xp = array_module(x)
        x3 = _planes(x)
        out = xp.empty((x3.shape[0],) + geom.out_hw, dtype=x.dtype)
        div = divisor if np.isscalar(divisor) else xp.asarray(divisor, dtype=x.dtype)
        slices = geom.tap_slices()

        def part(a, b):
            xpad, o = geom.padded_input(x3[a:b], 0), out[a:b]
            o[...] = xpad[slices[0]]
            for s in slices[1:]:
                o += xpad[s]
            o /= div

        split_map(part, x3.shape[0], x.size, xp)
        if self.recording:
            self.geom, self.div = geom, div
        return out.reshape(x.shape[:-2] + geom.out_hw)

    def backward(self, g):
        if is_grad_enabled():  # create_graph: the (linear) backward as an op of its own
            return AvgPoolAdjointOp.apply(g, geom=self.geom, divisor=self.div)
        return Tensor._wrap(avg_pool_backward(g._data, self.geom, self.div))


def avg_pool_backward(gd, geom, div):
    """Raw average-pool gradient: each output's ``g / divisor`` added over its window."""
    xp = array_module(gd)
    g3 = _planes(gd)
    gx = xp.empty((g3.shape[0],) + geom.in_hw, dtype=gd.dtype)

    (ph, pw), (h, w) = geom.pad, geom.in_hw
    slices = geom.tap_slices()

    def part(a, b):
        for c, d in _blocks(xp, a, b, h * w):  # cache-sized blocks: the taps revisit each gpad row
            gs = g3[c:d] / div
            gpad = xp.zeros((d - c,) + geom.padded, dtype=gd.dtype)
            for s in slices:
                if geom.disjoint:
                    gpad[s] = gs
                else:
                    gpad[s] += gs
            gx[c:d] = gpad[:, ph : ph + h, pw : pw + w]

    split_map(part, g3.shape[0], gd.size * 4, xp)
    return gx.reshape(gd.shape[:-2] + geom.in_hw)


class AvgPoolAdjointOp(Op):
    """Average pooling's gradient map (the adjoint of a linear map), whose own gradient is the pooling."""

    def forward(self, g, geom=None, divisor=None):
        self.geom, self.div = geom, divisor
        return avg_pool_backward(g, geom, divisor)

    def backward(self, gg):
        return AvgPool2dOp.apply(gg, geom=self.geom, divisor=self.div)


def adaptive_windows(n, o):
    """PyTorch's adaptive windows along one axis: starts ``floor(i*n/o)``, ends ``ceil((i+1)*n/o)``."""
    i = np.arange(o)
    return (i * n) // o, -(-((i + 1) * n) // o)


def adaptive_matrix(n, o, dtype):
    """``(o, n)`` averaging matrix of adaptive average pooling along one axis."""
    start, end = adaptive_windows(n, o)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _apply_axis(xp, a, mat, axis):
    """``mat (o, n)`` applied along ``axis`` of ``a`` (one GEMM through tensordot)."""
    return xp.moveaxis(xp.tensordot(mat, a, axes=([1], [axis])), 0, axis)


class AdaptiveAvgPool2dOp(Op):
    """Adaptive average pooling as two small matrix products (rows, then columns)."""

    def forward(self, x, out_hw=None):
        xp = array_module(x)
        h, w = x.shape[-2:]
        mh, mw = (xp.asarray(adaptive_matrix(n, o, x.dtype)) for n, o in zip((h, w), out_hw))
        if self.recording:
            self.mats = mh, mw
        y = _apply_axis(xp, _apply_axis(xp, x, mw, x.ndim - 1), mh, x.ndim - 2)
        return xp.ascontiguousarray(y)

    def backward(self, g):
        if is_grad_enabled():  # create_graph: the (linear) backward as an op of its own
            return AdaptiveAvgAdjointOp.apply(g, mats=self.mats)
        return Tensor._wrap(_adaptive_avg_adjoint(g._data, self.mats))


def _adaptive_avg_adjoint(gd, mats):
    xp = array_module(gd)
    mh, mw = mats
    gx = _apply_axis(xp, _apply_axis(xp, gd, mw.T, gd.ndim - 1), mh.T, gd.ndim - 2)
    return xp.ascontiguousarray(gx)


class AdaptiveAvgAdjointOp(Op):
    """Adaptive average pooling's gradient map; its gradient is the pooling (the same two matrices)."""

    def forward(self, g, mats=None):
        self.mats = mats
        return _adaptive_avg_adjoint(g, mats)

    def backward(self, gg):
        return AdaptiveAvgPool2dOp.apply(gg, out_hw=(self.mats[0].shape[0], self.mats[1].shape[0]))


class AdaptiveMaxPool2dOp(Op):
    """Adaptive max pooling: windows of varying size, visited tap by tap through gathers (a window shorter
    than the longest repeats its last element, which cannot change the max or its first position)."""

    def forward(self, x, out_hw=None, indices_out=None):
        xp = array_module(x)
        h, w = x.shape[-2:]
        (sh, eh), (sw, ew) = adaptive_windows(h, out_hw[0]), adaptive_windows(w, out_hw[1])
        best = idx = None
        for di in range(int((eh - sh).max())):
            rows = xp.asarray(np.minimum(sh + di, eh - 1))
            xr = xp.take(x, rows, axis=-2)
            for dj in range(int((ew - sw).max())):
                cols = xp.asarray(np.minimum(sw + dj, ew - 1))
                v = xp.take(xr, cols, axis=-1)
                here = rows.reshape(-1, 1) * w + cols
                if best is None:
                    best, idx = v, xp.broadcast_to(here, v.shape).copy()
                    continue
                better = v > best
                best = xp.maximum(best, v)
                idx = xp.where(better, here, idx)
        if indices_out is not None:
            indices_out.append(idx)
        if self.recording:
            self.in_shape = x.shape
            self.save(idx)
        return best

    def backward(self, g):
        (idx,) = self.saved_values()
        if is_grad_enabled():  # create_graph: a recorded scatter (its gradient is the matching gather)
            h, w = self.in_shape[-2:]
            return PlaneScatterOp.apply(g, idx=idx, canvas_hw=(h, w), crop=(0, 0, h, w))
        return Tensor._wrap(scatter_flat(g._data, idx, self.in_shape))


def scatter_flat(g, idx, in_shape):
    """Sum ``g (..., Ho, Wo)`` into a zero ``in_shape`` array at plane positions ``idx`` (``h * W + w``)."""
    xp = array_module(g)
    hw = in_shape[-2] * in_shape[-1]
    planes = int(np.prod(in_shape[:-2], dtype=np.int64))
    flat = idx.reshape(planes, -1) + (xp.arange(planes) * hw).reshape(-1, 1)
    out = xp.bincount(flat.ravel(), weights=g.reshape(-1), minlength=planes * hw)
    return out.astype(g.dtype).reshape(in_shape)
