"""Convolution with exact im2col columns (one per output pixel), for small feature maps.

``conv.py`` computes on the whole phase grid ``Hq x Wq`` and crops, which keeps its column copies
contiguous but spends GEMM work on border columns: ``Hq*Wq / (Ho*Wo)`` is 1.07 for a 56x56 map and a
3x3 kernel, but 1.3 at 14x14 and 1.65 at 7x7 (and ~2 for a 5x5 kernel on a 14x14 map without padding).
There the GEMMs dominate and the copies are cheap, so this module builds columns for the valid outputs
only, reading each tap as a strided window of the same phase planes: forward and weight gradient are
GEMMs over ``N*Ho*Wo`` columns, the input gradient a GEMM followed by col2im adds into the phase planes.
"""

import numpy as np

from ..backend import array_module
from ._gemm_pool import matmul as _gemm
from ._threads import split_map

_CHUNK_ELEMS_CPU = 1 << 21  # column-matrix chunk (~8 MB of float32), as in conv.py


def grid_waste(geom):
    """How many grid columns ``conv.py`` computes per valid output."""
    ho, wo = geom.out_hw
    return geom.hq * geom.wq / max(ho * wo, 1)


def _windows(geom):
    """Per tap: (phase, row offset, col offset) of its window in the ``(Hq, Wq)`` phase planes."""
    return [(p, *divmod(off, geom.wq)) for p, off in geom.taps]


def _images_per_chunk(xp, geom, k):
    ho, wo = geom.out_hw
    if xp is not np:
        return geom.n
    return max(1, min(geom.n, _CHUNK_ELEMS_CPU // max(k * ho * wo, 1)))


def _planes6(planes, geom):
    sh, sw = geom.stride
    g = geom.groups
    return planes.reshape(sh * sw, g, geom.c // g, geom.n, geom.hq, geom.wq)


def _fill(cols, planes6, geom, n0, n1):
    """``cols (g, taps, C/g, n1-n0, Ho, Wo)``: each tap's window of images ``[n0, n1)``."""
    ho, wo = geom.out_hw
    wins = _windows(geom)

    def part(t0, t1):
        for t in range(t0, t1):
            p, qi, qj = wins[t]
            cols[:, t, :, : n1 - n0] = planes6[p, :, :, n0:n1, qi : qi + ho, qj : qj + wo]

    split_map(part, len(wins), cols.size, array_module(cols))


def _chunks(geom, per):
    return [(n0, min(n0 + per, geom.n)) for n0 in range(0, geom.n, per)]


def _col_buffer(xp, geom, wm, per, dtype):
    g, _, k = wm.shape
    ho, wo = geom.out_hw
    return xp.empty((g, len(geom.taps), k // len(geom.taps), per, ho, wo), dtype=dtype)


def exact_forward(planes, wm, geom, bias):
    """Convolution output ``(N, O, Ho, Wo)`` from the phase planes and the ``(g, O/g, K)`` weight matrix."""
    xp = array_module(planes)
    g, og, k = wm.shape
    ho, wo = geom.out_hw
    hw = ho * wo
    per = _images_per_chunk(xp, geom, g * k)
    cols = _col_buffer(xp, geom, wm, per, planes.dtype)
    p6 = _planes6(planes, geom)
    out = xp.empty((g, og, geom.n * hw), dtype=planes.dtype)
    for n0, n1 in _chunks(geom, per):
        _fill(cols, p6, geom, n0, n1)
        _gemm(wm, cols.reshape(g, k, -1)[:, :, : (n1 - n0) * hw], out[:, :, n0 * hw : n1 * hw])
    if geom.n == 1:  # the GEMM's (O, Ho*Wo) output already is the NCHW image: no reordering copy
        y = out.reshape(1, geom.o, ho, wo)
        if bias is not None:
            def add(a, b):
                y[0, a:b] += bias[a:b].reshape(-1, 1, 1)

            split_map(add, geom.o, y.size, xp)
        return y
    view = out.reshape(geom.o, geom.n, ho, wo).transpose(1, 0, 2, 3)
    y = xp.empty((geom.n, geom.o, ho, wo), dtype=planes.dtype)

    def part(a, b):
        if bias is None:
            y[a:b] = view[a:b]
        else:
            xp.add(view[a:b], bias.reshape(-1, 1, 1), out=y[a:b])

    split_map(part, geom.n, y.size, xp)
    return y


def exact_backward(planes, g, wm, geom, need_planes, need_weight):
    """Gradients (d phase planes ``(s*s, C, N*Hq*Wq)`` or None, d weight matrix or None) given the output
    gradient ``g (N, O, Ho, Wo)``."""
    xp = array_module(g)
    gr, og, k = wm.shape
    ho, wo = geom.out_hw
    hw, ntap = ho * wo, len(geom.taps)
    cg = k // ntap
    gt = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(gr, og, -1)  # (g, O/g, N*Ho*Wo)
    per = _images_per_chunk(xp, geom, gr * k)
    cols = _col_buffer(xp, geom, wm, per, g.dtype)
    gwm = xp.zeros(wm.shape, dtype=g.dtype) if need_weight else None
    nphase = geom.stride[0] * geom.stride[1]
    gp6 = xp.zeros((nphase, gr, cg, geom.n, geom.hq, geom.wq), dtype=g.dtype) if need_planes else None
    wins = _windows(geom)
    wmt = wm.transpose(0, 2, 1)
    for n0, n1 in _chunks(geom, per):
        gs = gt[:, :, n0 * hw : n1 * hw]
        c2 = cols.reshape(gr, k, -1)[:, :, : (n1 - n0) * hw]
        if need_weight:
            _fill(cols, _planes6(planes, geom), geom, n0, n1)
            gwm += _gemm(gs, c2.transpose(0, 2, 1))
        if need_planes:  # the column buffer is free again: reuse it for W^T g
            _gemm(wmt, gs, c2)
            gc = cols[:, :, :, : n1 - n0]

            def part(c0, c1, n0=n0, n1=n1, gc=gc):  # threads own disjoint channels: no racing adds
                for t, (p, qi, qj) in enumerate(wins):
                    gp6[p, :, c0:c1, n0:n1, qi : qi + ho, qj : qj + wo] += gc[:, t, c0:c1]

            split_map(part, cg, gc.size, xp)
    gplanes = gp6.reshape(nphase, geom.c, geom.lq) if need_planes else None
    return gplanes, gwm
