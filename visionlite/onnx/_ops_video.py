"""Converters for the 3-D (video) ops: temporal windows, temporal max pooling, adaptive N-d averaging.

``conv3d``/``max_pool3d``/``avg_pool3d`` run on the 2-D machinery with the time axis handled by the ops
of ``core/ops/conv3d.py``; each converter here emits the same windows with ONNX Pad/Slice/Concat (a
window tap is a strided slice of the time axis padded by ``win.lo`` in front), so the graph computes
what the numpy forward computes. Registered into ``_ops.CONVERTERS`` when ``_ops`` is imported.
"""

import numpy as np

from ._ops import _slice, converter

_I64 = np.int64


def _win_ints(win):
    return tuple(int(v) for v in (win.lo, win.stride, win.dilation, win.k, win.n_out, win.size))


def _time_taps(g, n, x, win, fill, nd):
    """The ``win.k`` taps of ``x (N, C, T, ...)`` along axis 2: a list of ``(N, C, To, ...)`` values.

    Tap ``i`` of output ``t`` reads frame ``t*stride - lo + i*dilation``; frames outside ``[0, T)`` read
    ``fill``. Padding the time axis by ``lo`` in front (and what the last window needs behind) makes tap
    ``i`` the slice ``[i*dilation :: stride]`` of ``To`` frames."""
    lo, s, d, k, n_out, size = _win_ints(win)
    need = (n_out - 1) * s + (k - 1) * d + 1  # padded length the windows reach
    front, back = max(lo, 0), max(0, need - lo - size)
    start_shift = 0
    if lo < 0:  # windows start inside the clip (never for conv/pool, kept for completeness)
        start_shift = -lo
    if front or back:
        pads = [0] * (2 * nd)
        pads[2], pads[nd + 2] = front, back
        value = g.const(np.array(fill, dtype=n.dtype), "pad_value")
        x = g.add("Pad", [x, g.const(np.array(pads, _I64), "pads"), value], mode="constant")
    taps = []
    for i in range(k):
        a = start_shift + i * d
        end = a + (n_out - 1) * s + 1
        taps.append(_slice(g, x, g.const(np.array([a], _I64)), g.const(np.array([end], _I64)), [2], [s]))
    return taps


@converter("TemporalUnfoldOp")
def _temporal_unfold(g, n):
    # (N, C, T, *rest) -> (N, C, To, kt, *rest), then (N, To, C, kt, *rest) when time-major (conv3d's order).
    win = n.attrs["win"]
    nd = len(n.in_shapes[0])
    taps = _time_taps(g, n, n.ins[0], win, float(n.attrs.get("fill", 0.0)), nd)
    axis3 = g.const(np.array([3], _I64), "axes")
    stacked = g.add("Concat", [g.add("Unsqueeze", [t, axis3]) for t in taps], axis=3)
    if n.attrs.get("time_major", True):
        perm = [0, 2, 1] + list(range(3, nd + 1))
        g.add("Transpose", [stacked], out=n.out, perm=perm)
    else:
        g.add("Identity", [stacked], out=n.out)


@converter("TemporalMaxOp")
def _temporal_max(g, n):
    # Max over the window's frames; frames outside the clip start as -inf, as the numpy forward's fill.
    win = n.attrs["win"]
    taps = _time_taps(g, n, n.ins[0], win, -np.inf, len(n.in_shapes[0]))
    if len(taps) == 1:
        g.add("Identity", taps, out=n.out)
    else:
        g.add("Max", taps, out=n.out)


@converter("AdaptiveAvgPoolNdOp")
def _adaptive_avg_nd(g, n):
    # One averaging matrix per trailing axis (core/ops/pool3d.adaptive_matrix), applied axis by axis.
    from visionlite.core.ops.pool3d import adaptive_matrix

    out_size = [int(o) for o in n.attrs["out_size"]]
    shape = n.in_shapes[0]
    nd, k = len(shape), len(out_size)
    x = n.ins[0]
    whole = [nd - k + j for j, o in enumerate(out_size) if o == 1]
    if whole and len(whole) == k:  # global average pooling: one mean over the pooled axes
        g.add("Identity", [g.reduce("ReduceMean", x, whole, True)], out=n.out)
        return
    for j, o in enumerate(out_size):
        axis, size = nd - k + j, int(shape[nd - k + j])
        if o == size:
            continue
        m = adaptive_matrix(size, o, n.dtype)
        if axis == nd - 1:
            x = g.add("MatMul", [x, g.const(np.ascontiguousarray(m.T), "pool_cols")])
        elif axis == nd - 2:
            x = g.add("MatMul", [g.const(m, "pool_rows"), x])
        else:  # move the axis last, average, move it back
            perm = list(range(nd))
            perm[axis], perm[-1] = perm[-1], perm[axis]
            x = g.add("Transpose", [x], perm=perm)
            x = g.add("MatMul", [x, g.const(np.ascontiguousarray(m.T), "pool_cols")])
            x = g.add("Transpose", [x], perm=perm)
    g.add("Identity", [x], out=n.out)


