"""Winograd F(m x m, 3 x 3) convolution: stride-1 3x3 kernels on the CPU with fewer multiplications.

Each ``m x m`` block of outputs is computed from the ``t x t`` (``t = m + 2``) input tile under it:
``Y = A^T [ (G w G^T) * (B^T d B) ] A`` for every (output channel, input channel) pair, summed over the
input channels. The sum over channels, for each of the ``t*t`` transformed positions, is one GEMM
``U_f (O, C) @ V_f (C, tiles)``, so the multiplications fall from ``9 m^2`` to ``t^2`` per tile and
channel pair: 2.25x fewer for F(4x4, 3x3) than the direct convolution's GEMM.

The transforms run one axis at a time on a cache-sized chunk of tiles: ``t`` copies gather the row
phases of the input, one ``(t x t)`` GEMM applies ``B^T`` over them, ``t`` copies gather the column phases
and a second GEMM applies ``B`` (a third of the work of the Kronecker form ``B^T (x) B^T`` as one GEMM,
which measured 1.1-1.5x slower overall); ``A^T`` and ``A`` likewise, and ``m*m`` copies scatter the blocks
back to NCHW. Chunks are split across visionlite's threads, each running single-threaded BLAS on its own
tiles (disjoint outputs).

Rounding: the transforms have entries up to 8 (F(4x4)), so float32 results carry errors a few times
above the direct convolution's (measured relative to the output's scale: F(4x4) max ~1e-5, rms ~2e-6;
F(2x2) at the direct convolution's level, rms ~3e-7). Only float32 takes this path; float64 (gradient
checks, references) keeps the direct paths.

Measured on one core (Zen 4, AVX-512 OpenBLAS, forward with bias): 16x64x56x56 -> 64: per-tap GEMMs
50.8 ms, F(4x4) 28.6 ms, PyTorch 34 ms; 16x128x28x28: 47.6 / 19.6 / 33 ms. With few tiles (small maps
at batch 1) the GEMMs turn skinny and the weight transform (4x the weights' size) dominates, so ``choose``
asks for enough tiles; weights that do not change between calls keep their transform (``kernels``).
"""

import os

import numpy as np

from . import weight_cache
from ._threads import num_threads, split_map

# VISIONLITE_WINOGRAD=0 turns the path off; VISIONLITE_WINOGRAD_TILE=2 or 4 forces one tile size.
ENABLED = os.environ.get("VISIONLITE_WINOGRAD", "1").strip().lower() not in ("0", "false", "no", "off")
FORCED_TILE = {"2": 2, "4": 4}.get(os.environ.get("VISIONLITE_WINOGRAD_TILE", "").strip())

_MIN_CHANNELS = 16  # input and output channels: below this the per-channel GEMMs are too shallow
_MIN_TILES = 512  # tiles per call: transforming the weights and their gradient costs about t^2/tiles of the
# GEMMs, and measured more (16x512x7x7, 256 tiles: fwd+bwd 103 ms against 91 without Winograd) ...
_MIN_TILES_CACHED = 32  # ... unless it is cached (fixed weights): 1x128x28x28 F(4x4) 2.7 -> 1.0 ms; not
# below 32: batch-1 7x7 maps (16 tiles) stream 1.8x the weights' bytes as transformed kernels, and in a whole
# network (weights beyond the L3 cache) the direct path measured 3-5% faster on resnet18/50 batch 1
_MAX_WASTE = {4: 1.1, 2: 1.35}  # computed outputs (whole tiles) over valid outputs; F(4x4) on 14x14
# maps (1.31) measured slower than F(2x2)
_CHUNK_BYTES = 1 << 20  # transformed input tiles per chunk (t*t x C x tiles floats); 0.5-2 MB measured alike
# ... but at least this many tiles per chunk: each chunk streams the transformed weights (16x512x7x7 F(2x2):
# 16.8 MB of them against 32 tiles per 1 MB chunk), and the weight gradient's GEMMs reduce over the tiles
_MIN_CHUNK_TILES, _MIN_WGRAD_TILES = 128, 256


