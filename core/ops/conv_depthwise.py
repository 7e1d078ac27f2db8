"""Depthwise convolution (one input channel per group): on conv.py's phase grid, and directly on NCHW.

On the CPU (numpy float32/64) conv.py calls the direct kernel at the end of this module
(``direct_forward``/``direct_backward``), which needs no phase planes; the phase-grid functions right
below serve cupy, other dtypes and transposed convolutions.

A depthwise kernel has ``kh*kw`` weights per channel. numpy's per-channel broadcast multiply-adds (one
multiply and one add pass per tap) measured ~3x slower than gathering the taps' shifted, contiguous
slices into a small column block and letting BLAS do one batched matrix-vector product per block, so
the work is cut into blocks of channels (and, for big planes, of columns) whose column block stays in
cache, and channel ranges are split across threads (``_threads``).

Shapes follow conv.py: ``planes (s_h*s_w, C, L)``, weight matrix ``wm (g, O/g, taps)`` with ``C == g``,
grid outputs ``(g, O/g, L)`` where ``L = N*Hq*Wq``.
"""

import functools

import numpy as np

from ..backend import array_module
from ._scratch import thread_buffer
from ._threads import num_threads, split_map

# Channel*column elements per block (the column block is taps times this, ~4.5 MB for 3x3): measured
# fastest single-threaded on 144x56x56 .. 960x7x7; smaller blocks pay numpy's per-call overhead more often.
_BLOCK_ELEMS = 1 << 17
# The direct kernel's block: images*channels*output pixels per column block (taps times this).
_DIRECT_BLOCK = 1 << 17
_DIRECT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _blocks(g0, g1, og, lq):
    """(c0, c1, s, e) blocks over channels [g0, g1) and grid columns [0, lq)."""
    cb = max(1, _BLOCK_ELEMS // max(lq, 1))
    step = lq if cb > 1 else max(512, _BLOCK_ELEMS)
    for c0 in range(g0, g1, cb):
        for s in range(0, lq, step):
            yield c0, min(c0 + cb, g1), s, min(s + step, lq)


def _span(s, e, off, lq):
    """How many columns of ``[s, e)`` a tap at flat offset ``off`` can read (the grid's tail reads past the
    end only for outputs that are cropped away)."""
    return max(0, min(e + off, lq) - (s + off))


def _fill(cols, planes, taps, c0, c1, s, e, lq):
    """``cols[:, t, :m] = plane[p][c0:c1, s+off : s+off+m]`` per tap; columns past the plane's end are
    zeroed (they feed only outputs that are cropped away). Returns ``(cb, taps, e - s)`` view."""
    m = e - s
    view = cols[: (c1 - c0) * len(taps) * m].reshape(c1 - c0, len(taps), m)
    for t, (p, off) in enumerate(taps):
        n = _span(s, e, off, lq)
        view[:, t, :n] = planes[p, c0:c1, s + off : s + off + n]
        if n < m:
            view[:, t, n:] = 0
    return view


def depthwise_forward(planes, wm, geom):
    """Grid output ``(g, O/g, L)``: ``sum_t w[:, :, t] * plane[p_t][:, off_t : off_t + L]``, as per-block
    columns of the taps (cheap contiguous copies) and one batched matrix-vector product per block, which
    BLAS runs at full SIMD speed where numpy's per-channel broadcast multiply-adds do not."""
    xp = array_module(planes)
    g, og, ntap = wm.shape
    lq = geom.lq
    out = xp.empty((g, og, lq), dtype=planes.dtype)

    def part(g0, g1):
        cols = xp.empty(_BLOCK_ELEMS * ntap + ntap * lq, dtype=planes.dtype)
        for c0, c1, s, e in _blocks(g0, g1, og, lq):
            view = _fill(cols, planes, geom.taps, c0, c1, s, e, lq)
            xp.matmul(wm[c0:c1], view, out=out[c0:c1, :, s:e])

    split_map(part, g, out.size * ntap, xp)
    return out


def depthwise_backward(planes, gfull, wm, geom, need_planes, need_weight):
    """Gradients of ``depthwise_forward`` from the grid gradient ``gfull (g, O/g, L)``:
    ``(d planes (s_h*s_w, C, L) or None, d wm or None)``."""
    xp = array_module(gfull)
    g, og, ntap = wm.shape
    lq = geom.lq
    nphase = geom.stride[0] * geom.stride[1]
    gplanes = xp.zeros((nphase, g, lq), dtype=gfull.dtype) if need_planes else None
    gwm = xp.zeros(wm.shape, dtype=gfull.dtype) if need_weight else None

    def part(g0, g1):
        cols = xp.empty(_BLOCK_ELEMS * ntap + ntap * lq, dtype=gfull.dtype)
        tmp = xp.empty(og * (_BLOCK_ELEMS + lq), dtype=gfull.dtype)
        for c0, c1, s, e in _blocks(g0, g1, og, lq):
            gs = gfull[c0:c1, :, s:e]
            if need_weight:  # per (channel, output, tap): g dotted with the tap's input columns
                view = _fill(cols, planes, geom.taps, c0, c1, s, e, lq)
                gwm[c0:c1] += xp.matmul(gs, view.transpose(0, 2, 1))
            if need_planes:  # the adjoint multiply-add, into each tap's shifted input columns; BLAS's
                # K=1 outer products and one broadcast (taps, n) product per block both measured slower
                scratch = tmp[: gs.size].reshape(gs.shape)
                for t, (p, off) in enumerate(geom.taps):
                    n = _span(s, e, off, lq)
                    xp.multiply(gs[:, :, :n], wm[c0:c1, :, t : t + 1], out=scratch[:, :, :n])
                    dst = gplanes[p, c0:c1, s + off : s + off + n]
                    dst += scratch[:, 0, :n] if og == 1 else scratch[:, :, :n].sum(axis=1)

    split_map(part, g, gfull.size * ntap, xp)
    return gplanes, gwm


# ------------------------------------------------------------------ direct NCHW kernel (numpy float32/64)
# The phase-grid path above copies the input into phase planes and crops the grid output back to NCHW:
# two extra passes that measured ~20% of a 16x64x56x56 3x3 layer. The kernels below gather each tap's
# columns straight from the NCHW array into the column block (as one flat copy per tap where the output
# grid allows, ``_FlatGather``, else as 2-D windows, ``_Gather``), with zeros where a tap reads past the
# image, and BLAS writes its matrix-vector products straight into the NCHW output. The backward runs the
# same gathers on the output gradient (the input gradient of a stride-s depthwise convolution is, per
# input phase, a stride-1 one). 16x64x56x56 3x3 at one thread: forward 7.7 -> 3.6 ms, fwd+bwd 22 -> 14.5.


def direct_usable(x, geom):
    """Whether ``x``'s depthwise convolution takes the direct NCHW kernel (numpy, float32/64, 4-D: conv3d
    hands 5-D frames to the phase-grid path)."""
    return (geom.groups > 1 and geom.c == geom.groups and type(x) is np.ndarray and x.ndim == 4
            and x.dtype in _DIRECT_DTYPES)


def _window(r, s, size, n_out):
    """Output indices ``[lo, hi)`` whose read ``i*s + r`` lands inside ``[0, size)``."""
    lo = min(n_out, max(0, -(r // s)))  # ceil(-r / s)
    hi = min(n_out, max(lo, (size - 1 - r) // s + 1))
    return lo, hi


class _Gather:
    """``out[n, c*og + o, i, j] = sum_t wm[c, o, t] * src[n, c, k_t, i*sh + r_t, j*sw + c_t]`` (zero where the
    read falls outside ``src``), cut into blocks of (images, channels, output rows) whose column block
    ``(nb, cb, taps, rows, Wo)`` stays in cache.

    ``src`` is ``(N, C, K, H, W)``; ``taps`` lists ``(k, r, c)``; ``out_hw`` the output size."""

    def __init__(self, src, taps, stride, out_hw):
        self.src, self.taps, self.stride, self.out_hw = src, taps, tuple(stride), tuple(out_hw)
        layout = _layout(src.shape, tuple(taps), self.stride, self.out_hw, _DIRECT_BLOCK)
        self.nb, self.cb, self.rows, self.windows, self.blocks, self.copies = layout

    def buffer(self):
        """This thread's column block, its border (reads outside ``src``) zeroed when every block spans
        all output rows (blocks then share the border layout; banded blocks zero theirs in ``fill``)."""
        ho, wo = self.out_hw
        shape = (self.nb, self.cb, len(self.taps), self.rows, wo)
        if self.copies is None:
            return thread_buffer(shape, self.src.dtype)

        def zero_border(cols):
            for t, ((lo, hi), (jlo, jhi)) in enumerate(self.windows):
                _zero_border(cols[:, :, t], lo, hi, jlo, jhi)

        return thread_buffer(shape, self.src.dtype, (shape, self.src.dtype, self.windows), zero_border)

    def fill(self, cols, block):
        """The block's columns ``(nb, cb, taps, rows * Wo)`` (a view of ``cols``)."""
        n0, n1, c0, c1, i0, i1 = block
        src = self.src
        view = cols[: n1 - n0, : c1 - c0, :, : i1 - i0]
        if self.copies is not None:  # blocks span all rows: the slices were worked out once (_layout)
            for t, k, rows, cs, dst_rows, dst_cols in self.copies:
                view[:, :, t, dst_rows, dst_cols] = src[n0:n1, c0:c1, k, rows, cs]
        else:
            sh, sw = self.stride
            for t, ((k, r, c), ((lo, hi), (jlo, jhi))) in enumerate(zip(self.taps, self.windows)):
                dst = view[:, :, t]
                a, b = max(lo, i0), min(hi, i1)
                _zero_border(dst, a - i0, max(a, b) - i0, jlo, jhi)
                if a < b and jlo < jhi:
                    dst[:, :, a - i0 : b - i0, jlo:jhi] = src[n0:n1, c0:c1, k, _span_slice(a, b, sh, r),
                                                              _span_slice(jlo, jhi, sw, c)]
        return view.reshape(n1 - n0, c1 - c0, len(self.taps), -1)

    def run(self, wm, out, bias=None):
        """Write the gathered convolution with weights ``wm (C, og, taps)`` into ``out (N, C*og, Ho, Wo)``."""
        og = wm.shape[1]

        def part(b0, b1):
            cols = self.buffer()
            for block in self.blocks[b0:b1]:
                n0, n1, c0, c1, i0, i1 = block
                dst = out[n0:n1, c0 * og : c1 * og, i0:i1].reshape(n1 - n0, c1 - c0, og, -1)
                np.matmul(wm[c0:c1], self.fill(cols, block), out=dst)
                if bias is not None:
                    dst += bias[c0 * og : c1 * og].reshape(c1 - c0, og, 1)

        split_map(part, len(self.blocks), out.size * len(self.taps))

    def correlate(self, g, og):
        """``sum over blocks of g_block @ cols^T``: ``(C, og, taps)`` for ``g (N, C*og, Ho, Wo)``."""
        return _correlate(self, g, og, lambda block: (slice(block[0], block[1]), slice(block[2], block[3]),
                                                      slice(block[4], block[5])))


def _correlate(gather, g, og, where):
    """Weight gradient of a gather: ``(C, og, taps)``, summed over ``gather``'s blocks (``where(block)``:
    the block's (images, channels[, rows]) slices of ``g``)."""
    c, ntap = gather.src.shape[1], len(gather.taps)

    def part(b0, b1):
        cols = gather.buffer()
        acc = np.zeros((c, og, ntap), dtype=g.dtype)
        for block in gather.blocks[b0:b1]:
            images, chans, *rows = where(block)
            c0, c1 = chans.start, chans.stop
            gb = g[(images, slice(c0 * og, c1 * og), *rows)]
            gb = gb.reshape(gb.shape[0], c1 - c0, og, -1)
            prod = np.matmul(gb, gather.fill(cols, block).transpose(0, 1, 3, 2))
            acc[c0:c1] += prod[0] if gb.shape[0] == 1 else prod.sum(axis=0)
        return acc

    parts = split_map(part, len(gather.blocks), g.size * ntap)
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total


class _FlatGather:
    """``_Gather`` where every tap reads the output grid's own shape: stride 1 with outputs the size of the
    input (MobileNet's 3x3 pad 1), or stride ``s`` whose ``s*Ho x s*Wo`` grid covers the input (3x3 pad 1
    stride 2). A tap is then a flat offset ``qr*Wo + qc`` into one plane per phase ``(r mod s, c mod s)``
    (the input itself at stride 1, else the block's phases copied into a kept, zero-bordered buffer), so
    its columns are ONE contiguous copy across all of the block's planes, after which the few positions
    that wrapped into a neighbouring row or plane are zeroed; the products land straight in the NCHW
    output. Against ``_Gather``'s 2-D window copies: 960x7x7 stride 1 183 -> 126 us, 16x64x56x56 forward
    4.5 -> 4.25 ms, 16x144x56x56 stride 2 forward 7.3 -> 5.5 ms."""

    def __init__(self, src, taps, stride, out_hw):
        self.src, self.taps, self.stride, self.out_hw = src, tuple(taps), tuple(stride), tuple(out_hw)
        self.reads, self.borders, self.cb, self.nb, self.blocks = _flat_layout(
            src.shape[:2], self.taps, self.stride, self.out_hw, num_threads())

    @staticmethod
    def usable(src, stride, out_hw):
        _, _, k, h, w = src.shape
        (sh, sw), (ho, wo) = stride, out_hw
        if k != 1 or 4 * ho * wo > _DIRECT_BLOCK:
            return False
        if (sh, sw) == (1, 1):
            return (ho, wo) == (h, w) and src.flags.c_contiguous
        return sh * ho >= h and sw * wo >= w

    def _phases(self, n0, n1, c0, c1):
        """The block's planes, one flat contiguous array per phase."""
        (sh, sw), (ho, wo) = self.stride, self.out_hw
        nb, cb = n1 - n0, c1 - c0
        if (sh, sw) == (1, 1):
            return [self.src[n0:n1, c0:c1].reshape(-1)]  # contiguous: whole planes of whole images
        h, w = self.src.shape[3:]
        shape = (sh * sw, self.nb, self.cb, ho, wo)
        # grid slots past the input's edge stay zero (the copies below never write them)
        key = (shape, self.src.dtype, self.stride, h, w)
        buf = thread_buffer(shape, self.src.dtype, key, lambda a: a.fill(0), slot="phases")
        planes = []
        for a in range(sh):
            for b in range(sw):
                dst = buf[a * sw + b, :nb, :cb]
                dst[:, :, : -(-(h - a) // sh), : -(-(w - b) // sw)] = self.src[n0:n1, c0:c1, 0, a::sh, b::sw]
                planes.append(dst.reshape(-1))
        return planes

    def buffer(self):
        ho, wo = self.out_hw
        return thread_buffer((len(self.taps), self.nb * self.cb * ho * wo), self.src.dtype)

    def fill(self, cols, block):
        """The block's columns as a ``(nb, cb, taps, Ho*Wo)`` view of ``cols``."""
        n0, n1, c0, c1 = block
        ho, wo = self.out_hw
        nb, cb, hw = n1 - n0, c1 - c0, ho * wo
        planes = self._phases(n0, n1, c0, c1)
        span = nb * cb * hw
        for t, (p, off) in enumerate(self.reads):
            row, flat = cols[t, :span], planes[p]
            if off >= 0:
                row[: span - off] = flat[off:]
            else:
                row[-off:] = flat[: span + off]
            if self.borders[t]:  # positions that wrapped past an edge
                grid = row.reshape(nb * cb, ho, wo)
                for where in self.borders[t]:
                    grid[where] = 0
        return cols[:, :span].reshape(len(self.taps), nb, cb, hw).transpose(1, 2, 0, 3)

    def run(self, wm, out, bias=None):
        og = wm.shape[1]

        def part(b0, b1):
            cols = self.buffer()
            for block in self.blocks[b0:b1]:
                n0, n1, c0, c1 = block
                dst = out[n0:n1, c0 * og : c1 * og].reshape(n1 - n0, c1 - c0, og, -1)
                np.matmul(wm[c0:c1], self.fill(cols, block), out=dst)
                if bias is not None:
                    dst += bias[c0 * og : c1 * og].reshape(c1 - c0, og, 1)

        split_map(part, len(self.blocks), out.size * len(self.taps))

    def correlate(self, g, og):
        """As ``_Gather.correlate``."""
        return _correlate(self, g, og, lambda block: (slice(block[0], block[1]), slice(block[2], block[3])))


@functools.lru_cache(maxsize=512)
def _flat_layout(nc, taps, stride, out_hw, threads):
    """What ``_FlatGather`` works out from the shapes alone (cached: a layer calls with the same shapes
    every time, and this measured ~35 us of a 220 us 1x384x14x14 call): per tap its (phase, flat offset)
    and the index tuples of the wrapped border to zero (only the non-empty ones), the block sizes and
    the blocks."""
    n, c = nc
    (sh, sw), (ho, wo) = stride, out_hw
    reads = tuple(((r % sh) * sw + cc % sw, (r // sh) * wo + cc // sw) for _, r, cc in taps)
    borders = []
    for _, r, cc in taps:
        (lo, hi), (jlo, jhi) = _window(r // sh, 1, ho, ho), _window(cc // sw, 1, wo, wo)
        regions = [(Ellipsis, slice(0, lo), slice(None))] if lo > 0 else []
        regions += [(Ellipsis, slice(hi, None), slice(None))] if hi < ho else []
        if lo < hi:
            regions += [(Ellipsis, slice(lo, hi), slice(0, jlo))] if jlo > 0 else []
            regions += [(Ellipsis, slice(lo, hi), slice(jhi, None))] if jhi < wo else []
        borders.append(tuple(regions))
    per = max(1, _DIRECT_BLOCK // max(ho * wo, 1))
    cb = min(c, per)
    nb = min(n, max(1, per // c)) if cb == c else 1
    if cb < c:  # equal channel blocks, as many as a multiple of the threads for one image (1x32x112x112:
        count = -(-c // cb)  # 10+10+10+2 channels left one thread 1.7x the other's work)
        if n == 1:
            count = -(-count // threads) * threads
        cb = -(-c // count)
    blocks = tuple((n0, min(n0 + nb, n), c0, min(c0 + cb, c))
                   for n0 in range(0, n, nb) for c0 in range(0, c, cb))
    return reads, tuple(borders), cb, nb, blocks


def _gather(src, taps, stride, out_hw):
    """The gather for these arguments: ``_FlatGather`` where it applies. (A variant that copied each block
    into a zero-padded buffer and cropped the products back measured faster on 960x7x7, 156 against
    183 us, but slower on 16x64x56x56, 5.0 against 4.5 ms, and was dropped.)"""
    if _FlatGather.usable(src, tuple(stride), tuple(out_hw)):
        return _FlatGather(src, taps, stride, out_hw)
    return _Gather(src, taps, stride, out_hw)


@functools.lru_cache(maxsize=512)
def _layout(shape, taps, stride, out_hw, block):
    """How ``_Gather`` cuts the work for ``src`` of ``shape``: ``(nb, cb, rows, windows, blocks, copies)``.
    Cached: a layer calls with the same shapes every time, and working this out measured ~1/3 of a tiny
    (1x8x8x8) depthwise call. ``copies`` (per tap: index, k, source rows, source cols, column-block rows,
    column-block cols) is None when blocks are bands of rows (each then computes its own)."""
    n, c, _, h, w = shape
    ho, wo = out_hw
    if ho * wo >= block:  # big planes: one image and channel at a time, a band of rows per block
        nb = cb = 1
        rows = max(1, block // max(wo, 1))
    else:
        per = block // max(ho * wo, 1)
        cb = min(c, per)
        nb = min(n, max(1, per // c)) if cb == c else 1
        rows = ho
    windows = tuple((_window(r, stride[0], h, ho), _window(cc, stride[1], w, wo)) for _, r, cc in taps)
    blocks = tuple(
        (n0, min(n0 + nb, n), c0, min(c0 + cb, c), i0, min(i0 + rows, ho))
        for n0 in range(0, n, nb)
        for c0 in range(0, c, cb)
        for i0 in range(0, ho, rows)
    )
    copies = None
    if rows == ho:
        copies = tuple(
            (t, k, _span_slice(lo, hi, stride[0], r), _span_slice(jlo, jhi, stride[1], cc), slice(lo, hi),
             slice(jlo, jhi))
            for t, ((k, r, cc), ((lo, hi), (jlo, jhi))) in enumerate(zip(taps, windows))
            if lo < hi and jlo < jhi
        )
    return nb, cb, rows, windows, blocks, copies


def _span_slice(lo, hi, s, off):
    """Source indices ``lo*s + off, ..., (hi-1)*s + off``."""
    return slice(lo * s + off, (hi - 1) * s + off + 1, s)


def _zero_border(dst, lo, hi, jlo, jhi):
    """Zero ``dst[..., rows, cols]`` outside rows ``[lo, hi)`` x cols ``[jlo, jhi)``."""
    dst[..., :lo, :] = 0
    dst[..., hi:, :] = 0
    dst[..., lo:hi, :jlo] = 0
    dst[..., lo:hi, jhi:] = 0


def _forward_taps(geom):
    """``(0, r, c)`` per kernel tap in (i, j) order: where output (0, 0) reads the unpadded input."""
    (dh, dw), (top, _, left, _) = geom.dilation, geom.pad
    kh, kw = geom.k
    return tuple((0, i * dh - top, j * dw - left) for i in range(kh) for j in range(kw))


def direct_forward(x, w, bias, geom):
    """Depthwise convolution of ``x (N, C, H, W)`` with ``w (O, 1, kh, kw)`` (``O = C * og``) and optional
    ``bias (O,)`` -> ``(N, O, Ho, Wo)``, read straight from NCHW (no padded copy, no phase planes)."""
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    out = np.empty((n, o) + tuple(geom.out_hw), dtype=x.dtype)
    gather = _gather(x[:, :, None], _forward_taps(geom), geom.stride, geom.out_hw)
    gather.run(w.reshape(c, o // c, kh * kw), out, bias)
    return out


def direct_backward(x, g, w, geom, need_x, need_w):
    """``(d x, d w)`` of ``direct_forward`` for the output gradient ``g (N, O, Ho, Wo)`` (None where not
    needed)."""
    gw = None
    if need_w:
        gather = _gather(x[:, :, None], _forward_taps(geom), geom.stride, geom.out_hw)
        gw = gather.correlate(g, w.shape[0] // geom.c).reshape(w.shape)
    return (_input_grad(g, w, geom) if need_x else None), gw


def _input_grad(g, w, geom):
    """``d x``: per phase ``(a, b)`` of the input (every position for stride 1), a stride-1 gather over the
    output gradient with the taps that land on that phase, each output channel of a group a source row."""
    n, o = g.shape[:2]
    c = geom.c
    og, (h, wd) = o // c, geom.in_hw
    (sh, sw), (dh, dw), (top, _, left, _) = geom.stride, geom.dilation, geom.pad
    kh, kw = geom.k
    src = g.reshape(n, c, og, *g.shape[2:])
    w4 = w.reshape(c, og, kh, kw)
    gx = np.empty((n, c, h, wd), dtype=g.dtype) if (sh, sw) == (1, 1) else np.zeros((n, c, h, wd), g.dtype)
    for a in range(min(sh, h)):
        rows = [(i, (a + top - i * dh) // sh) for i in range(kh) if (a + top - i * dh) % sh == 0]
        for b in range(min(sw, wd)):
            cols = [(j, (b + left - j * dw) // sw) for j in range(kw) if (b + left - j * dw) % sw == 0]
            if not rows or not cols:
                continue  # no tap reaches this phase: its gradient stays zero
            taps = [(k, r, cc) for k in range(og) for _, r in rows for _, cc in cols]
            wp = w4[:, :, [i for i, _ in rows]][:, :, :, [j for j, _ in cols]].reshape(c, 1, -1)
            phase_hw = (-(-(h - a) // sh), -(-(wd - b) // sw))
            gather = _gather(src, taps, (1, 1), phase_hw)
            if (sh, sw) == (1, 1):
                gather.run(wp, gx)
            else:
                part = np.empty((n, c) + phase_hw, dtype=g.dtype)
                gather.run(wp, part)
                gx[:, :, a::sh, b::sw] = part
    return gx
