"""Few-channel stride-1 convolutions on small images: im2col with the batch innermost.

``conv_shallow`` lays a chunk's columns out image by image, one run of ``Ho*Wq`` columns per (channel,
image, tap), where ``Wq - Wo`` columns of every output row are junk that the GEMM computes and the crop
drops (1.4x the work for LeNet's 5x5 layer on 14x14 maps). Here a chunk of ``nb`` images is first copied
into a zero-padded block ``(C, Hp, Wp, nb)`` (batch innermost, a small transposing copy); then a tap's
window for one output row, ``[x0, x0 + Wo)`` across all ``nb`` images, is one contiguous run of
``Wo*nb`` values. The columns are exact (no junk), the runs are longer (``Wo*nb`` against ``Ho*Wq``)
and fewer, the weight matrix is the weight itself in its own ``(C/g, kh, kw)`` order, and the column
gradients add back into the block in runs of the same length.

Measured on LeNet's 6->16 5x5 layer (batch 256, 14x14, one thread): forward 3.6 -> 2.0 ms, backward 9.3
-> 6.0 ms against ``conv_shallow``'s row-columns. Used for stride-1 layers whose images are small enough
that a chunk holds several (``usable``); big images (stems, VGG's first layer) need bands of rows and stay
in ``conv_shallow``.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._gemm_pool import accumulate_here, matmul_here
from ._threads import num_threads, split_map

_CHUNK_BYTES = 1 << 21  # column block per thread, as conv_shallow's (measured: 16-32 images of LeNet's
# 6->16 layer, 1-2 MB, ran within 5% of each other; 8 images paid per-call overhead)
_MIN_IMAGES = 4  # fewer images per chunk than this: runs of a few rows' width gain nothing over row-columns


def usable(x, geom):
    """Whether ``conv_shallow``'s convolution of ``x`` runs batch-innermost: stride 1 and at least
    ``_MIN_IMAGES`` images' columns per chunk (callers checked the rest: few channels, CPU float)."""
    return geom.stride == (1, 1) and _plan(geom, x.itemsize) is not None


def _plan(geom, itemsize):
    return geom.memo(("batch_inner", itemsize, num_threads()), lambda: _Plan.make(geom, itemsize))