def _toom_cook(m):
    """``(B^T (t, t), G (t, 3), A^T (m, t))`` for F(m, 3) on the points 0, +-1, +-2, ... and infinity."""
    t = m + 2
    pts = [0.0]
    k = 1
    while len(pts) < t - 1:
        pts += [float(k), float(-k)]
        k += 1
    pts = np.array(pts[:t - 1])
    at = np.zeros((m, t))
    for j in range(m):
        at[j, :t - 1] = pts ** j
    at[m - 1, t - 1] = 1.0
    g = np.zeros((t, 3))
    for i, p in enumerate(pts):
        denom = np.prod([p - q for q in np.delete(pts, i)])
        g[i] = [p ** k / denom for k in range(3)]
    g[t - 1, 2] = 1.0
    bt = np.zeros((t, t))
    for i in range(t - 1):  # row i: coefficients of prod_{q != p_i} (x - q), lowest power first
        bt[i, :t - 1] = np.poly(np.delete(pts, i))[::-1]
    bt[t - 1] = np.poly(pts)[::-1]
    return bt, g, at


_MATRICES = {}


def _matrices(m, dtype):
    """``(B^T (t, t), A^T (m, t), G (x) G (t^2, 9))`` in ``dtype``: the 1-D input and output transforms,
    and the Kronecker form of the kernel transform."""
    key = (m, np.dtype(dtype))
    if key not in _MATRICES:
        bt, g, at = _toom_cook(m)
        _MATRICES[key] = tuple(np.ascontiguousarray(a, dtype=dtype) for a in (bt, at, np.kron(g, g)))
    return _MATRICES[key]


