"""Shared machinery of the RoI pooling ops: box-argument handling and the bilinear sample plan.

RoIAlign-style ops read each output bin as an average of bilinear samples. The sampling is separable:
a sample's row (two neighbouring rows and their weights) depends only on ``(roi, bin row, sample row)``
and its column only on ``(roi, bin column, sample column)``. The plan computes those per axis, in the
input dtype and in TorchVision's order of operations. Per axis, the samples of a bin are merged into one
window of neighbouring pixels with summed weights (small bins' samples share pixels), so a bin reads
``Ry * Rx`` pixels, often 4 to 9, instead of ``4 * GH * GW``; the windows become flat gather indices into
the channels-last input ``(N*H*W, C)`` with one weight each. Forward is then a handful of vectorised
gathers and multiply-adds over all RoIs at once, backward the matching scatter-adds (on the CPU: sorted
by target row and summed per run); nothing loops over RoIs in Python. RoIs whose adaptive sampling grid
or window size differs are handled in groups (usually a few). RoI max/average pooling reads integer
windows the same way (``window_taps``/``window_reduce``).
"""
import numpy as np

import visionlite as vl
from visionlite.core.backend import array_module, is_cupy_array
from visionlite.core.ops._threads import split_map

from ._utils import check_roi_boxes_shape, convert_boxes_to_roi_format

_CHUNK_ELEMS = 1 << 18  # output elements (rois * bins * channels) accumulated per pass (cache-sized)
_GPU_CHUNK_ELEMS = 1 << 24  # on the GPU, fewer and larger passes (each pass is a kernel launch)
_SCATTER_CHUNK = 1 << 16  # elements of weighted gradient rows summed per pass (stays in cache)


def _chunk_elems(xp):
    return _CHUNK_ELEMS if xp is np else _GPU_CHUNK_ELEMS


def pair(v, name="output_size"):
    if isinstance(v, int):
        return v, v
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v[0], v[0]
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v}")
    return v


def rois_tensor(boxes):
    """``boxes`` (Tensor[K, 5] or a list of Tensor[L, 4]) as one Tensor[K, 5]."""
    check_roi_boxes_shape(boxes)
    if isinstance(boxes, vl.Tensor):
        return boxes
    return convert_boxes_to_roi_format(list(boxes))


def check_inputs(input, rois, name):
    if input.ndim != 4:
        raise ValueError(f"{name}: input must be a Tensor[N, C, H, W], got shape {list(input.shape)}")
    if input.device != rois.device:
        raise RuntimeError(f"{name}: input and rois must be on the same device, got {input.device} and "
                           f"{rois.device}")
    if not input.is_floating_point():
        raise TypeError(f"{name}: input must be a floating point tensor, got {input.dtype}")


def scatter_add_rows(target, index, values):
    """``target[index[i]] += values[i]`` with repeated indices accumulated (numpy or cupy)."""
    if is_cupy_array(target):
        import cupyx

        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)


def channels_last(x):
    """``(N, C, H, W)`` array as a contiguous ``(N*H*W, C)`` array."""
    n, c, h, w = x.shape
    return array_module(x).ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n * h * w, c)


def axis_samples(xp, start, bin_size, grid, n_bins, n_grid, size, dtype):
    """Bilinear taps along one axis for rois with the same sample count ``n_grid``.

    ``start``, ``bin_size``, ``grid`` are per-roi arrays (K,) in ``dtype``. Returns ``(low, high, w_low,
    w_high)``, each (K, n_bins, n_grid): the two neighbouring indices (clamped as TorchVision's kernel) and
    their weights, zero where the sample falls outside ``[-1, size]``.
    """
    t = dtype.type
    b = xp.arange(n_bins, dtype=dtype)[None, :, None]
    i = (xp.arange(n_grid, dtype=dtype) + t(0.5))[None, None, :]
    s = start[:, None, None] + b * bin_size[:, None, None] + i * bin_size[:, None, None] / grid[:, None, None]
    outside = (s < -1.0) | (s > size)
    s = xp.maximum(s, t(0))
    low = s.astype(np.int64)
    edge = low >= size - 1
    low = xp.where(edge, size - 1, low)
    high = xp.where(edge, low, low + 1)
    s = xp.where(edge, low.astype(dtype), s)
    w_high = s - low.astype(dtype)
    w_low = t(1) - w_high
    w_low = xp.where(outside, t(0), w_low)
    w_high = xp.where(outside, t(0), w_high)
    return low, high, w_low, w_high