@converter("TemporalFoldOp")
def _temporal_fold(g, n):
    # Windows (N, To, C, k, *rest) (time-major) or (N, C, To, k, *rest) summed into frames (N, C, T, *rest):
    # tap i of window t lands on frame t*stride - lo + i*dilation. Each tap is spread to every stride-th
    # frame (zeros between), shifted by i*dilation, the taps are added, and frames [lo, lo + T) are kept.
    win = n.attrs["win"]
    lo, s, d, k, n_out, size = _win_ints(win)
    shape = n.in_shapes[0]
    nd = len(shape) - 1  # rank of the result
    rest = [int(v) for v in shape[4:]]
    total = max(n_out * s + (k - 1) * d, lo + size)
    zero = g.const(np.array(0, dtype=n.dtype), "pad_value")
    acc = None
    for i in range(k):
        # (a 0-d index would be written 1-d by the exporter: gather [i] and squeeze the axis instead)
        z = g.add("Gather", [n.ins[0], g.const(np.array([i], _I64), "tap")], axis=3)
        z = g.add("Squeeze", [z, g.const(np.array([3], _I64), "axes")])
        if n.attrs.get("time_major", True):
            z = g.add("Transpose", [z], perm=[0, 2, 1] + list(range(3, nd)))
        if s > 1:  # (N, C, To, *rest) -> (N, C, To*s, *rest) with s-1 zero frames after each
            z = g.add("Unsqueeze", [z, g.const(np.array([3], _I64), "axes")])
            pads = [0] * (2 * (nd + 1))
            pads[nd + 1 + 3] = s - 1
            z = g.add("Pad", [z, g.const(np.array(pads, _I64), "pads"), zero], mode="constant")
            z = g.add("Reshape", [z, g.const(np.array([0, 0, n_out * s] + rest, _I64), "shape")])
        pads = [0] * (2 * nd)
        pads[2], pads[nd + 2] = i * d, total - n_out * s - i * d
        z = g.add("Pad", [z, g.const(np.array(pads, _I64), "pads"), zero], mode="constant")
        acc = z if acc is None else g.add("Add", [acc, z])
    _slice(g, acc, g.const(np.array([lo], _I64)), g.const(np.array([lo + size], _I64)), [2], [1], out=n.out)


# ------------------------------------------------------------------------------------------ optical flow
@converter("GridSampleOp")
def _grid_sample(g, n):
    # grid_sample records as one op while exporting (core/ops/grid_sample_op.py): ONNX GridSample (opset 16;
    # opset 20 renamed 'bilinear' to 'linear' and added 5-D inputs).
    from ._trace import ExportError

    mode = n.attrs.get("mode", "bilinear")
    if g.opset < 16:
        raise ExportError(f"grid_sample needs ONNX GridSample (opset 16 or newer); export with "
                          f"opset_version=17 (got {g.opset})")
    if len(n.in_shapes[0]) != 4 and g.opset < 20:
        raise ExportError("grid_sample of a 5-D input needs opset 20 or newer (GridSample on volumes)")
    if g.opset >= 20:
        mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    g.add("GridSample", n.ins[:2], out=n.out, mode=mode, padding_mode=n.attrs.get("padding_mode", "zeros"),
          align_corners=int(bool(n.attrs.get("align_corners", False))))


@converter("_Im2Col")
def _im2col(g, n):
    # F.unfold (RAFT's convex upsampling): (N, C, H, W) padded -> (N, C*kh*kw, bh*bw); tap (i, j) reads the
    # strided block grid starting at (i*dh, j*dw), taps ordered row-major after the channel.
    (kh, kw), (dh, dw) = n.attrs["kernel"], n.attrs["dilation"]
    (sh, sw), (bh, bw) = n.attrs["stride"], n.attrs["blocks"]
    c = int(n.in_shapes[0][1])
    axis2 = g.const(np.array([2], _I64), "axes")
    taps = []
    for i in range(int(kh)):
        for j in range(int(kw)):
            start = [i * dh, j * dw]
            end = [i * dh + sh * (bh - 1) + 1, j * dw + sw * (bw - 1) + 1]
            t = _slice(g, n.ins[0], g.const(np.array(start, _I64)), g.const(np.array(end, _I64)), [2, 3],
                       [sh, sw])
            taps.append(g.add("Unsqueeze", [t, axis2]))
    cols = g.add("Concat", taps, axis=2) if len(taps) > 1 else taps[0]
    target = g.const(np.array([0, c * kh * kw, bh * bw], _I64), "shape")
    g.add("Reshape", [cols, target], out=n.out)
