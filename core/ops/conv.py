"""2-D convolution and transposed convolution as primitives with a fused backward.

How it is made fast on numpy (and stays plain array code for cupy):

* The zero-padded input is rearranged once into *phase planes*: for stride ``s`` the padded image is
  split into ``s*s`` sub-images ``P[a, b][u, v] = xpad[u*s + a, v*s + b]``, each stored channel-major
  as a ``(C, N*Hq*Wq)`` matrix. In that layout every kernel tap ``(i, j)`` reads one phase at a fixed
  flat offset, so its im2col rows are a *contiguous* slice: building the column matrix is ``kh*kw``
  memcpy-like copies rather than a gather. Outputs are computed on the whole ``Hq x Wq`` grid and
  cropped (the padding border costs a few percent of extra columns).
* The column matrix is built a chunk of columns at a time, so it stays in cache for the GEMM that
  consumes it (one GEMM per chunk with ``K = kh*kw*C/groups``). On the GPU one chunk covers everything.
* The input gradient is itself a convolution on the grid: shifted copies of the output gradient and
  one GEMM with ``K = taps*O/groups`` per phase, so there is no col2im and no ``np.add.at``.
* 1x1 convolutions skip all of this (a batched GEMM on the NCHW input); depthwise convolutions
  (one input channel per group) are cache-blocked multiply-adds over the taps instead of tiny GEMMs
  (``conv_depthwise``).
* Copies and elementwise passes are split across threads (``_threads``); GEMMs use BLAS's threads.

Backward runs on raw arrays too; when ``create_graph=True`` records a differentiable backward instead
(grad mode is on while it runs), it is built from recorded ops (``graph_backward``) so that double
backward works, and first-order training keeps the raw path.
"""

import copy

import numpy as np

from ..autograd.function import Op
from ..autograd.grad_mode import is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from . import conv_depthwise_rows, conv_implicit, conv_shallow, conv_winograd, weight_cache
from ._gemm_pool import matmul as _gemm
from ._threads import split_map
from .conv_depthwise import (
    depthwise_backward,
    depthwise_forward,
    direct_backward,
    direct_forward,
    direct_usable,
)
from .conv_exact import exact_backward, exact_forward, grid_waste
from .graph_backward import conv_weight_grad, graph_input

_CHUNK_ELEMS_CPU = 1 << 21  # column-matrix chunk (~8 MB of float32) that stays in a core's cache
_CHUNK_ELEMS_GPU = 1 << 28
_PER_IMAGE_ELEMS = 1 << 16  # split copies image by image from this many elements per image (measured)
# conv_exact's exact columns measured faster for deep GEMMs (K = taps*C/g >= 512) on small grids whatever
# their waste (batch 1 past the first stage: 1x64x56x56 3x3/2 -> 128, 1.07 waste, 1.55 -> 1.0 ms: one GEMM
# split across the threads where the per-tap path has a single chunk); for shallow ones the grid's
# contiguous copies matter more.
_EXACT_WASTE, _EXACT_MIN_K = 1.0, 512
_EXACT_WASTE_BIG, _EXACT_BIG_GRID = 1.2, 8192


