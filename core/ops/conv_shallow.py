"""Convolutions with few input channels per group: im2col and GEMM fused per cache-sized chunk.

``conv.py``'s column path builds an 8 MB column matrix with every thread copying some taps, then runs
one GEMM split across the threads: both passes stream the whole matrix through memory. That is fine for
deep layers, whose GEMMs dominate, but with few input channels (LeNet's 1->6 and 6->16 5x5 layers, RGB
stems, grouped layers with a handful of channels per group) the GEMMs are shallow (``K = taps * C/g``
of 25-150) and the copies cost as much as the arithmetic. Here each thread takes whole images (or bands
of rows of one big image), builds their columns in a 2 MB buffer of its own that stays in cache, and
runs the GEMM, the crop to NCHW and the bias right there, so nothing round-trips through memory.

Columns cover the *rows* of the output only: output ``(h, w)`` of image ``n`` is column
``h*Wq + w`` of that image's ``Ho*Wq`` columns, and tap ``t`` reads phase ``p_t`` of the phase planes at
``n*Hq*Wq + off_t + h*Wq + w``: one contiguous run per (channel, image, tap). ``w >= Wo`` are junk
columns that the crop drops (``Wq/Wo`` extra work against ``Hq*Wq/(Ho*Wo)`` for the full phase grid:
1.4x against 2x for a 5x5 kernel on a 14x14 map). The backward runs the same chunks: the weight gradient
as ``cols @ g_chunk^T`` (1.8x faster than ``g_chunk @ cols^T`` for these shapes on OpenBLAS) into one
accumulator per thread, the input gradient as ``W^T @ g_chunk`` added back tap by tap into the phase
planes (col2im) of the thread's own images.
"""

import os

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import conv_batch_inner, weight_cache
from ._gemm_pool import accumulate_here, matmul_here
from ._threads import num_threads, split_map

_CHUNK_BYTES = 1 << 21  # column buffer per thread; measured 512 KB-4 MB: per-call overhead favours 2 MB
_MAX_CHANNELS = 16  # below this many input channels per group the per-tap GEMMs (conv_implicit) are too
# shallow; this path replaces the column path there (LeNet, stems, grouped layers measured 1.3-2x faster)
_ENABLED = os.environ.get("VISIONLITE_CONV_SHALLOW", "1") != "0"  # 0: the column path (A/B measurements)


def usable(x, w_shape, geom):
    """Whether a convolution takes this path: CPU float32/float64 4-D array, few input channels per group
    (not depthwise, whose single channel ``conv_depthwise`` handles), a kernel of more than one tap."""
    cg = w_shape[1]
    return (_ENABLED and type(x) is np.ndarray and x.dtype in (np.float32, np.float64) and x.ndim == 4
            and len(geom.taps) > 1 and cg < _MAX_CHANNELS and not (cg == 1 and geom.groups > 1)
            and geom.n > 0)


def _plan(geom, itemsize, bands_for_threads):
    """The ``_Plan`` of this geometry, built once per (cached) geometry, dtype size and thread count."""
    key = ("shallow", itemsize, bands_for_threads, num_threads())
    return geom.memo(key, lambda: _Plan(geom, itemsize, bands_for_threads))