def axis_windows(taps):
    """Merge one axis's bilinear taps into a window per (roi, bin): ``(lo, weights, span)``.

    ``taps`` is ``(low, high, w_low, w_high)`` of shape (K, n_bins, n_grid). A bin's samples touch the
    indices ``lo .. lo + span - 1``; ``weights`` (K, n_bins, R), R the widest span, sums every sample's
    weight per index (samples of small bins share pixels, so R is often 2 or 3 where there are 2 * n_grid
    taps). ``span`` is per roi (K,): its widest bin.
    """
    low, high, w_low, w_high = taps
    xp = array_module(low)
    lo = low.min(axis=2)
    span = (high.max(axis=2) - lo + 1).max(axis=1)
    r = int(span.max()) if span.size else 1
    offs = xp.arange(r)
    t_low = (low - lo[:, :, None])[..., None] == offs
    t_high = (high - lo[:, :, None])[..., None] == offs
    weights = (xp.where(t_low, w_low[..., None], 0) + xp.where(t_high, w_high[..., None], 0)).sum(axis=2)
    return lo, weights.astype(w_low.dtype), span


def window_plan(batch, wy, wx, height, width):
    """Flat gather indices and weights (each (K, PH*PW, Ry*Rx)) from per-axis windows ``(lo, weights)``
    of :func:`axis_windows`: the product of a row window and a column window per bin."""
    (loy, ay), (lox, ax) = wy, wx
    xp = array_module(loy)
    k, ph, ry = ay.shape
    _, pw, rx = ax.shape
    rows = xp.minimum(loy[:, :, None] + xp.arange(ry), height - 1)  # (K, PH, Ry); past the span: weight 0
    cols = xp.minimum(lox[:, :, None] + xp.arange(rx), width - 1)
    base = (batch * height)[:, None, None, None, None]
    idx = (base + rows[:, :, None, :, None]) * width + cols[:, None, :, None, :]
    w = ay[:, :, None, :, None] * ax[:, None, :, None, :]
    return idx.reshape(k, ph * pw, ry * rx), w.reshape(k, ph * pw, ry * rx)


