"""Depthwise convolution (one input channel per group) on conv.py's phase grid.

A depthwise kernel has ``kh*kw`` weights per channel. numpy's per-channel broadcast multiply-adds (one
multiply and one add pass per tap) measured ~3x slower than gathering the taps' shifted, contiguous
slices into a small column block and letting BLAS do one batched matrix-vector product per block, so
the work is cut into blocks of channels (and, for big planes, of columns) whose column block stays in
cache, and channel ranges are split across threads (``_threads``).

Shapes follow conv.py: ``planes (s_h*s_w, C, L)``, weight matrix ``wm (g, O/g, taps)`` with ``C == g``,
grid outputs ``(g, O/g, L)`` where ``L = N*Hq*Wq``.
"""

from ..backend import array_module
from ._threads import split_map

# Channel*column elements per block (the column block is taps times this, ~4.5 MB for 3x3): measured
# fastest single-threaded on 144x56x56 .. 960x7x7; smaller blocks pay numpy's per-call overhead more often.
_BLOCK_ELEMS = 1 << 17


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