class _Plan:
    """Everything about one convolution's shape that the chunks share.

    The phase planes get one extra zero row per image (``geom.padded_below(1)``): a tap's window of ``Ho*Wq``
    columns overhangs its image by up to ``kw - 1`` columns on the last output row, and with the extra
    row that overhang reads zeros inside the image's own slot, so every window is one plain strided
    view (no clamping, no reading into the next image, nothing past the array's end).

    Taps are reordered phase by phase, each phase's taps a rectangle of offsets ``base + i*step_i*Wq +
    j*step_j``: the columns of a whole phase are then one copy from one strided view. The weight
    matrix's columns are permuted to match (``weights``; ``weight_grad`` back).
    """

    def __init__(self, geom, itemsize, bands_for_threads):
        self.geom = grid = geom.padded_below(1)
        self.cg = geom.c // geom.groups
        self.hw = grid.hq * grid.wq
        self.blocks, order = [], []
        for p in sorted({p for p, _ in grid.taps}):
            # A phase's taps are the kernel rows i with i*dh = a (mod sh) crossed with the columns j with
            # j*dw = b (mod sw): both arithmetic progressions, so their offsets form a rectangle.
            taps = sorted((t for t, (q, _) in enumerate(grid.taps) if q == p), key=lambda t: grid.taps[t][1])
            rows = sorted({grid.taps[t][1] // grid.wq for t in taps})
            cols = sorted({grid.taps[t][1] % grid.wq for t in taps})
            step_i = rows[1] - rows[0] if len(rows) > 1 else 1
            step_j = cols[1] - cols[0] if len(cols) > 1 else 1
            base = grid.taps[taps[0]][1]
            self.blocks.append((p, len(order), base, len(rows), len(cols), step_i * grid.wq, step_j))
            order.extend(taps)
        self.order = order
        self.layout = _Layout(grid, len(order) * geom.c, itemsize, bands_for_threads)

    def weights(self, w, wkey=None):
        """``w (O, C/g, kh, kw)`` as the ``(g, O/g, K)`` matrix in ``order`` (kept for fixed weights)."""
        g = self.geom.groups

        def build(a):
            o, cg = a.shape[:2]
            taps = a.reshape(g, o // g, cg, -1)[:, :, :, self.order]  # (g, O/g, C/g, taps) in order
            return np.ascontiguousarray(taps.transpose(0, 1, 3, 2)).reshape(g, o // g, -1)

        return weight_cache.derived(w, ("shallow", g, tuple(self.order)), wkey, build)

    def windows(self, planes):
        """Per block of taps: ``(first tap, view)``, the view ``(rows, cols, g, C/g, N, Ho*Wq)`` of the
        phase planes holding every window of those taps (strided, nothing copied). Built once per call:
        the chunks slice it."""
        grid = self.geom
        span = grid.out_hw[0] * grid.wq
        out = []
        for p, t0, base, ni, nj, si, sj in self.blocks:
            src = planes[p].reshape(grid.groups, self.cg, grid.n, self.hw)[..., base:base + span]
            sg, sc, sn, sq = src.strides
            shape = (ni, nj, grid.groups, self.cg, grid.n, span)
            out.append((t0, as_strided(src, shape, (si * sq, sj * sq, sg, sc, sn, sq), writeable=False)))
        return out

    def fill(self, cols, windows, n0, n1, h0, h1):
        """``cols (g, taps, C/g, images, band)`` (taps in ``order``): the windows of images ``[n0, n1)``
        for output rows ``[h0, h1)``."""
        wq = self.geom.wq
        lo, hi = h0 * wq, h1 * wq
        for t0, view in windows:
            ni, nj, g, cg = view.shape[:4]
            dst = cols[:, t0:t0 + ni * nj].reshape(g, ni, nj, cg, n1 - n0, hi - lo)
            dst[...] = view[..., n0:n1, lo:hi].transpose(2, 0, 1, 3, 4, 5)

    def weight_grad(self, gwm, w_shape):
        """The gradient of ``weights``' matrix ``(g, O/g, K)`` as the weight's ``(O, C/g, kh, kw)``."""
        o, cg = w_shape[:2]
        out = np.empty((o, cg, len(self.order)), dtype=gwm.dtype)
        out[:, :, self.order] = gwm.reshape(o, len(self.order), cg).transpose(0, 2, 1)
        return out.reshape(w_shape)


class _Layout:
    """How the row-columns of a convolution are cut into chunks: groups of whole images, or bands of
    rows of one image when one image's columns exceed the buffer, or when there are fewer images than
    threads (``bands_for_threads``: forward only, since the backward's bands of one image would add
    into the same input-gradient rows from two threads)."""

    def __init__(self, geom, k, itemsize, bands_for_threads):
        ho = geom.out_hw[0]
        self.geom = geom
        rows = max(1, _CHUNK_BYTES // max(k * geom.wq * itemsize, 1))
        threads = num_threads()
        if bands_for_threads and geom.n < threads:
            rows = min(rows, max(1, -(-ho * geom.n // threads)))
        if rows >= ho:
            self.images, self.rows = max(1, min(rows // ho, -(-geom.n // threads))), ho
        else:  # equal bands, as many as a multiple of the threads when one image is all the work (the
            # 224x224 stem at batch 1: 31+31+31+19 rows left one thread 24% more to do than the other)
            bands = -(-ho // rows)
            if bands_for_threads and geom.n == 1:
                bands = -(-bands // threads) * threads
            self.images, self.rows = 1, -(-ho // bands)
        self.bands = -(-ho // self.rows)
        self.units = -(-geom.n // self.images) * self.bands  # pieces of work for split_map
        self.width = self.images * self.rows * geom.wq  # columns per chunk, at most

    def chunks(self, u0, u1):
        """``(image start, image stop, row start, row stop)`` of units ``[u0, u1)``."""
        ho, n = self.geom.out_hw[0], self.geom.n
        for u in range(u0, u1):
            i, band = divmod(u, self.bands)
            h0 = band * self.rows
            yield i * self.images, min((i + 1) * self.images, n), h0, min(h0 + self.rows, ho)


def _columns(buf, g, k, ntap, nimg, band):
    """The column buffer as ``(g, taps, C/g, images, band)`` and as the GEMM's ``(g, K, images*band)``."""
    cols = buf[: g * k * nimg * band].reshape(g, ntap, k // ntap, nimg, band)
    return cols, cols.reshape(g, k, nimg * band)


def forward(x, w, bias, geom, wkey=None):
    """NCHW output ``(N, O, Ho, Wo)`` of the convolution of ``x (N, C, H, W)`` with ``w (O, C/g, kh, kw)``,
    plus ``bias`` (or None); ``wkey`` as in ``conv.conv_forward``."""
    if conv_batch_inner.usable(x, geom):  # stride 1, small images: exact columns, batch innermost
        return conv_batch_inner.forward(x, w, bias, geom)
    plan = _plan(geom, x.itemsize, bands_for_threads=True)
    grid, layout = plan.geom, plan.layout
    wm = plan.weights(w, wkey)
    windows = plan.windows(grid.split(x))
    g, og, k = wm.shape
    ho, wo = grid.out_hw
    wq, ntap = grid.wq, len(grid.taps)
    y = np.empty((grid.n, grid.o, ho, wo), dtype=x.dtype)
    b4 = None if bias is None else bias.reshape(-1, 1, 1, 1)

    def part(u0, u1):
        buf = np.empty(g * k * layout.width, dtype=x.dtype)
        obuf = np.empty(g * og * layout.width, dtype=x.dtype)
        for n0, n1, h0, h1 in layout.chunks(u0, u1):
            nimg, band = n1 - n0, (h1 - h0) * wq
            cols, cmat = _columns(buf, g, k, ntap, nimg, band)
            plan.fill(cols, windows, n0, n1, h0, h1)
            out = obuf[: g * og * nimg * band].reshape(g, og, nimg * band)
            matmul_here(wm, cmat, out)
            res = out.reshape(grid.o, nimg, h1 - h0, wq)[..., :wo]
            if b4 is not None:
                res += b4
            y[n0:n1, :, h0:h1] = res.transpose(1, 0, 2, 3)

    split_map(part, layout.units, y.size * k, np)
    return y


def backward(x, g_out, w, geom, need_x, need_weight):
    """Gradients of ``forward`` given ``g_out (N, O, Ho, Wo)``: (``d x`` or None, ``d w`` or None)."""
    if conv_batch_inner.usable(g_out, geom):
        return conv_batch_inner.backward(x, g_out, w, geom, need_x, need_weight)
    # whole images per thread (no bands for threads): their col2im adds never touch another's rows
    plan = _plan(geom, g_out.itemsize, bands_for_threads=False)
    grid, layout = plan.geom, plan.layout
    wm = plan.weights(w)
    g, og, k = wm.shape
    ho, wo = grid.out_hw
    wq, ntap, cg, hw = grid.wq, len(grid.taps), plan.cg, plan.hw
    dtype = g_out.dtype
    windows = plan.windows(grid.split(x)) if need_weight else None
    nphase = grid.stride[0] * grid.stride[1]
    gplanes = np.zeros((nphase, grid.c, grid.n * hw), dtype=dtype) if need_x else None
    wt = wm.transpose(0, 2, 1)
    span = ho * wq
    # per tap (in plan order), where its column gradients add into the phase planes of all images
    targets = [gplanes[p].reshape(g, cg, grid.n, hw)[..., off:off + span]
               for p, off in (grid.taps[t] for t in plan.order)] if need_x else None

    def part(u0, u1):
        buf = np.empty(g * k * layout.width, dtype=dtype)
        gbuf = np.empty(g * og * layout.width, dtype=dtype)
        acc = np.zeros((g, k, og), dtype=dtype) if need_weight else None  # transposed: see below
        for n0, n1, h0, h1 in layout.chunks(u0, u1):
            nimg, band = n1 - n0, (h1 - h0) * wq
            cols, cmat = _columns(buf, g, k, ntap, nimg, band)
            gmat = gbuf[: g * og * nimg * band].reshape(g, og, nimg * band)
            g4 = gmat.reshape(grid.o, nimg, h1 - h0, wq)
            g4[..., :wo] = g_out[n0:n1, :, h0:h1].transpose(1, 0, 2, 3)
            g4[..., wo:] = 0  # junk columns: no gradient flows from them
            if need_weight:
                plan.fill(cols, windows, n0, n1, h0, h1)
                # cols @ g^T, accumulated in place: 1.8x faster than g @ cols^T for these shapes (few
                # output channels, long reduction) on OpenBLAS
                if g == 1:
                    accumulate_here(cmat[0], gmat[0].T, acc[0])
                else:  # one batched call rather than a tiny GEMM per group
                    acc += np.matmul(cmat, gmat.transpose(0, 2, 1))
            if need_x:
                matmul_here(wt, gmat, cmat)  # column gradients, into the column buffer
                lo = h0 * wq
                for t, dst in enumerate(targets):  # col2im: overlapping windows, one tap at a time
                    dst[:, :, n0:n1, lo:lo + band] += cols[:, t]
        return acc

    def images(i0, i1):  # all bands of an image in one thread
        return part(i0 * layout.bands, i1 * layout.bands)

    parts = split_map(images, layout.units // layout.bands, grid.n * grid.o * ho * wq * k, np)
    gwm = None
    if need_weight:
        gwm = parts[0]
        for extra in parts[1:]:
            gwm += extra
        gwm = plan.weight_grad(gwm.transpose(0, 2, 1), w.shape)
    return (grid.merge(gplanes, dtype) if need_x else None), gwm
