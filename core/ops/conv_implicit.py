"""Convolution on the phase grid without im2col columns: one accumulating GEMM per kernel tap.

``conv.py`` lays the padded input out as phase planes ``(C, N*Hq*Wq)`` in which kernel tap ``t`` reads
one phase at a fixed flat offset ``off_t``. Its im2col path copies those shifted windows into a column
matrix and runs one deep GEMM; but BLAS packs its operands into its own panels anyway, so the copy is
pure overhead. Here each tap is a GEMM on the shifted window itself, accumulated in place
(``beta = 1``, which ``numpy.matmul`` cannot do; ``_blas.gemm`` calls numpy's BLAS directly):

* forward: ``out[:, q] = sum_t W_t @ planes[p_t][:, q + off_t]``, ``W_t = (O, C)``;
* input gradient (the same, gathered): ``dplanes[p][:, q] = sum_{t in p} W_t^T @ g[:, q - off_t]``;
* weight gradient: ``dW_t = sum_q g[:, q] planes[p_t][:, q + off_t]^T``.

Measured on one core (AVX-512 OpenBLAS, 3x3 64->64 on 16x64x56x56): im2col + GEMM 29 ms, the per-tap
GEMMs 21 ms, against PyTorch's 18 ms. Columns are processed a cache-sized chunk at a time (all taps of
a chunk while its output stays in cache) and the chunks are split across visionlite's threads, each
thread a single-threaded BLAS call: threads own disjoint output columns, and for the weight gradient
their own accumulator, summed at the end.

Grid columns that no valid output uses (past ``lq - off_t``) are skipped; ``conv.py`` crops them away.
Used for ungrouped convolutions on CPU float32/float64 arrays when numpy's BLAS is reachable
(``usable``); everything else keeps ``conv.py``'s column path.
"""

import numpy as np

from . import _blas
from ._threads import split_map

_CHUNK_BYTES = 1 << 19  # input window per GEMM (~512 KB: stays in L2 with its output); measured 2048-8192
_MIN_CHUNK, _MAX_CHUNK = 256, 8192


_MIN_CHANNELS = 16  # per-tap GEMM depth; an RGB stem (3 channels x 49 taps) ran 3x slower than im2col


def usable(planes, wm, geom):
    """Whether the per-tap path applies: CPU array, float32/float64, one group, at least
    ``_MIN_CHANNELS`` input channels, BLAS reachable."""
    return (type(planes) is np.ndarray and wm.shape[0] == 1 and len(geom.taps) > 1
            and wm.shape[2] >= _MIN_CHANNELS * len(geom.taps)
            and planes.dtype == wm.dtype and _blas.has_gemm(planes.dtype))


def _chunk(rows, itemsize):
    return int(min(_MAX_CHUNK, max(_MIN_CHUNK, _CHUNK_BYTES // max(rows * itemsize, 1))))


def _tap_weights(wm, geom):
    """``W_t`` as ``(O, C)`` views of the ``(1, O, taps*C)`` weight matrix (tap index outer)."""
    w = wm[0]
    c = w.shape[1] // len(geom.taps)
    return [w[:, t * c:(t + 1) * c] for t in range(len(geom.taps))]


def _by_chunks(fn, lq, step, work):
    """Run ``fn(start, stop)`` over column chunks of ``[0, lq)``, the chunks split across threads."""
    nchunks = -(-lq // step)

    def part(c0, c1):
        for c in range(c0, c1):
            fn(c * step, min(lq, (c + 1) * step))

    split_map(part, nchunks, work)


def forward(planes, wm, geom):
    """``(1, O, N*Hq*Wq)`` grid output of the convolution (see the module docstring)."""
    lq = geom.lq
    wts = _tap_weights(wm, geom)
    o, c = wts[0].shape
    out = np.empty((1, o, lq), dtype=planes.dtype)
    res = out[0]
    # the tap with the smallest offset reaches furthest; it starts every chunk with beta = 0
    order = sorted(range(len(geom.taps)), key=lambda t: geom.taps[t][1])
    reach = lq - geom.taps[order[0]][1]
    if reach < lq:
        res[:, reach:] = 0  # no valid output there; defined values all the same

    def chunk(s, e):
        beta = 0.0
        for t in order:
            p, off = geom.taps[t]
            hi = min(e, lq - off)
            if hi > s:
                _blas.gemm(wts[t], planes[p, :, s + off:hi + off], res[:, s:hi], beta)
                beta = 1.0

    _by_chunks(chunk, lq, _chunk(max(c, o), planes.itemsize), o * lq + c * lq)
    return out


def input_grad(gfull, wm, geom):
    """``(phases, C, N*Hq*Wq)`` gradient of the phase planes from the grid gradient ``gfull (1, O, lq)``."""
    lq = geom.lq
    g = gfull[0]
    wts = _tap_weights(wm, geom)
    o, c = wts[0].shape
    nphase = geom.stride[0] * geom.stride[1]
    gplanes = np.empty((nphase, c, lq), dtype=gfull.dtype)
    per_phase = []
    for p in range(nphase):
        taps = sorted((off, t) for t, (pp, off) in enumerate(geom.taps) if pp == p)
        if not taps:
            gplanes[p] = 0  # no tap reads this phase (stride larger than the kernel's reach)
        per_phase.append(taps)

    def chunk(s, e):
        for p, taps in enumerate(per_phase):
            if not taps:
                continue
            dst = gplanes[p]
            first = max(s, taps[0][0])
            if first > s:
                dst[:, s:min(first, e)] = 0  # columns before the smallest offset get nothing
            for i, (off, t) in enumerate(taps):  # the first covers [first, e), the others a part of it
                lo = max(s, off)
                if lo < e:
                    _blas.gemm(wts[t].T, g[:, lo - off:e - off], dst[:, lo:e], 1.0 if i else 0.0)

    _by_chunks(chunk, lq, _chunk(max(c, o), gfull.itemsize), (o + nphase * c) * lq)
    return gplanes


def weight_grad(planes, gfull, wm, geom):
    """``(1, O, taps*C)`` gradient of the weight matrix."""
    lq, ntap = geom.lq, len(geom.taps)
    g = gfull[0]
    o, k = wm.shape[1:]
    c = k // ntap
    step = _chunk(max(c, o), planes.itemsize)

    def part(c0, c1):
        acc = np.zeros((o, k), dtype=gfull.dtype)
        for ci in range(c0, c1):
            s, e = ci * step, min(lq, (ci + 1) * step)
            for t, (p, off) in enumerate(geom.taps):
                hi = min(e, lq - off)
                if hi > s:
                    _blas.gemm(g[:, s:hi], planes[p, :, s + off:hi + off].T, acc[:, t * c:(t + 1) * c], 1.0)
        return acc

    parts = split_map(part, -(-lq // step), (o + c) * lq)
    total = parts[0]
    for extra in parts[1:]:
        total += extra
    return total[None]