class ConvGeometry:
    """Where each kernel tap of a convolution reads in the phase planes of its padded input.

    ``in_hw`` is the (unpadded) input size, ``pad`` = (top, bottom, left, right). ``out_hw`` may force the
    output size (used by transposed convolutions with ``output_padding``).
    """

    def __init__(self, n, c, in_hw, w_shape, groups, stride, pad, dilation, out_hw=None):
        o, cg, kh, kw = w_shape
        (sh, sw), (dh, dw) = stride, dilation
        self.n, self.c, self.in_hw, self.o, self.groups = n, c, tuple(in_hw), o, groups
        self.stride, self.pad, self.k, self.dilation = (sh, sw), tuple(pad), (kh, kw), (dh, dw)
        if out_hw is None:
            out_hw = tuple(
                (size + lo + hi - d * (k - 1) - 1) // s + 1
                for size, lo, hi, d, k, s in zip(in_hw, pad[::2], pad[1::2], (dh, dw), (kh, kw), (sh, sw))
            )
        self.out_hw = ho, wo = out_hw
        # Padded rows/cols that some output actually reads; the phase grid covers exactly those.
        used_h, used_w = (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1
        self.hq, self.wq = -(-used_h // sh), -(-used_w // sw)
        self.lq = n * self.hq * self.wq
        self._memo = {}  # what paths derive from these shapes (``memo``)
        self.taps = []  # (phase index, flat offset) per tap, in (i, j) order
        for i in range(kh):
            for j in range(kw):
                (qi, a), (qj, b) = divmod(i * dh, sh), divmod(j * dw, sw)
                self.taps.append((a * sw + b, qi * self.wq + qj))
        self.pointwise = kh == kw == 1 and not any(pad)
        depthwise = cg == 1 and groups > 1
        deep = kh * kw * cg >= _EXACT_MIN_K
        waste = grid_waste(self)
        # the per-tap GEMMs (conv_implicit) measured faster than exact columns up to ~1.2x waste on big
        # grids; below ~8k grid columns (batch 1 past the first stage) the single deep GEMM wins sooner
        big_grid = self.lq >= _EXACT_BIG_GRID
        self.exact = not self.pointwise and not depthwise and deep and waste > (
            _EXACT_WASTE_BIG if big_grid else _EXACT_WASTE)

    def _phase_windows(self):
        """Per phase: (phase, dst rows, dst cols, src row slice, src col slice) of the unpadded input."""
        (sh, sw), (top, _, left, _) = self.stride, self.pad
        h, w = self.in_hw
        out = []
        for a in range(sh):
            rows = _axis_window(a, sh, top, h, self.hq)
            for b in range(sw):
                cols = _axis_window(b, sw, left, w, self.wq)
                if rows is not None and cols is not None:
                    out.append((a * sw + b, rows, cols))
        return out

    def split(self, x):
        """Phase planes ``(s_h*s_w, C, N*Hq*Wq)`` of the zero-padded NCHW input ``x``."""
        xp = array_module(x)
        sh, sw = self.stride
        windows = self._phase_windows()
        if xp is np and self.n > 1 and x[0].size >= _PER_IMAGE_ELEMS:
            return self._split_per_image(x, windows)
        planes = xp.zeros((sh * sw, self.c, self.n, self.hq, self.wq), dtype=x.dtype)

        def part(a, b):
            for p, (u0, u1, r0, r1), (v0, v1, c0, c1) in windows:
                planes[p, :, a:b, u0:u1, v0:v1] = x[a:b, :, r0:r1:sh, c0:c1:sw].transpose(1, 0, 2, 3)

        split_map(part, self.n, x.size, xp)
        return planes.reshape(sh * sw, self.c, self.lq)

    def _split_per_image(self, x, windows):
        """``split`` for big images: one image at a time (source and destination then walk memory in the
        same order; the whole-batch transposed copy measured 1.2-2.5x slower for strided convolutions on
        batch 16), zeroing only the padding border instead of the whole array first."""
        sh, sw = self.stride
        hq, wq = self.hq, self.wq
        planes = np.empty((sh * sw, self.c, self.n, hq, wq), dtype=x.dtype)
        for p in set(range(sh * sw)) - {w[0] for w in windows}:
            planes[p] = 0  # a phase no input pixel lands in (stride larger than the input)

        def part(a, b):
            for p, (u0, u1, _, _), (v0, v1, _, _) in windows:
                dst = planes[p, :, a:b]
                dst[:, :, :u0] = 0
                dst[:, :, u1:] = 0
                dst[:, :, u0:u1, :v0] = 0
                dst[:, :, u0:u1, v1:] = 0
            for i in range(a, b):
                for p, (u0, u1, r0, r1), (v0, v1, c0, c1) in windows:
                    planes[p, :, i, u0:u1, v0:v1] = x[i, :, r0:r1:sh, c0:c1:sw]

        split_map(part, self.n, x.size, np)
        return planes.reshape(sh * sw, self.c, self.lq)

    def merge(self, planes, dtype):
        """Inverse of ``split`` for gradients: phase planes back to an NCHW array (padding dropped)."""
        xp = array_module(planes)
        sh, sw = self.stride
        planes = planes.reshape(sh * sw, self.c, self.n, self.hq, self.wq)
        x = xp.zeros((self.n, self.c) + self.in_hw, dtype=dtype)
        windows = self._phase_windows()

        def part(a, b):
            for p, (u0, u1, r0, r1), (v0, v1, c0, c1) in windows:
                x[a:b, :, r0:r1:sh, c0:c1:sw] = planes[p, :, a:b, u0:u1, v0:v1].transpose(1, 0, 2, 3)

        split_map(part, self.n, x.size, xp)
        return x

    def embed(self, y):
        """An NCHW output-shaped array placed on the ``(G, O/G, N*Hq*Wq)`` grid, zero elsewhere."""
        xp = array_module(y)
        ho, wo = self.out_hw
        full = xp.zeros((self.o, self.n, self.hq, self.wq), dtype=y.dtype)

        def part(a, b):
            full[:, a:b, :ho, :wo] = y[a:b].transpose(1, 0, 2, 3)

        split_map(part, self.n, y.size, xp)
        return full.reshape(self.groups, self.o // self.groups, self.lq)

    def crop(self, full, bias=None):
        """The valid ``(N, O, Ho, Wo)`` part of a grid result, plus ``bias``, as a contiguous array."""
        xp = array_module(full)
        ho, wo = self.out_hw
        view = full.reshape(self.o, self.n, self.hq, self.wq)[:, :, :ho, :wo].transpose(1, 0, 2, 3)
        out = xp.empty((self.n, self.o, ho, wo), dtype=full.dtype)

        def part(a, b):
            if bias is None:
                out[a:b] = view[a:b]
            else:
                xp.add(view[a:b], bias.reshape(-1, 1, 1), out=out[a:b])

        split_map(part, self.n, out.size, xp)
        return out

    def memo(self, key, build):
        """``build()``, kept with this geometry under ``key``: what a path derives from the shapes alone
        is worked out once per cached geometry."""
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = build()
        return value

    def padded_below(self, rows):
        """This geometry with ``rows`` more zero rows at the bottom of every image's phase planes (the
        same taps and offsets; ``split`` zeroes them, ``merge`` ignores them)."""

        def build():
            other = copy.copy(self)
            other._memo = {}
            other.hq += rows
            other.lq = other.n * other.hq * other.wq
            return other

        return self.memo(("below", rows), build)

    def chunk(self, xp, k):
        """Columns per im2col chunk for a column matrix with ``k`` rows."""
        return max(512, (_CHUNK_ELEMS_CPU if xp is np else _CHUNK_ELEMS_GPU) // max(k, 1))


def _axis_window(phase, s, lo, size, nq):
    """For one axis and phase: grid slots ``[u0, u1)`` that hold input indices ``r0, r0+s, ... < r1``."""
    u0 = max(0, -(-(lo - phase) // s))
    r0 = u0 * s + phase - lo
    if r0 >= size or u0 >= nq:
        return None
    cnt = min(nq - u0, -(-(size - r0) // s))
    return u0, u0 + cnt, r0, r0 + (cnt - 1) * s + 1


def weight_matrix(w, groups):
    """``(O, C/g, kh, kw)`` weights as ``(g, O/g, kh*kw*C/g)`` with the tap index outer, as the columns."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh * kw).transpose(0, 1, 3, 2).reshape(groups, o // groups, -1)


def _weight_matrix(w, groups, wkey):
    """``weight_matrix``, kept for a CPU weight that does not change (``wkey``, see ``weight_cache``): the
    tap-major transpose of a kernel with more than one tap is a copy."""
    if wkey is None or type(w) is not np.ndarray:
        return weight_matrix(w, groups)
    return weight_cache.derived(w, ("matrix", groups), wkey,
                                lambda a: np.ascontiguousarray(weight_matrix(a, groups)))


def weight_from_matrix(wm, w_shape):
    o, cg, kh, kw = w_shape
    g = wm.shape[0]
    return wm.reshape(g, o // g, kh * kw, cg).transpose(0, 1, 3, 2).reshape(w_shape)


def _matmul_into(a, b, out):
    xp = array_module(a)
    if xp is np:
        _gemm(a, b, out)  # split across the op pool, one BLAS thread per block (_gemm_pool)
    else:
        out[...] = xp.matmul(a, b)


def _fill_columns(cols, planes, geom, start, stop):
    """Columns ``[start, stop)`` of the im2col matrix, ``cols`` shaped ``(g, taps, C/g, chunk)``."""
    g, lq = geom.groups, geom.lq

    def part(t0, t1):
        for t in range(t0, t1):
            p, off = geom.taps[t]
            src = planes[p].reshape(g, -1, lq)
            n = max(0, min(stop + off, lq) - (start + off))
            if n:
                cols[:, t, :, :n] = src[:, :, start + off : start + off + n]
            if n < stop - start:
                cols[:, t, :, n : stop - start] = 0

    split_map(part, len(geom.taps), cols[..., : stop - start].size, array_module(planes))


def grid_forward(planes, wm, geom):
    """Convolution on the phase grid: ``(g, O/g, N*Hq*Wq)`` from phase planes and the weight matrix."""
    xp = array_module(planes)
    g, og, k = wm.shape
    lq, ntap = geom.lq, len(geom.taps)
    if k == ntap and g > 1:  # one input channel per group (depthwise): multiply-adds, not tiny GEMMs
        return depthwise_forward(planes, wm, geom)
    if conv_implicit.usable(planes, wm, geom):  # one accumulating GEMM per tap, no column copies
        return conv_implicit.forward(planes, wm, geom)
    out = xp.empty((g, og, lq), dtype=planes.dtype)
    if ntap == 1 and geom.taps[0][1] == 0:
        _matmul_into(wm, planes[geom.taps[0][0]].reshape(g, -1, lq), out)
        return out
    step = geom.chunk(xp, g * k)
    cols = xp.empty((g, ntap, k // ntap, min(step, lq)), dtype=planes.dtype)
    for s in range(0, lq, step):
        e = min(s + step, lq)
        _fill_columns(cols, planes, geom, s, e)
        _matmul_into(wm, cols.reshape(g, k, -1)[:, :, : e - s], out[:, :, s:e])
    return out


def _fill_shifted(cols, gfull, offs, start, stop):
    """``cols[:, i, :, q - start] = gfull[:, :, q - offs[i]]`` for q in ``[start, stop)``; zero where
    ``q - offs[i] < 0``. The adjoint of ``_fill_columns`` for the taps of one phase."""
    width = stop - start

    def part(i0, i1):
        for i in range(i0, i1):
            off = offs[i]
            zeros = min(max(off - start, 0), width)
            if zeros:
                cols[:, i, :, :zeros] = 0
            if zeros < width:
                cols[:, i, :, zeros:width] = gfull[:, :, start + zeros - off : stop - off]

    split_map(part, len(offs), cols[..., :width].size, array_module(gfull))


def _backward_weight(planes, gfull, wm, geom):
    xp = array_module(gfull)
    g, og, k = wm.shape
    lq, ntap = geom.lq, len(geom.taps)
    if ntap == 1 and geom.taps[0][1] == 0:  # 1x1 kernels: the planes are the column matrix
        return _gemm(gfull, planes[geom.taps[0][0]].reshape(g, -1, lq).transpose(0, 2, 1))
    gwm = xp.zeros(wm.shape, dtype=gfull.dtype)
    step = geom.chunk(xp, g * k)
    cols = xp.empty((g, ntap, k // ntap, min(step, lq)), dtype=gfull.dtype)
    for s in range(0, lq, step):
        e = min(s + step, lq)
        _fill_columns(cols, planes, geom, s, e)
        gwm += _gemm(gfull[:, :, s:e], cols.reshape(g, k, -1)[:, :, : e - s].transpose(0, 2, 1))
    return gwm


def _backward_planes(gfull, wm, geom):
    """Input gradient as a convolution too: phase ``p`` gets ``sum_t W_t^T gfull[q - off_t]`` over its
    taps, one GEMM with ``K = taps * O/g`` per chunk (copies instead of col2im's read-modify-writes)."""
    xp = array_module(gfull)
    g, og, k = wm.shape
    lq, ntap = geom.lq, len(geom.taps)
    cg = k // ntap
    nphase = geom.stride[0] * geom.stride[1]
    gplanes = xp.zeros((nphase, g, cg, lq), dtype=gfull.dtype)
    w4 = wm.reshape(g, og, ntap, cg)
    for p in range(nphase):
        taps = [t for t, (pp, _) in enumerate(geom.taps) if pp == p]
        if not taps:
            continue
        offs = [geom.taps[t][1] for t in taps]
        wp = w4[:, :, taps, :].transpose(0, 3, 2, 1).reshape(g, cg, -1)  # (g, C/g, taps * O/g)
        if offs == [0]:
            _matmul_into(wp, gfull, gplanes[p])
            continue
        step = geom.chunk(xp, g * og * len(taps))
        cols = xp.empty((g, len(taps), og, min(step, lq)), dtype=gfull.dtype)
        for s in range(0, lq, step):
            e = min(s + step, lq)
            _fill_shifted(cols, gfull, offs, s, e)
            _matmul_into(wp, cols.reshape(g, -1, cols.shape[-1])[:, :, : e - s], gplanes[p, :, :, s:e])
    return gplanes.reshape(nphase, g * cg, lq)  # explicit: -1 is ambiguous when lq is 0 (no images)


def _backward_planes_col2im(gfull, wm, geom):
    """Input gradient by col2im, for layers with more output than input channels (then the column
    matrix ``W^T g`` is smaller than the shifted copies of ``g``): one strided add per tap, threads
    splitting the channels so that their writes never overlap."""
    xp = array_module(gfull)
    g, og, k = wm.shape
    lq, ntap = geom.lq, len(geom.taps)
    cg = k // ntap
    nphase = geom.stride[0] * geom.stride[1]
    gplanes = xp.zeros((nphase, g, cg, lq), dtype=gfull.dtype)
    step = geom.chunk(xp, g * k)
    width = min(step, lq)
    gcols = xp.empty((g, k, width), dtype=gfull.dtype)
    gc = gcols.reshape(g, ntap, cg, width)
    for s in range(0, lq, step):
        e = min(s + step, lq)
        _matmul_into(wm.transpose(0, 2, 1), gfull[:, :, s:e], gcols[:, :, : e - s])

        def part(c0, c1, s=s, e=e):
            for t, (p, off) in enumerate(geom.taps):
                n = max(0, min(e + off, lq) - (s + off))
                if n:
                    gplanes[p, :, c0:c1, s + off : s + off + n] += gc[:, t, c0:c1, :n]

        split_map(part, cg, g * k * (e - s), xp)
    return gplanes.reshape(nphase, g * cg, lq)  # explicit: -1 is ambiguous when lq is 0 (no images)


def grid_backward(planes, gfull, wm, geom, need_planes, need_weight):
    """Gradients of ``grid_forward``: (d planes or None, d weight matrix or None)."""
    g, og, k = wm.shape
    ntap = len(geom.taps)
    if k == ntap and g > 1:
        return depthwise_backward(planes, gfull, wm, geom, need_planes, need_weight)
    if conv_implicit.usable(gfull, wm, geom):
        gplanes = conv_implicit.input_grad(gfull, wm, geom) if need_planes else None
        gwm = conv_implicit.weight_grad(planes, gfull, wm, geom) if need_weight else None
        return gplanes, gwm
    # Shifted copies of g (taps * O/g rows) against col2im's read-modify-write adds (taps * C/g rows).
    planes_grad = _backward_planes_col2im if 2 * og > 3 * (k // ntap) else _backward_planes
    gplanes = planes_grad(gfull, wm, geom) if need_planes else None
    gwm = _backward_weight(planes, gfull, wm, geom) if need_weight else None
    return gplanes, gwm


# ------------------------------------------------------------------------------ 1x1 convolutions
def _pointwise_input(x, geom):
    sh, sw = geom.stride
    ho, wo = geom.out_hw
    xs = x[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw] if (sh, sw) != (1, 1) else x
    return array_module(x).ascontiguousarray(xs).reshape(geom.n, geom.groups, geom.c // geom.groups, ho * wo)


def _pointwise_forward(x, wm, geom, bias):
    ho, wo = geom.out_hw
    # numpy's matmul gives float32 for bfloat16 operands: round back to the input dtype, as torch does
    y = _gemm(wm, _pointwise_input(x, geom)).astype(x.dtype, copy=False).reshape(geom.n, geom.o, ho, wo)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)
    return y


def _pointwise_backward(x, g, wm, geom, need_x, need_w):
    xp = array_module(g)
    gr = g.reshape(geom.n, geom.groups, geom.o // geom.groups, -1)
    gx = gw = None
    if need_x:
        gxs = _gemm(wm.transpose(0, 2, 1), gr).astype(g.dtype, copy=False)
        gxs = gxs.reshape((geom.n, geom.c) + geom.out_hw)
        if geom.stride == (1, 1):
            gx = gxs
        else:
            sh, sw = geom.stride
            gx = xp.zeros((geom.n, geom.c) + geom.in_hw, dtype=g.dtype)
            gx[:, :, ::sh, ::sw][:, :, : geom.out_hw[0], : geom.out_hw[1]] = gxs
    if need_w:
        gw = _gemm(gr, _pointwise_input(x, geom).transpose(0, 1, 3, 2)).sum(0).astype(g.dtype, copy=False)
    return gx, gw


# ------------------------------------------------------------------------------ whole convolutions
def conv_forward(x, w, bias, geom, keep=True, wkey=None):
    """Raw NCHW convolution: ``x (N, C, H, W)``, ``w (O, C/g, kh, kw)`` -> ``(N, O, Ho, Wo)``; also returns
    what ``conv_backward`` needs (the phase planes, or the input itself for 1x1 kernels; with
    ``keep=False`` the caller will not need it and a path may return None). ``wkey`` (the weight Tensor's
    version counter and version) lets a path cache what it derives from a weight that does not change."""
    tile = conv_winograd.choose(x, w.shape, geom, cached=wkey is not None)
    if tile:  # stride-1 3x3: Winograd F(4x4, 3x3) or F(2x2, 3x3)
        planes = geom.split(x) if keep else None
        return conv_winograd.forward(x, w, bias, geom, tile, planes, wkey), planes
    if geom.pointwise:  # 1x1: a batched GEMM on the input itself
        return _pointwise_forward(x, weight_matrix(w, geom.groups), geom, bias), x
    if conv_depthwise_rows.usable(x, w.shape, geom):  # depthwise, stride 1, rows as wide as the input's
        return conv_depthwise_rows.forward(x, w, bias, geom), x
    if direct_usable(x, geom):  # depthwise on CPU: straight from NCHW, no phase planes (conv_depthwise)
        return direct_forward(x, w, bias, geom), x
    if conv_shallow.usable(x, w.shape, geom):  # few channels per group: columns and GEMM per cached chunk
        return conv_shallow.forward(x, w, bias, geom, wkey), x
    wm = _weight_matrix(w, geom.groups, wkey)
    planes = geom.split(x)
    if geom.exact:
        return exact_forward(planes, wm, geom, bias), planes
    return geom.crop(grid_forward(planes, wm, geom), bias), planes


def conv_backward(saved, g, w, geom, need_x, need_w):
    """Raw gradients ``(d x, d w)`` of ``conv_forward`` given the output gradient ``g (N, O, Ho, Wo)``."""
    if conv_depthwise_rows.usable(g, w.shape, geom):  # conv_forward saved the input itself (if needed)
        gx, gw = conv_depthwise_rows.backward(saved, g, w, geom, need_x, need_w)
        if need_x and gx is None:  # more padding than the kernel spans: the direct kernel's
            gx = direct_backward(saved, g, w, geom, True, False)[0]
        return gx, gw
    if direct_usable(g, geom):  # conv_forward saved the input itself
        return direct_backward(saved, g, w, geom, need_x, need_w)
    tile = conv_winograd.choose(g, w.shape, geom)
    if tile:  # both gradients by Winograd (the weight's from the saved phase planes)
        gx = conv_winograd.input_grad(g, w, geom, tile) if need_x else None
        return gx, (conv_winograd.weight_grad(saved, g, geom, tile) if need_w else None)
    if conv_shallow.usable(g, w.shape, geom):  # conv_forward saved the input itself
        return conv_shallow.backward(saved, g, w, geom, need_x, need_w)
    wm = weight_matrix(w, geom.groups)
    if geom.pointwise:
        gx, gwm = _pointwise_backward(saved, g, wm, geom, need_x, need_w)
    else:
        if geom.exact:
            gplanes, gwm = exact_backward(saved, g, wm, geom, need_x, need_w)
        else:
            gplanes, gwm = grid_backward(saved, geom.embed(g), wm, geom, need_x, need_w)
        gx = geom.merge(gplanes, g.dtype) if need_x else None
    return gx, (weight_from_matrix(gwm, w.shape) if need_w else None)


def conv_transpose_forward(x, w, bias, geom):
    """Raw transposed convolution: the input-gradient of the convolution described by ``geom`` (whose
    input is this op's output), applied to ``x`` (N, C_in, H, W) with ``w`` (C_in, C_out/g, kh, kw)."""
    wm = weight_matrix(w, geom.groups)
    if geom.pointwise:
        y, _ = _pointwise_backward(None, x, wm, geom, True, False)
    else:
        gplanes, _ = grid_backward(None, geom.embed(x), wm, geom, True, False)
        y = geom.merge(gplanes, x.dtype)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)
    return y


class Conv2dOp(Op):
    """``conv2d(x, w[, b])`` on NCHW arrays; ``geom`` is a ConvGeometry for these shapes, ``wkey`` the
    weight's version key when it will not change under this call (see ``conv_forward``)."""

    def forward(self, x, w, b=None, geom=None, wkey=None):
        y, saved = conv_forward(x, w, b, geom, keep=self.recording and self.needs_input_grad[1], wkey=wkey)
        if self.recording:
            self.geom, self.has_bias = geom, b is not None
            if saved is x:  # the input itself: keep the Tensor so in-place changes are caught
                saved = self.inputs[0]
            self.save(saved if self.needs_input_grad[1] else None, self.inputs[1])
        return y

    def backward(self, g):
        if is_grad_enabled():
            return self._graph_backward(g)
        saved, w = self.saved_values()
        saved = saved._data if isinstance(saved, Tensor) else saved
        needs = self.needs_input_grad
        gx, gw = conv_backward(saved, g._data, w._data, self.geom, needs[0], needs[1])
        gb = g._data.sum(axis=(0, 2, 3)) if self.has_bias and needs[2] else None
        return tuple(None if a is None else Tensor._wrap(a) for a in (gx, gw, gb))[: len(needs)]

    def _graph_backward(self, g):
        """create_graph: input gradient = the transposed convolution (an op with its own backward),
        weight gradient = im2col columns of the input against ``g``."""
        saved, w = self.saved_values()
        needs, geom = self.needs_input_grad, self.geom
        gx = ConvTranspose2dOp.apply(g, w, geom=geom) if needs[0] else None
        gw = None
        if needs[1]:
            x = saved if isinstance(saved, Tensor) else graph_input(self, 0, geom.merge(saved, g._data.dtype))
            gw = conv_weight_grad(x, g, geom, tuple(w.shape))
        gb = g.sum((0, 2, 3)) if self.has_bias and needs[2] else None
        return (gx, gw, gb)[: len(needs)]


class ConvTranspose2dOp(Op):
    """``conv_transpose2d(x, w[, b])``: ``geom`` describes the forward convolution it inverts."""

    def forward(self, x, w, b=None, geom=None):
        y = conv_transpose_forward(x, w, b, geom)
        if self.recording:
            self.geom, self.has_bias = geom, b is not None
            self.save(self.inputs[0] if self.needs_input_grad[1] else None, self.inputs[1])
        return y

    def backward(self, g):
        x, w = self.saved_values()
        needs = self.needs_input_grad
        if is_grad_enabled():  # create_graph: the convolution, and the weight gradient with roles swapped
            gx = Conv2dOp.apply(g, w, geom=self.geom) if needs[0] else None
            gw = conv_weight_grad(g, x, self.geom, tuple(w.shape)) if needs[1] else None
            gb = g.sum((0, 2, 3)) if self.has_bias and needs[2] else None
            return (gx, gw, gb)[: len(needs)]
        geom, gd = self.geom, g._data
        wm = weight_matrix(w._data, geom.groups)
        gx = gw = None
        if geom.pointwise:
            if needs[0]:
                gx = _pointwise_forward(gd, wm, geom, None)
            if needs[1]:
                _, gwm = _pointwise_backward(gd, x._data, wm, geom, False, True)
                gw = weight_from_matrix(gwm, w.shape)
        else:
            planes = geom.split(gd)
            if needs[0]:
                gx = geom.crop(grid_forward(planes, wm, geom))
            if needs[1]:
                _, gwm = grid_backward(planes, geom.embed(x._data), wm, geom, False, True)
                gw = weight_from_matrix(gwm, w.shape)
        gb = gd.sum(axis=(0, 2, 3)) if self.has_bias and needs[2] else None
        return tuple(None if a is None else Tensor._wrap(a) for a in (gx, gw, gb))[: len(needs)]


__all__ = [
    "ConvGeometry",
    "Conv2dOp",
    "ConvTranspose2dOp",
    "conv_forward",
    "conv_backward",
    "conv_transpose_forward",
]
