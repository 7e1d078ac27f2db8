"""Stride-1 depthwise convolution whose output rows are as wide as its input rows (MobileNet's and
EfficientNet's 3x3 pad 1 and 5x5 pad 2 layers): one shifted copy per kernel *column*, one small GEMM
per channel, one shifted add per kernel *row*.

``conv_depthwise``'s direct kernel gathers one shifted copy of the input per tap (9 for 3x3, 25 for
5x5) and reduces them with a matrix-vector product per channel: the copies are the cost. Here, with
``W`` the row width (input and output alike) and flat indices ``q = r*W + w`` over a channel's rows:

* kernel column ``j`` reads input column ``w + s_j`` (``s_j = j*dw - left``): ``R_j`` is the input moved
  by ``s_j`` places along the flat rows (one contiguous copy), with the columns that wrapped into the
  neighbouring row zeroed, inside a buffer that also holds ``top`` zero rows above the image and enough
  below it (kept zero between calls);
* ``P[i] = sum_j w[i, j] * R_j`` for every kernel row ``i`` at once is a ``(kh, kw) @ (kw, rows*W)``
  product per channel (one batched BLAS call per block of channels);
* kernel row ``i`` reads input row ``h + i*dh - top``, i.e. ``P[i]`` moved by ``i*dh`` rows, so the
  output is ``sum_i P[i][i*dh*W : i*dh*W + Ho*W]``: ``kh - 1`` adds.

``kw`` copies and ``kh`` adds instead of ``kh*kw`` copies: measured on one thread, 1x32x112x112 3x3
0.71 -> 0.46 ms, 1x144x56x56 0.87 -> 0.65 ms, 1x192x28x28 0.33 -> 0.28 ms, 1x240x28x28 5x5 1.16 -> 0.61
ms; two threads, 16x144x56x56 10.5 -> 6.7 ms. Channel multipliers above one, strides, rows of a
different width and planes under 12x12 keep the direct kernel (a strided variant of this measured no
faster than the phase gathers there, and at 7x7 the direct kernel's single copy per tap is as fast).

The backward uses the same machinery: the input gradient is the convolution of the output gradient
with the flipped kernel (stride 1, rows of the same width again), and the weight gradient reads the
shifted copies of the input: ``dw[i, j] = sum_q g[q] * R_j[q + i*dh*W]``, ``kh`` matrix-vector products
per channel.
"""

import numpy as np

from ._scratch import thread_buffer
from ._threads import num_threads, split_map

_BLOCK = 1 << 18  # images*channels*output pixels per block: the block's kw shifted copies (~3 MB for
# 3x3) stay in L2/L3; measured best at 16 channels of 112x112 and 64-128 of 56x56 .. 14x14
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MIN_PLANE = 144  # output pixels per plane: 14x14 and up measured faster here, 7x7 (960 channels) not


def usable(a, w_shape, geom):
    """Whether the convolution ``geom`` with weight ``w_shape (C, 1, kh, kw)`` takes this path, ``a`` its
    input or output gradient: a CPU float32/64 depthwise convolution with one output per channel,
    stride 1, and output rows as wide as the input's."""
    o, cg, kh, kw = w_shape
    ho, wo = geom.out_hw
    return (type(a) is np.ndarray and a.ndim == 4 and a.dtype in _DTYPES and cg == 1 and o == geom.c
            and geom.groups == geom.c and geom.stride == (1, 1) and wo == geom.in_hw[1]
            and ho * wo >= _MIN_PLANE and _fits(wo, kw, geom.pad[2], geom.dilation[1]))


def _fits(width, kw, left, dw):
    """No kernel column reads a whole row or more away (the shifted copies would be all zeros)."""
    return 0 <= left < width and (kw - 1) * dw - left < width


