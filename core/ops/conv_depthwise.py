"""Depthwise convolution (one input channel per group) on conv.py's phase grid.

A depthwise kernel has ``kh*kw`` weights per channel, so GEMMs would be tiny; instead every tap is a
broadcast multiply-add over a shifted, contiguous slice of the channel's phase plane. The work is cut
into blocks of channels (and, for big planes, of columns) that fit a core's L2 cache, so the output
block, the scratch block and the input rows stay in cache across all the taps rather than streaming
through memory once per tap. Channel ranges are split across threads (``_threads``).

Shapes follow conv.py: ``planes (s_h*s_w, C, L)``, weight matrix ``wm (g, O/g, taps)`` with ``C == g``,
grid outputs ``(g, O/g, L)`` where ``L = N*Hq*Wq``.
"""

from ..backend import array_module
from ._threads import split_map

# Elements per block (~1 MB of float32 each for out, scratch and inputs): measured fastest on 2 cores;
# smaller blocks pay numpy's per-call overhead (~3 us) more often than they gain from the cache.
_BLOCK_ELEMS = 1 << 18


def _blocks(g0, g1, og, lq):
    """(c0, c1, s, e) blocks over channels [g0, g1) and grid columns [0, lq)."""
    cb = max(1, _BLOCK_ELEMS // max(og * lq, 1))
    step = lq if cb > 1 else max(512, _BLOCK_ELEMS // og)
    for c0 in range(g0, g1, cb):
        for s in range(0, lq, step):
            yield c0, min(c0 + cb, g1), s, min(s + step, lq)


def _span(s, e, off, lq):
    """How many columns of ``[s, e)`` a tap at flat offset ``off`` can read (the grid's tail reads past the
    end only for outputs that are cropped away)."""
    return max(0, min(e + off, lq) - (s + off))


def depthwise_forward(planes, wm, geom):
    """Grid output ``(g, O/g, L)``: per tap, ``out += w[:, :, t] * plane[p][:, off:off+L]``."""
    xp = array_module(planes)
    g, og, _ = wm.shape
    lq = geom.lq
    out = xp.empty((g, og, lq), dtype=planes.dtype)
    # Tap 0 reads at offset 0 of phase 0, so it covers every column and initializes the output.
    assert geom.taps[0] == (0, 0)

    def part(g0, g1):
        tmp = xp.empty(min(_BLOCK_ELEMS * 2, (g1 - g0) * og * lq) + og * lq, dtype=planes.dtype)
        for c0, c1, s, e in _blocks(g0, g1, og, lq):
            o = out[c0:c1, :, s:e]
            for t, (p, off) in enumerate(geom.taps):
                n = _span(s, e, off, lq)
                src = planes[p, c0:c1, None, s + off : s + off + n]
                w = wm[c0:c1, :, t : t + 1]
                if t == 0:
                    xp.multiply(src, w, out=o)
                elif n:
                    scratch = tmp[: (c1 - c0) * og * n].reshape(c1 - c0, og, n)
                    xp.multiply(src, w, out=scratch)
                    o[:, :, :n] += scratch

    split_map(part, g, out.size * len(geom.taps), xp)
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
        tmp = xp.empty(min(_BLOCK_ELEMS * 2, (g1 - g0) * og * lq) + og * lq, dtype=gfull.dtype)
        for c0, c1, s, e in _blocks(g0, g1, og, lq):
            for t, (p, off) in enumerate(geom.taps):
                n = _span(s, e, off, lq)
                if not n:
                    continue
                gs = gfull[c0:c1, :, s : s + n]
                scratch = tmp[: (c1 - c0) * og * n].reshape(c1 - c0, og, n)
                if need_weight:  # per (channel, output): a dot product of g with the tap's input
                    xp.multiply(gs, planes[p, c0:c1, None, s + off : s + off + n], out=scratch)
                    gwm[c0:c1, :, t] += scratch.sum(axis=2)
                if need_planes:  # the adjoint multiply-add, into the tap's shifted input columns
                    xp.multiply(gs, wm[c0:c1, :, t : t + 1], out=scratch)
                    dst = gplanes[p, c0:c1, s + off : s + off + n]
                    dst += scratch[:, 0] if og == 1 else scratch.sum(axis=1)

    split_map(part, g, gfull.size * ntap, xp)
    return gplanes, gwm