def gather_weighted(xcl, idx, w, chan_index=None):
    """``out[k, p, c] = sum_j w[k, p, j] * xcl[idx[k, p, j], c]`` (or channel ``chan_index[p, c]``),
    computed a chunk of rois at a time. Returns (K, P, C_out) in ``xcl``'s dtype."""
    xp = array_module(xcl)
    k, p, j = idx.shape
    c = xcl.shape[1] if chan_index is None else chan_index.shape[1]
    out = xp.empty((k, p, c), dtype=xcl.dtype)
    step = max(1, _chunk_elems(xp) // max(1, p * c))

    def work(first, last):  # rois [first, last): disjoint output rows, so threads can share ``out``
        for a in range(first, last, step):
            sl = slice(a, min(a + step, last))
            acc = xp.zeros((sl.stop - a, p, c), dtype=xcl.dtype)
            for jj in range(j):
                rows = idx[sl, :, jj]
                vals = xcl[rows] if chan_index is None else xcl[rows[..., None], chan_index[None]]
                acc += w[sl, :, jj, None] * vals
            out[sl] = acc

    split_map(work, k, k * p * c * j, xp)
    return out


def scatter_weighted(gcl, idx, w, n_rows, chan_index=None, n_chan=None):
    """Transpose of :func:`gather_weighted`: ``grad[idx[k, p, j], c] += w[k, p, j] * g[k, p, c]``.
    Returns ``(n_rows, C)`` (C = ``n_chan`` when ``chan_index`` maps bins to input channels)."""
    xp = array_module(gcl)
    if chan_index is None and xp is np:
        return _scatter_sorted(gcl, idx, w, n_rows)
    k, p, j = idx.shape
    c_out = gcl.shape[2]
    c = c_out if chan_index is None else n_chan
    grad = xp.zeros((n_rows, c), dtype=gcl.dtype)
    flat = grad.reshape(-1)
    step = max(1, _chunk_elems(xp) // max(1, p * c_out))
    for a in range(0, k, step):
        sl = slice(a, min(a + step, k))
        g = gcl[sl]
        for jj in range(j):
            vals = w[sl, :, jj, None] * g
            if chan_index is None:
                scatter_add_rows(grad, idx[sl, :, jj].reshape(-1), vals.reshape(-1, c))
            else:
                pos = idx[sl, :, jj, None] * c + chan_index[None]
                scatter_add_rows(flat, pos.reshape(-1), vals.reshape(-1))
    return grad


def _scatter_sorted(gcl, idx, w, n_rows):
    """numpy scatter-add by sorting the (target row, weight, source row) triples by target once, then
    summing each target's run with ``np.add.reduceat`` (vectorised, unlike ``np.add.at``); zero weights
    are dropped first."""
    k, p, j = idx.shape
    c = gcl.shape[2]
    wf = w.reshape(-1)
    nz = np.flatnonzero(wf)
    tgt = idx.reshape(-1)[nz]
    order = np.argsort(tgt.astype(np.uint16) if n_rows <= 65536 else tgt, kind="stable")
    tgt, src, wts = tgt[order], nz[order] // j, wf[nz[order]]
    g2 = gcl.reshape(k * p, c)
    grad = np.zeros((n_rows, c), dtype=gcl.dtype)
    step = max(1, _SCATTER_CHUNK // max(1, c))
    # Threads take whole runs of equal targets, so no two of them add into the same gradient row.
    runs = np.flatnonzero(np.concatenate(([True], tgt[1:] != tgt[:-1], [True])))

    def work(first, last):
        for a in range(int(runs[first]), int(runs[last]), step):
            b = min(a + step, int(runs[last]))
            t = tgt[a:b]
            vals = g2[src[a:b]] * wts[a:b, None]
            starts = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
            grad[t[starts]] += np.add.reduceat(vals, starts, axis=0)

    if tgt.size:
        split_map(work, runs.size - 1, tgt.size * c)
    return grad


def round_half_away(xp, v):
    """C's ``round``: halves go away from zero (numpy's ``round`` goes to even)."""
    r = xp.trunc(v)
    return r + xp.where(xp.abs(v - r) >= 0.5, xp.sign(v), 0)


def extent_groups(xp, edges):
    """Yield index arrays of rois whose widest bin window has the same ``(height, width)`` (``edges`` =
    ``(hs, he, ws, we)``, each (K, bins)), so each group gathers only the taps it needs."""
    hs, he, ws, we = edges
    eh = xp.maximum((he - hs).max(axis=1), 1) if hs.size else xp.zeros(hs.shape[0], dtype=np.int64)
    ew = xp.maximum((we - ws).max(axis=1), 1) if ws.size else xp.zeros(ws.shape[0], dtype=np.int64)
    keys = eh * (int(ew.max()) + 1 if ew.size else 1) + ew
    for key in xp.unique(keys).tolist():
        yield xp.flatnonzero(keys == key)


def window_taps(batch, starts_h, ends_h, starts_w, ends_w, height, width):
    """Integer windows ``[start, end)`` per bin as gather taps: ``(idx, valid)``, each (K, PH*PW, M) with
    M the largest window area among these rois; taps past a window's end are marked invalid."""
    xp = array_module(starts_h)
    k, ph = starts_h.shape
    pw = starts_w.shape[1]
    mh = max(int((ends_h - starts_h).max()) if k else 0, 1)
    mw = max(int((ends_w - starts_w).max()) if k else 0, 1)
    rows = starts_h[:, :, None] + xp.arange(mh)  # (K, PH, Mh)
    cols = starts_w[:, :, None] + xp.arange(mw)
    vr = rows < ends_h[:, :, None]
    vc = cols < ends_w[:, :, None]
    rows = xp.minimum(rows, height - 1)
    cols = xp.minimum(cols, width - 1)
    idx = (batch * height)[:, None, None, None, None] + rows[:, :, None, :, None]
    idx = idx * width + cols[:, None, :, None, :]
    valid = vr[:, :, None, :, None] & vc[:, None, :, None, :]
    return idx.reshape(k, ph * pw, mh * mw), valid.reshape(k, ph * pw, mh * mw)


def window_reduce(xcl, idx, valid, mode, chan_index=None):
    """Max (``mode='max'``, with the flat input row of the first maximum, -1 for empty windows) or sum
    (``mode='sum'``) of ``xcl`` rows over window taps; returns ``(value, argmax_rows or None)``, each
    (K, P, C_out). Empty windows give 0, as TorchVision."""
    xp = array_module(xcl)
    k, p, m = idx.shape
    c = xcl.shape[1] if chan_index is None else chan_index.shape[1]
    low = xcl.dtype.type(-np.finfo(np.float32).max)
    out = xp.empty((k, p, c), dtype=xcl.dtype)
    row_dtype = np.int32 if xcl.shape[0] < 2 ** 31 else np.int64
    arg = xp.empty((k, p, c), dtype=row_dtype) if mode == "max" else None
    step = max(1, _chunk_elems(xp) // max(1, p * c))

    def work(first, last):  # rois [first, last): disjoint rows of ``out`` and ``arg``
        for a in range(first, last, step):
            sl = slice(a, min(a + step, last))
            shape = (sl.stop - a, p, c)
            acc = xp.full(shape, low, dtype=xcl.dtype) if mode == "max" else xp.zeros(shape, xcl.dtype)
            best = xp.full(shape, -1, dtype=row_dtype) if mode == "max" else None
            better = xp.empty(shape, dtype=bool)
            for t in range(m):
                rows = idx[sl, :, t]
                vals = xcl[rows] if chan_index is None else xcl[rows[..., None], chan_index[None]]
                ok = valid[sl, :, t, None]
                if mode == "max":
                    xp.greater(vals, acc, out=better)
                    better &= ok
                    xp.copyto(acc, vals, where=better)  # strict '>': the first maximum wins, as TorchVision
                    xp.copyto(best, rows[..., None].astype(row_dtype), where=better)
                else:
                    acc += xp.where(ok, vals, xcl.dtype.type(0))
            if mode == "max":
                acc[best < 0] = 0
                arg[sl] = best
            out[sl] = acc

    split_map(work, k, k * p * c * m, xp)
    return out, arg