class _Plan:
    """The shapes of one call: shifts, buffer rows, block sizes and blocks."""

    def __init__(self, n, c, in_hw, k, dilation, top, left, out_h, threads):
        (h, wd), (kh, kw), (dh, dw) = in_hw, k, dilation
        self.h, self.w, self.kh, self.kw, self.out_h, self.top = h, wd, kh, kw, out_h, top
        self.shifts = tuple(j * dw - left for j in range(kw))
        self.row_steps = tuple(i * dh for i in range(kh))
        self.rows = out_h + (kh - 1) * dh  # buffer rows: top zeros, the image, bottom zeros
        self.length = out_h * wd
        per = max(1, _BLOCK // max(self.length, 1))
        cb = min(c, per)
        nb = min(n, max(1, per // c)) if cb == c else 1
        if cb < c:  # equal channel blocks, a multiple of the threads for one image
            count = -(-c // cb)
            if n == 1:
                count = -(-count // threads) * threads
            cb = -(-c // count)
        self.nb, self.cb = nb, cb
        self.blocks = tuple((n0, min(n0 + nb, n), c0, min(c0 + cb, c))
                            for n0 in range(0, n, nb) for c0 in range(0, c, cb))

    def scratch(self, dtype, extra_rows):
        """This thread's block buffer: the ``kw`` shifted copies and ``extra_rows`` more rows per plane,
        one array in the slot ``conv_depthwise``'s gathers use (separate arrays measured slower in
        MobileNetV2: the next stride-2 layer's column block had left the cache)."""
        both = thread_buffer((self.nb, self.cb, self.kw + extra_rows, self.rows * self.w), dtype)
        return both[:, :, : self.kw], both[:, :, self.kw:]

    def fill(self, copies, xs):
        """``copies[:, :, j]``: the block's planes ``xs (nb, cb, H*W)`` moved by ``shifts[j]`` along the
        flat rows, starting at buffer row ``top``; the wrapped columns and the rows above and below the
        image zeroed."""
        nb, cb, hw = xs.shape
        wd = self.w
        base, end = self.top * wd, self.top * wd + hw
        view = copies[:nb, :cb]
        view[..., :base] = 0
        view[..., end:] = 0
        for j, s in enumerate(self.shifts):
            dst = view[:, :, j]
            if s >= 0:
                dst[..., base:end - s] = xs[..., s:]
            else:
                dst[..., base - s:end] = xs[..., :hw + s]
            if s:  # columns w with w + s outside [0, W) read the neighbouring row: zero them
                grid = dst[..., base:end].reshape(nb, cb, self.h, wd)
                if s > 0:
                    grid[..., wd - s:] = 0
                else:
                    grid[..., :-s] = 0


_plans = {}


def _plan(shape, k, dilation, top, left, out_h):
    key = (shape, k, dilation, top, left, out_h, num_threads())
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) > 256:
            _plans.clear()
        plan = _plans[key] = _Plan(*shape[:2], shape[2:], k, dilation, top, left, out_h, num_threads())
    return plan


def forward(x, w, bias, geom):
    """``(N, C, Ho, W)`` depthwise convolution of ``x (N, C, H, W)`` with ``w (C, 1, kh, kw)`` plus
    ``bias (C,)`` or None (see ``usable``)."""
    return _convolve(x, w.reshape(w.shape[0], *w.shape[2:]), bias, geom.dilation, geom.pad[0], geom.pad[2],
                     geom.out_hw[0])


def _convolve(x, w3, bias, dilation, top, left, out_h):
    """The correlation of ``x (N, C, H, W)`` with ``w3 (C, kh, kw)``, padded by ``top``/``left`` (the
    bottom/right padding follows from ``out_h`` and the row width)."""
    n, c = x.shape[:2]
    x = np.ascontiguousarray(x)
    plan = _plan(x.shape, w3.shape[1:], dilation, top, left, out_h)
    out = np.empty((n, c, out_h, plan.w), dtype=x.dtype)
    flat_x, flat_out = x.reshape(n, c, -1), out.reshape(n, c, -1)
    wm = np.ascontiguousarray(w3, dtype=x.dtype)
    length, steps = plan.length, [i * plan.w for i in plan.row_steps]

    def part(b0, b1):
        copies, products = plan.scratch(x.dtype, plan.kh)
        for n0, n1, c0, c1 in plan.blocks[b0:b1]:
            nb, cb = n1 - n0, c1 - c0
            plan.fill(copies, flat_x[n0:n1, c0:c1])
            prod = products[:nb, :cb]
            np.matmul(wm[c0:c1], copies[:nb, :cb], out=prod)  # every kernel row's sum over columns
            dst = flat_out[n0:n1, c0:c1]
            if len(steps) == 1:
                dst[...] = prod[:, :, 0, :length]
            else:
                np.add(prod[:, :, 0, steps[0]:steps[0] + length], prod[:, :, 1, steps[1]:steps[1] + length],
                       out=dst)
                for i in range(2, len(steps)):
                    dst += prod[:, :, i, steps[i]:steps[i] + length]
            if bias is not None:
                dst += bias[c0:c1].reshape(cb, 1)

    split_map(part, len(plan.blocks), out.size * plan.kh * plan.kw)
    return out


def backward(x, g, w, geom, need_x, need_w):
    """``(d x, d w)`` of ``forward`` for the output gradient ``g (N, C, Ho, W)``, None where not needed;
    ``d x`` is None also when the flipped kernel's padding would be negative (more padding than the
    kernel spans): the caller then takes the direct kernel's."""
    (kh, kw), (dh, dw) = w.shape[2:], geom.dilation
    top, bottom, left, right = geom.pad
    gx = None
    if need_x:
        flip_top, flip_left = (kh - 1) * dh - top, (kw - 1) * dw - left
        if min(flip_top, flip_left, (kh - 1) * dh - bottom, (kw - 1) * dw - right) >= 0 \
                and _fits(g.shape[3], kw, flip_left, dw):
            flipped = w.reshape(w.shape[0], kh, kw)[:, ::-1, ::-1]
            gx = _convolve(g, flipped, None, geom.dilation, flip_top, flip_left, geom.in_hw[0])
    return gx, (_weight_grad(x, g, w.shape, geom) if need_w else None)


def _weight_grad(x, g, w_shape, geom):
    """``d w (C, 1, kh, kw)``: per block, the input's shifted copies against the output gradient."""
    n, c = x.shape[:2]
    (kh, kw), out_h = w_shape[2:], geom.out_hw[0]
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
    plan = _plan(x.shape, (kh, kw), geom.dilation, geom.pad[0], geom.pad[2], out_h)
    flat_x, flat_g = x.reshape(n, c, -1), g.reshape(n, c, -1, 1)
    length, steps = plan.length, [i * plan.w for i in plan.row_steps]

    def part(b0, b1):
        copies, _ = plan.scratch(x.dtype, 0)
        acc = np.zeros((c, kh, kw), dtype=g.dtype)
        for n0, n1, c0, c1 in plan.blocks[b0:b1]:
            nb, cb = n1 - n0, c1 - c0
            plan.fill(copies, flat_x[n0:n1, c0:c1])
            gb = flat_g[n0:n1, c0:c1]
            for i, off in enumerate(steps):  # (nb, cb, kw, L) @ (nb, cb, L, 1): kernel row i's taps
                prod = np.matmul(copies[:nb, :cb, :, off:off + length], gb)
                acc[c0:c1, i] += prod[0, :, :, 0] if nb == 1 else prod[..., 0].sum(axis=0)
        return acc

    parts = split_map(part, len(plan.blocks), g.size * kh * kw)
    total = parts[0]
    for extra in parts[1:]:
        total += extra
    return total.reshape(w_shape)