class _Plan:
    """Chunks of images, the padded block's shape and where the input sits in it."""

    @classmethod
    def make(cls, geom, itemsize):
        ho, wo = geom.out_hw
        per_image = geom.c * geom.k[0] * geom.k[1] * ho * wo * itemsize
        most = _CHUNK_BYTES // max(per_image, 1)
        if min(most, geom.n) < _MIN_IMAGES:
            return None
        threads = num_threads()
        chunks = -(-geom.n // most)
        chunks = -(-chunks // threads) * threads  # a multiple of the threads: equal shares
        return cls(geom, -(-geom.n // chunks))

    def __init__(self, geom, images):
        self.geom, self.images = geom, images
        self.chunks = -(-geom.n // images)
        (kh, kw), (dh, dw) = geom.k, geom.dilation
        ho, wo = geom.out_hw
        self.hp, self.wp = ho + dh * (kh - 1), wo + dw * (kw - 1)  # padded rows/cols that outputs read
        top, _, left, _ = geom.pad
        h, w = geom.in_hw
        # the input's rows/cols inside the padded block: block [r0, r1) holds input [r0 - top, r1 - top)
        self.rows = (max(0, top), min(self.hp, top + h))
        self.cols = (max(0, left), min(self.wp, left + w))
        self.src = (slice(self.rows[0] - top, self.rows[1] - top),
                    slice(self.cols[0] - left, self.cols[1] - left))

    def ranges(self, u0, u1):
        """``(image start, image stop)`` of chunks ``[u0, u1)``."""
        for u in range(u0, u1):
            yield u * self.images, min((u + 1) * self.images, self.geom.n)

    def block(self, nb, dtype):
        """A zeroed padded block ``(C, Hp, Wp, nb)``."""
        return np.zeros((self.geom.c, self.hp, self.wp, nb), dtype=dtype)

    def load(self, blk, x, n0, n1):
        """Copy images ``[n0, n1)`` of ``x (N, C, H, W)`` into the block's interior (its border stays 0)."""
        (r0, r1), (c0, c1) = self.rows, self.cols
        blk[:, r0:r1, c0:c1] = x[n0:n1, :, self.src[0], self.src[1]].transpose(1, 2, 3, 0)

    def windows(self, blk):
        """The block's tap windows ``(C, kh, kw, Ho, Wo*nb)``: every output row's run (a strided view)."""
        (dh, dw), nb = self.geom.dilation, blk.shape[3]
        sc, sh, sw, sn = blk.strides
        ho, wo = self.geom.out_hw
        return as_strided(blk, (self.geom.c,) + self.geom.k + (ho, wo * nb), (sc, dh * sh, dw * sw, sh, sn),
                          writeable=False)

    def add_windows(self, gblk, cgrad):
        """col2im: ``gblk (C, Hp, Wp, nb) +=`` each tap's column gradients ``cgrad (C, kh, kw, Ho, Wo*nb)``
        at its window."""
        (kh, kw), (dh, dw) = self.geom.k, self.geom.dilation
        ho, wo = self.geom.out_hw
        nb = gblk.shape[3]
        flat = gblk.reshape(gblk.shape[0], self.hp, self.wp * nb)
        for i in range(kh):
            for j in range(kw):
                x0 = j * dw * nb
                flat[:, i * dh:i * dh + ho, x0:x0 + wo * nb] += cgrad[:, i, j]

    def interior(self, gblk):
        """The block's input part as ``(nb, C, rows, cols)`` (a view)."""
        (r0, r1), (c0, c1) = self.rows, self.cols
        return gblk[:, r0:r1, c0:c1].transpose(3, 0, 1, 2)


def forward(x, w, bias, geom):
    """NCHW output ``(N, O, Ho, Wo)`` of the stride-1 convolution of ``x (N, C, H, W)`` with
    ``w (O, C/g, kh, kw)``, plus ``bias`` (or None)."""
    plan = _plan(geom, x.itemsize)
    g = geom.groups
    wm = np.ascontiguousarray(w).reshape(g, geom.o // g, -1)  # (g, O/g, C/g*kh*kw): the columns' order
    ho, wo = geom.out_hw
    y = np.empty((geom.n, geom.o, ho, wo), dtype=x.dtype)
    b4 = None if bias is None else bias.reshape(-1, 1, 1)

    def part(u0, u1):
        blocks = {}
        for n0, n1 in plan.ranges(u0, u1):
            nb = n1 - n0
            if nb not in blocks:  # the border is zeroed once; load rewrites only the interior
                blocks[nb] = (plan.block(nb, x.dtype), np.empty(g * wm.shape[2] * ho * wo * nb, x.dtype),
                              np.empty((g, wm.shape[1], ho * wo * nb), x.dtype))
            blk, buf, out = blocks[nb]
            plan.load(blk, x, n0, n1)
            cols = buf.reshape((geom.c,) + geom.k + (ho, wo * nb))
            cols[...] = plan.windows(blk)
            matmul_here(wm, cols.reshape(g, wm.shape[2], -1), out)
            res = out.reshape(geom.o, ho, wo, nb).transpose(3, 0, 1, 2)
            if b4 is None:
                y[n0:n1] = res
            else:
                np.add(res, b4, out=y[n0:n1])

    split_map(part, plan.chunks, y.size * wm.shape[2], np)
    return y


def backward(x, g_out, w, geom, need_x, need_weight):
    """Gradients of ``forward`` given ``g_out (N, O, Ho, Wo)``: (``d x`` or None, ``d w`` or None)."""
    plan = _plan(geom, g_out.itemsize)
    g, dtype = geom.groups, g_out.dtype
    wm = np.ascontiguousarray(w).reshape(g, geom.o // g, -1)
    og, k = wm.shape[1:]
    wt = wm.transpose(0, 2, 1)
    ho, wo = geom.out_hw
    ri, ci = plan.src
    gx = None
    if need_x:  # every input pixel gets its gradient below, unless outputs read only part of the input
        whole = (ri, ci) == (slice(0, geom.in_hw[0]), slice(0, geom.in_hw[1]))
        gx = (np.empty if whole else np.zeros)((geom.n, geom.c) + geom.in_hw, dtype=dtype)
    blk_shape = (geom.c, plan.hp, plan.wp)

    def part(u0, u1):
        acc = np.zeros((g, k, og), dtype=dtype) if need_weight else None  # transposed: as conv_shallow
        blocks = {}
        for n0, n1 in plan.ranges(u0, u1):
            nb = n1 - n0
            if nb not in blocks:
                blk = plan.block(nb, dtype) if need_weight else None
                blocks[nb] = blk, np.empty(g * k * ho * wo * nb, dtype), np.empty(blk_shape + (nb,), dtype)
            blk, buf, gblk = blocks[nb]
            cols = buf.reshape(g, k, -1)
            gmat = np.ascontiguousarray(g_out[n0:n1].transpose(1, 2, 3, 0)).reshape(g, og, -1)
            if need_weight:
                plan.load(blk, x, n0, n1)
                cols.reshape((geom.c,) + geom.k + (ho, wo * nb))[...] = plan.windows(blk)
                if g == 1:
                    accumulate_here(cols[0], gmat[0].T, acc[0])
                else:
                    acc += np.matmul(cols, gmat.transpose(0, 2, 1))
            if need_x:
                matmul_here(wt, gmat, cols)  # column gradients, into the column buffer
                gblk[...] = 0
                plan.add_windows(gblk, cols.reshape((geom.c,) + geom.k + (ho, wo * nb)))
                gx[n0:n1, :, ri, ci] = plan.interior(gblk)
        return acc

    parts = split_map(part, plan.chunks, geom.n * geom.o * ho * wo * k, np)
    gw = None
    if need_weight:
        acc = parts[0]
        for extra in parts[1:]:
            acc += extra
        gw = acc.transpose(0, 2, 1).reshape(w.shape)
    return gx, gw