def tiles(out_hw, m):
    """Tile rows and columns covering an ``out_hw`` output with ``m x m`` tiles."""
    return -(-out_hw[0] // m), -(-out_hw[1] // m)


def choose(x, w_shape, geom, cached=False):
    """The tile size ``m`` of F(m x m, 3x3) for this convolution, or 0 where the path does not apply.

    Applies to CPU float32, 3x3, stride 1, dilation 1, one group, at least ``_MIN_CHANNELS`` in and
    out, padding at most 2 per side, with enough tiles and little waste: F(4x4) first, else F(2x2).
    ``cached``: the transformed kernels come from the cache (``kernels``), so fewer tiles pay."""
    if not ENABLED or type(x) is not np.ndarray or x.dtype != np.float32 or x.ndim != 4 or len(w_shape) != 4:
        return 0
    o, cg, kh, kw = w_shape
    if (kh, kw) != (3, 3) or geom.stride != (1, 1) or geom.dilation != (1, 1) or geom.groups != 1:
        return 0
    if cg < _MIN_CHANNELS or o < _MIN_CHANNELS or max(geom.pad) > 2:
        return 0
    ho, wo = geom.out_hw
    if ho < 1 or wo < 1:
        return 0
    min_tiles = _MIN_TILES_CACHED if cached else _MIN_TILES
    for m in (FORCED_TILE,) if FORCED_TILE else (4, 2):
        th, tw = tiles((ho, wo), m)
        if geom.n * th * tw >= min_tiles and th * tw * m * m <= _MAX_WASTE[m] * ho * wo:
            return m
    return 0


def transform_weights(w, m):
    """``(t^2, O, C)`` transformed kernels ``G w G^T`` of ``w (O, C, 3, 3)``, ``t = m + 2``."""
    o, c = w.shape[:2]
    gg = _matrices(m, w.dtype)[2]
    u = np.empty((gg.shape[0], o, c), dtype=w.dtype)
    np.matmul(gg, np.ascontiguousarray(w.reshape(o * c, 9).T), out=u.reshape(gg.shape[0], o * c))
    return u


def kernels(w, m, key=None):
    """``transform_weights(w, m)``, cached for a weight that does not change when ``key = (counter,
    version)`` names its version counter and current version (``weight_cache``)."""
    return weight_cache.derived(w, ("winograd", m), key, lambda a: transform_weights(a, m))


def _work_items(n, th, tw, c, t, itemsize, min_tiles=None):
    """``(n0, n1, r0, r1)``: image ranges and tile-row bands of about ``_CHUNK_BYTES`` of tiles each, but
    at least ``min_tiles`` tiles (the weights are read once per chunk: deep layers need wide chunks) unless
    that would leave a thread without a chunk."""
    per_row = c * tw * t * t * itemsize
    wanted = _MIN_CHUNK_TILES if min_tiles is None else min_tiles
    min_tiles = min(wanted, max(1, n * th * tw // num_threads()))
    rows = max(1, _CHUNK_BYTES // per_row, -(-min_tiles // tw))
    if rows >= th:
        per = max(1, min(n, rows // th))
        return [(i, min(n, i + per), 0, th) for i in range(0, n, per)]
    return [(i, i + 1, r, min(th, r + rows)) for i in range(n) for r in range(0, th, rows)]


def _input_tiles(src, n0, n1, r0, r1, tw, m, bt):
    """``(t^2, C, tiles)`` transformed input tiles ``B^T d B`` of images ``n0:n1``, tile rows ``r0:r1``.

    One axis at a time: the ``t`` row phases (whole rows), ``B^T`` over them as one GEMM, then the ``t``
    column phases and ``B^T`` over those."""
    t = m + 2
    c, ws = src.shape[0], src.shape[3]
    k, rows = n1 - n0, r1 - r0
    win = src[:, n0:n1, m * r0:m * r1 + 2]
    r = np.empty((t, c, k, rows, ws), dtype=src.dtype)
    for a in range(t):
        r[a] = win[:, :, a:a + m * rows:m]
    z = np.matmul(bt, r.reshape(t, -1)).reshape(t, c, k, rows, ws)
    x = np.empty((t, t, c, k, rows, tw), dtype=src.dtype)
    for e in range(t):
        x[:, e] = z[..., e:e + m * tw:m]
    return np.matmul(bt, x.reshape(t, t, c * k * rows * tw)).reshape(t * t, c, k * rows * tw)


def _products(u, v, alone):
    """``u @ v`` over the ``t^2`` positions; when this chunk is the call's only one (small maps at batch
    1), the positions are split across threads instead, so the weights' GEMMs still use every core."""
    if not alone:
        return np.matmul(u, v)
    prod = np.empty((u.shape[0], u.shape[1], v.shape[2]), dtype=v.dtype)

    def part(f0, f1):
        np.matmul(u[f0:f1], v[f0:f1], out=prod[f0:f1])

    split_map(part, u.shape[0], prod.size * v.shape[1])
    return prod


def correlate(src, u, out, m, bias=None):
    """3x3 cross-correlation of a zero-padded input into ``out (N, O, Ho, Wo)``, plus ``bias (O,)``.

    ``src`` is ``(C, N, Hs, Ws)``: output ``(y, x)`` reads ``src[:, :, y:y+3, x:x+3]``; it must hold
    ``m*th + 2`` rows and ``m*tw + 2`` columns (zeros past the input). ``u`` from ``transform_weights``.
    """
    bt, at, _ = _matrices(m, src.dtype)
    t = m + 2
    c, n = src.shape[:2]
    o = u.shape[1]
    ho, wo = out.shape[2:]
    th, tw = tiles((ho, wo), m)
    b = None if bias is None else np.asarray(bias, dtype=out.dtype).reshape(1, o, 1, 1, 1)
    items = _work_items(n, th, tw, c, t, src.itemsize)

    def run(i0, i1):
        for n0, n1, r0, r1 in items[i0:i1]:
            k, rows = n1 - n0, r1 - r0
            cols = k * rows * tw
            v = _input_tiles(src, n0, n1, r0, r1, tw, m, bt)
            prod = _products(u, v, len(items) == 1)  # (t^2, O, cols): one GEMM per transformed position
            # output blocks A^T M A, columns then rows
            half = np.matmul(at, prod.reshape(t, t, o * cols))  # (t, m, O*cols)
            y = np.matmul(at, half.reshape(t, m * o * cols)).reshape(m, m, o, k, rows, tw)
            if b is not None:
                y += b
            for i in range(m):
                for j in range(m):
                    dst = out[n0:n1, :, m * r0 + i:m * r1:m, j::m]
                    dst[...] = y[i, j, :, :, :dst.shape[2], :dst.shape[3]].transpose(1, 0, 2, 3)

    split_map(run, len(items), out.size + c * n * th * tw * t * t)
    return out


def padded(x, pads, out_hw, m):
    """``x (N, C, H, W)`` zero-padded by ``pads = (top, bottom, left, right)`` in the ``(C, N, Hs, Ws)``
    layout ``correlate`` reads, with rows and columns for whole tiles."""
    n, c, h, w = x.shape
    th, tw = tiles(out_hw, m)
    top, _, left, _ = pads
    src = np.zeros((c, n, m * th + 2, m * tw + 2), dtype=x.dtype)
    rows, cols = min(h, m * th + 2 - top), min(w, m * tw + 2 - left)

    def part(a, b):
        src[:, a:b, top:top + rows, left:left + cols] = x[a:b, :, :rows, :cols].transpose(1, 0, 2, 3)

    split_map(part, n, x.size)
    return src


def forward(x, w, bias, geom, m, planes=None, wkey=None):
    """``(N, O, Ho, Wo)`` output of the stride-1 3x3 convolution ``geom`` describes, with ``m x m`` tiles.
    ``planes`` (``geom.split(x)``) is read in place when its grid already holds whole tiles; ``wkey``
    lets the transformed kernels be cached (``kernels``)."""
    ho, wo = geom.out_hw
    th, tw = tiles((ho, wo), m)
    if planes is not None and geom.hq == m * th + 2 and geom.wq == m * tw + 2:
        src = planes.reshape(geom.c, geom.n, geom.hq, geom.wq)
    else:
        src = padded(x, geom.pad, (ho, wo), m)
    out = np.empty((geom.n, geom.o, ho, wo), dtype=x.dtype)
    return correlate(src, kernels(w, m, wkey), out, m, bias)


def input_grad(g, w, geom, m):
    """``(N, C, H, W)`` input gradient from ``g (N, O, Ho, Wo)``: the 3x3 correlation of ``g`` padded by
    ``2 - pad`` with the kernels flipped and their channel axes swapped."""
    h, wd = geom.in_hw
    top, bottom, left, right = geom.pad
    src = padded(g, (2 - top, 2 - bottom, 2 - left, 2 - right), (h, wd), m)
    wt = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    out = np.empty((geom.n, geom.c, h, wd), dtype=g.dtype)
    return correlate(src, transform_weights(wt, m), out, m)


def weight_grad(planes, g, geom, m):
    """``(O, C, 3, 3)`` weight gradient from the forward's phase planes and ``g (N, O, Ho, Wo)``.

    The adjoint of the forward's tile algebra: output-gradient tiles ``dY`` go back through the output
    transform (``A dY A^T``), each transformed position's kernel gradient is one GEMM summed over the
    tiles (``dU_f = dM_f V_f^T``, a long reduction BLAS runs well), and ``G^T dU G`` maps them to 3x3."""
    bt, at, gg = _matrices(m, g.dtype)
    t = m + 2
    ho, wo = geom.out_hw
    th, tw = tiles((ho, wo), m)
    c, n, o = geom.c, geom.n, geom.o
    grid = planes.reshape(c, n, geom.hq, geom.wq)
    if (geom.hq, geom.wq) == (m * th + 2, m * tw + 2):
        src = grid
    else:  # whole tiles need rows/columns past the grid: zeros (their outputs get no gradient anyway)
        src = np.zeros((c, n, m * th + 2, m * tw + 2), dtype=planes.dtype)
        src[:, :, :geom.hq, :geom.wq] = grid
    gsrc = padded(g, (0, 0, 0, 0), (ho, wo), m)  # (O, N, .., ..): zeros past the output
    items = _work_items(n, th, tw, max(c, o), t, g.itemsize, _MIN_WGRAD_TILES)
    a_t = np.ascontiguousarray(at.T)

    def run(i0, i1):
        du = np.zeros((t * t, o, c), dtype=g.dtype)
        for n0, n1, r0, r1 in items[i0:i1]:
            k, rows = n1 - n0, r1 - r0
            cols = k * rows * tw
            v = _input_tiles(src, n0, n1, r0, r1, tw, m, bt)
            dy = np.empty((m, m, o, k, rows, tw), dtype=g.dtype)
            for i in range(m):
                for j in range(m):
                    dy[i, j] = gsrc[:, n0:n1, m * r0 + i:m * r1:m, j:j + m * tw:m]
            half = np.matmul(a_t, dy.reshape(m, m * o * cols)).reshape(t, m, o * cols)
            dprod = np.matmul(a_t, half)  # (t, t, O*cols)
            du += np.matmul(dprod.reshape(t * t, o, cols), v.transpose(0, 2, 1))
        return du

    parts = split_map(run, len(items), (c + o) * n * th * tw * t * t)
    du = parts[0]
    for p in parts[1:]:
        du += p
    return (du.reshape(t * t, o * c).T @ gg).reshape(o, c, 3, 3)
