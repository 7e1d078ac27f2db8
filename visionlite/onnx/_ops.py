"""Converters: one function per visionlite primitive op, emitting the ONNX nodes that compute it.

A converter gets the ``Builder`` and the ``Node`` (inputs/output names, the op's attributes in both
traces, shapes and dtypes) and must leave its result in ``node.out``. Each follows the primitive's
numpy forward (core/ops), so the ONNX graph computes what visionlite computes.
"""

import math

import numpy as np

from ._trace import ExportError

CONVERTERS = {}
# Ops whose inputs are brought to the output's dtype first (a float64 scalar times a float32 tensor).
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Maximum", "Minimum", "Where"}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def converter(*names):
    def deco(fn):
        for name in names:
            CONVERTERS[name] = fn
        return fn

    return deco


def onnx_dtype(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


# ------------------------------------------------------------------------------------- elementwise
_SIMPLE = {
    "Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max",
    "Minimum": "Min", "Neg": "Neg", "Abs": "Abs", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt",
    "Sin": "Sin", "Cos": "Cos", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Erf": "Erf",
    "Where": "Where", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh",
    "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
}


def _simple(g, n):
    g.add(_SIMPLE[n.op], n.ins, out=n.out)


for _name in _SIMPLE:
    CONVERTERS[_name] = _simple


def _scalar(g, n, value):
    return g.const(np.array(value, dtype=n.dtype), "scalar")


@converter("Rsqrt")
def _rsqrt(g, n):
    g.add("Reciprocal", [g.add("Sqrt", n.ins)], out=n.out)


@converter("Expm1")
def _expm1(g, n):
    g.add("Sub", [g.add("Exp", n.ins), _scalar(g, n, 1)], out=n.out)


@converter("Log1p")
def _log1p(g, n):
    g.add("Log", [g.add("Add", [n.ins[0], _scalar(g, n, 1)])], out=n.out)


@converter("Silu")
def _silu(g, n):
    g.add("Mul", [n.ins[0], g.add("Sigmoid", n.ins)], out=n.out)


@converter("Gelu")
def _gelu(g, n):
    x = n.ins[0]
    if n.attrs.get("approximate", "none") == "tanh":
        inner = g.add("Mul", [x, g.add("Mul", [x, x])])
        inner = g.add("Add", [x, g.add("Mul", [inner, _scalar(g, n, 0.044715)])])
        t = g.add("Tanh", [g.add("Mul", [inner, _scalar(g, n, math.sqrt(2 / math.pi))])])
    else:
        t = g.add("Erf", [g.add("Mul", [x, _scalar(g, n, 1 / math.sqrt(2))])])
    half = g.add("Mul", [x, _scalar(g, n, 0.5)])
    g.add("Mul", [half, g.add("Add", [t, _scalar(g, n, 1)])], out=n.out)


def _clip(g, n, x, lo, hi):
    ins = [x, "" if lo is None else _scalar(g, n, lo), "" if hi is None else _scalar(g, n, hi)]
    while ins[-1] == "":
        ins.pop()
    g.add("Clip", ins, out=n.out)


@converter("Clamp")
def _clamp(g, n):
    lo, hi = n.attrs.get("lo"), n.attrs.get("hi")
    if hasattr(lo, "shape") and np.ndim(lo) or hasattr(hi, "shape") and np.ndim(hi):
        x = n.ins[0]
        if lo is not None:
            x = g.add("Max", [x, g.const(np.asarray(lo, n.dtype))])
        if hi is not None:
            x = g.add("Min", [x, g.const(np.asarray(hi, n.dtype))])
        g.add("Identity", [x], out=n.out)
        return
    _clip(g, n, n.ins[0], None if lo is None else float(lo), None if hi is None else float(hi))


@converter("Hardtanh")
def _hardtanh(g, n):
    _clip(g, n, n.ins[0], float(n.attrs.get("lo", -1.0)), float(n.attrs.get("hi", 1.0)))


@converter("Hardsigmoid")
def _hardsigmoid(g, n):
    g.add("HardSigmoid", n.ins, out=n.out, alpha=1 / 6, beta=0.5)


@converter("Hardswish")
def _hardswish(g, n):
    g.add("HardSwish", n.ins, out=n.out)


@converter("LeakyRelu")
def _leaky(g, n):
    g.add("LeakyRelu", n.ins, out=n.out, alpha=float(n.attrs.get("slope", 0.01)))


@converter("Elu")
def _elu(g, n):
    alpha, scale, inp = (float(n.attrs.get(k, 1.0)) for k in ("alpha", "scale", "input_scale"))
    x = n.ins[0]
    if inp != 1.0:
        x = g.add("Mul", [x, _scalar(g, n, inp)])
    y = g.add("Elu", [x], alpha=alpha / inp if inp != 1.0 else alpha)
    if inp != 1.0:  # scale * (x > 0 ? x : alpha * (exp(inp * x) - 1)) with x unscaled on the positive side
        pos = g.add("Relu", [n.ins[0]])
        neg = g.add("Sub", [y, g.add("Relu", [x])])
        neg = g.add("Mul", [neg, _scalar(g, n, inp)])
        y = g.add("Add", [pos, neg])
    g.add("Mul", [y, _scalar(g, n, scale)], out=n.out)


@converter("Softplus")
def _softplus(g, n):
    beta, thr = float(n.attrs.get("beta", 1.0)), float(n.attrs.get("threshold", 20.0))
    x = n.ins[0]
    bx = g.add("Mul", [x, _scalar(g, n, beta)])
    soft = g.add("Div", [g.add("Softplus", [bx]), _scalar(g, n, beta)])
    big = g.add("Greater", [bx, _scalar(g, n, thr)])
    g.add("Where", [big, x, soft], out=n.out)


@converter("Cast")
def _cast(g, n):
    g.add("Cast", n.ins, out=n.out, to=onnx_dtype(g.onnx, n.dtype))


@converter("Clone", "ToDevice", "ZeroGrad")
def _identity(g, n):
    g.add("Identity", n.ins[:1], out=n.out)


# ------------------------------------------------------------------------------------------ movement
@converter("Reshape")
def _reshape(g, n):
    g.add("Reshape", [n.ins[0], g.ints(n.shape, n.shape2, "a reshape target")], out=n.out)


@converter("Permute")
def _permute(g, n):
    g.add("Transpose", n.ins, out=n.out, perm=[int(a) for a in n.attrs["axes"]])


@converter("Expand")
def _expand(g, n):
    g.add("Expand", [n.ins[0], g.ints(n.shape, n.shape2, "an expand shape")], out=n.out)


@converter("Cat")
def _cat(g, n):
    g.add("Concat", n.ins, out=n.out, axis=int(n.attrs.get("axis", 0)))


@converter("Repeat")
def _repeat(g, n):
    reps = list(n.attrs["reps"])
    x = n.ins[0]
    lead = len(reps) - len(n.in_shapes[0])
    if lead > 0:
        x = g.add("Unsqueeze", [x, g.const(np.arange(lead, dtype=np.int64), "axes")])
    g.add("Tile", [x, g.ints(reps, list(n.attrs2["reps"]), "repeat counts")], out=n.out)


def _slice(g, x, starts, ends, axes, steps, out=None):
    c = g.const
    axes, steps = c(np.array(axes, np.int64), "axes"), c(np.array(steps, np.int64), "steps")
    return g.add("Slice", [x, starts, ends, axes, steps], out=out)


@converter("Flip")
def _flip(g, n):
    axes = n.attrs["axes"]
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    k = len(axes)
    _slice(g, n.ins[0], g.const(np.full(k, -1, np.int64)), g.const(np.full(k, _INT64_MIN, np.int64)),
           [a % len(n.shape) for a in axes], [-1] * k, out=n.out)


@converter("Roll")
def _roll(g, n):
    shifts, axes = n.attrs["shifts"], n.attrs.get("axes")
    x = n.ins[0]
    shape = n.in_shapes[0]
    if axes is None:  # numpy rolls the flattened array
        flat = g.add("Reshape", [x, g.const(np.array([-1], np.int64))])
        rolled = _roll_axis(g, flat, int(np.sum(shifts)), 0, int(np.prod(shape)))
        g.add("Reshape", [rolled, g.ints(shape, n.in_shapes2[0], "a roll shape")], out=n.out)
        return
    shifts = [shifts] if isinstance(shifts, (int, np.integer)) else list(shifts)
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    for s, a in zip(shifts, axes):
        a = a % len(shape)
        g.same(shape[a], n.in_shapes2[0][a], "a rolled dimension")
        x = _roll_axis(g, x, int(s), a, shape[a])
    g.add("Identity", [x], out=n.out)


def _roll_axis(g, x, shift, axis, size):
    s = shift % size if size else 0
    if s == 0:
        return x
    c = g.const
    tail = _slice(g, x, c(np.array([size - s], np.int64)), c(np.array([_INT64_MAX], np.int64)), [axis], [1])
    head = _slice(g, x, c(np.array([0], np.int64)), c(np.array([size - s], np.int64)), [axis], [1])
    return g.add("Concat", [tail, head], axis=axis)


def _basic_index(index, shape):
    """(per-axis (axis, start, stop, step) for non-trivial slices, axes to squeeze, axes to unsqueeze)
    for a basic index (ints, slices, None, Ellipsis) into ``shape``."""
    if not isinstance(index, tuple):
        index = (index,)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if any(i is Ellipsis for i in index):
        at = next(k for k, i in enumerate(index) if i is Ellipsis)
        index = index[:at] + (slice(None),) * (len(shape) - n_real) + index[at + 1:]
    index = index + (slice(None),) * (len(shape) - sum(1 for i in index if i is not None))
    slices, squeeze, unsqueeze = [], [], []
    d = o = 0
    for item in index:
        if item is None:
            unsqueeze.append(o)
            o += 1
            continue
        size = shape[d]
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            if not (start == 0 and stop == size and step == 1):
                if step < 0 and stop < 0:
                    stop = _INT64_MIN
                slices.append((d, start, stop, step))
            o += 1
        else:
            i = int(item)
            i = i + size if i < 0 else i
            slices.append((d, i, i + 1, 1))
            squeeze.append(d)
        d += 1
    return slices, squeeze, unsqueeze


@converter("Slice")
def _getitem(g, n):
    s1, q1, u1 = _basic_index(n.attrs["index"], n.in_shapes[0])
    s2, q2, u2 = _basic_index(n.attrs2["index"], n.in_shapes2[0])
    g.same([s[0] for s in s1], [s[0] for s in s2], "the sliced axes")
    g.same((q1, u1), (q2, u2), "an index")
    x = n.ins[0]
    if s1:
        x = g.add("Slice", [
            x,
            g.ints([s[1] for s in s1], [s[1] for s in s2], "slice starts"),
            g.ints([s[2] for s in s1], [s[2] for s in s2], "slice ends"),
            g.const(np.array([s[0] for s in s1], np.int64), "axes"),
            g.ints([s[3] for s in s1], [s[3] for s in s2], "slice steps"),
        ])
    if q1:
        x = g.add("Squeeze", [x, g.const(np.array(q1, np.int64), "axes")])
    if u1:
        x = g.add("Unsqueeze", [x, g.const(np.array(u1, np.int64), "axes")])
    g.add("Identity", [x], out=n.out)


@converter("AdvancedIndex")
def _advanced_index(g, n):
    index = n.attrs["index"]
    index = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, i in enumerate(index) if not isinstance(i, slice)]
    plain = all(isinstance(i, slice) and i == slice(None) for k, i in enumerate(index) if k not in arrays)
    if len(arrays) != 1 or not plain or np.asarray(index[arrays[0]]).dtype.kind not in "iu":
        raise ExportError("indexing an input-dependent tensor with several index arrays or a boolean mask "
                          "has no ONNX equivalent here; use index_select/gather with one integer index")
    axis = arrays[0]
    idx = np.asarray(index[axis]).astype(np.int64)
    g.add("Gather", [n.ins[0], g.const(idx, "index")], out=n.out, axis=axis)


@converter("Gather")
def _gather_elements(g, n):
    axis = int(n.attrs.get("axis", 0)) % len(n.shape)
    idx = n.ins[1]
    if n.in_dtypes[1] != np.int64:
        idx = g.add("Cast", [idx], to=onnx_dtype(g.onnx, np.int64))
    g.add("GatherElements", [n.ins[0], idx], out=n.out, axis=axis)


@converter("Embedding")
def _embedding(g, n):
    # The indices are an attribute (the two traces checked them equal): rows of the weight.
    idx = g.const(np.asarray(n.attrs["indices"]).astype(np.int64), "indices")
    g.add("Gather", [n.ins[0], idx], out=n.out, axis=0)


@converter("PadConstant")
def _pad(g, n):
    widths = [tuple(int(v) for v in w) for w in n.attrs["widths"]]
    g.same(widths, [tuple(int(v) for v in w) for w in n.attrs2["widths"]], "pad widths")
    pads = [w[0] for w in widths] + [w[1] for w in widths]
    value = g.const(np.array(n.attrs.get("value", 0.0), dtype=n.dtype), "pad_value")
    g.add("Pad", [n.ins[0], g.const(np.array(pads, np.int64), "pads"), value], out=n.out, mode="constant")


# ------------------------------------------------------------------------------------------ reductions
def _axes(n, key="axes"):
    axes = n.attrs.get(key)
    nd = len(n.in_shapes[0])
    if axes is None:
        return list(range(nd))
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    return sorted(int(a) % nd for a in axes)


def _no_axes(n):
    """numpy reduces over no axis for ``axis=()`` (ONNX would reduce over all of them)."""
    axes = n.attrs.get("axes")
    return isinstance(axes, (tuple, list)) and len(axes) == 0


@converter("Sum")
def _sum(g, n):
    x = n.ins[0]
    if n.in_dtypes[0] != n.dtype:
        x = g.add("Cast", [x], to=onnx_dtype(g.onnx, n.dtype))
    if _no_axes(n):
        g.add("Identity", [x], out=n.out)
        return
    g.reduce("ReduceSum", x, _axes(n), n.attrs.get("keepdim", False), out=n.out)


@converter("AMaxMin")
def _amax(g, n):
    if _no_axes(n):
        g.add("Identity", n.ins[:1], out=n.out)
        return
    op = "ReduceMax" if n.attrs.get("largest", True) else "ReduceMin"
    g.reduce(op, n.ins[0], _axes(n), n.attrs.get("keepdim", False), out=n.out)


@converter("MaxMin")
def _maxmin(g, n):
    op = "ReduceMax" if n.attrs.get("largest", True) else "ReduceMin"
    g.reduce(op, n.ins[0], _axes(n, "axis"), n.attrs.get("keepdim", False), out=n.out)


@converter("Norm2")
def _norm2(g, n):
    if _no_axes(n):
        g.add("Abs", n.ins[:1], out=n.out)
        return
    g.reduce("ReduceL2", n.ins[0], _axes(n), n.attrs.get("keepdim", False), out=n.out)


@converter("Softmax", "LogSoftmax")
def _softmax(g, n):
    g.add(n.op, n.ins, out=n.out, axis=int(n.attrs.get("axis", -1)))


@converter("Cumsum")
def _cumsum(g, n):
    g.add("CumSum", [n.ins[0], g.const(np.array(int(n.attrs.get("axis", 0)), np.int64))], out=n.out)


# --------------------------------------------------------------------------------------- linear algebra
@converter("MatMul")
def _matmul(g, n):
    g.add("MatMul", n.ins, out=n.out)


# ---------------------------------------------------------------------------------------- convolution
@converter("Conv2dOp")
def _conv(g, n):
    geom = n.attrs["geom"]
    top, bottom, left, right = (int(p) for p in geom.pad)
    ins = list(n.ins)
    if n.fold is not None:  # BatchNorm folded in: new weight and bias initializers
        w, b = n.fold
        ins = [ins[0], g.named_const(n.fold_names[0], w), g.named_const(n.fold_names[1], b)]
    g.add("Conv", ins, out=n.out, kernel_shape=list(geom.k), strides=list(geom.stride),
          pads=[top, left, bottom, right], dilations=list(geom.dilation), group=int(geom.groups))


@converter("ConvTranspose2dOp")
def _conv_transpose(g, n):
    geom = n.attrs["geom"]
    top, _, left, _ = (int(p) for p in geom.pad)
    (sh, sw), (dh, dw), (kh, kw) = geom.stride, geom.dilation, geom.k
    (hi, wi), (ho, wo) = n.in_shapes[0][-2:], n.shape[-2:]
    op_h = ho - ((hi - 1) * sh - 2 * top + dh * (kh - 1) + 1)
    op_w = wo - ((wi - 1) * sw - 2 * left + dw * (kw - 1) + 1)
    g.add("ConvTranspose", n.ins, out=n.out, kernel_shape=[kh, kw], strides=[sh, sw],
          pads=[top, left, top, left], dilations=[dh, dw], group=int(geom.groups),
          output_padding=[op_h, op_w])


@converter("BatchNormOp")
def _batchnorm(g, n):
    if n.attrs.get("training", True):
        raise ExportError("BatchNorm in training mode (batch statistics): call model.eval() before export")
    c = n.in_shapes[0][1]
    dt = n.dtype
    w = n.ins[1] if len(n.ins) > 1 else g.const(np.ones(c, dt), "bn_scale")
    b = n.ins[2] if len(n.ins) > 2 else g.const(np.zeros(c, dt), "bn_bias")
    mean = g.const(np.asarray(n.attrs["mean"], dt), "bn_mean")
    var = g.const(np.asarray(n.attrs["var"], dt), "bn_var")
    eps = float(n.attrs.get("eps", 1e-5))
    g.add("BatchNormalization", [n.ins[0], w, b, mean, var], out=n.out, epsilon=eps)


@converter("RowNormOp")
def _rownorm(g, n):
    # Rows (R, C) normalized over C, no affine: (x - mean) / sqrt(var + eps) as the numpy forward.
    x = n.ins[0]
    eps = float(n.attrs.get("eps", 1e-5))
    mean = g.reduce("ReduceMean", x, [1], True)
    d = g.add("Sub", [x, mean])
    var = g.reduce("ReduceMean", g.add("Mul", [d, d]), [1], True)
    inv = g.add("Reciprocal", [g.add("Sqrt", [g.add("Add", [var, _scalar(g, n, eps)])])])
    g.add("Mul", [d, inv], out=n.out)


# -------------------------------------------------------------------------------------------- pooling
def _pad_to(g, n, x, geom, fill):
    (ph, pw), (h, w), (Hp, Wp) = geom.pad, geom.in_hw, geom.padded
    if (Hp, Wp) == (h, w):
        return x
    nd = len(n.in_shapes[0])
    begin = [0] * (nd - 2) + [int(ph), int(pw)]
    end = [0] * (nd - 2) + [int(Hp - h - ph), int(Wp - w - pw)]
    value = g.const(np.array(fill, dtype=n.dtype), "pad_value")
    return g.add("Pad", [x, g.const(np.array(begin + end, np.int64), "pads"), value], mode="constant")


def _crop(g, n, x, geom):
    """Pooling over the padded extent can produce one window more than the ceil-mode rule allows."""
    (Hp, Wp), (kh, kw), (sh, sw) = geom.padded, geom.k, geom.stride
    dh, dw = geom.dilation if hasattr(geom, "dilation") else (1, 1)
    got = ((Hp - dh * (kh - 1) - 1) // sh + 1, (Wp - dw * (kw - 1) - 1) // sw + 1)
    want = tuple(geom.out_hw)
    if got == want:
        return x
    nd = len(n.in_shapes[0])
    return _slice(g, x, g.const(np.array([0, 0], np.int64)), g.const(np.array(want, np.int64)),
                  [nd - 2, nd - 1], [1, 1])


@converter("MaxPool2dOp")
def _maxpool(g, n):
    geom = n.attrs["geom"]
    x = _pad_to(g, n, n.ins[0], geom, -np.inf)
    y = g.add("MaxPool", [x], kernel_shape=list(geom.k), strides=list(geom.stride),
              dilations=list(geom.dilation))
    g.add("Identity", [_crop(g, n, y, geom)], out=n.out)


@converter("AvgPool2dOp")
def _avgpool(g, n):
    geom = n.attrs["geom"]
    x = _pad_to(g, n, n.ins[0], geom, 0.0)
    y = g.add("AveragePool", [x], kernel_shape=list(geom.k), strides=list(geom.stride))
    y = _crop(g, n, y, geom)
    # AveragePool divides by the full window; visionlite's divisor follows PyTorch's padding rules.
    ratio = float(np.prod(geom.k)) / np.asarray(n.attrs["divisor"], dtype=np.float64)
    if not np.all(ratio == 1.0):
        y = g.add("Mul", [y, g.const(ratio.astype(n.dtype), "pool_ratio")])
    g.add("Identity", [y], out=n.out)


def _adaptive_matrix(size, out):
    """(out, size) averaging matrix of PyTorch's adaptive windows [floor(i*n/o), ceil((i+1)*n/o))."""
    m = np.zeros((out, size), np.float64)
    for i in range(out):
        a, b = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m


@converter("AdaptiveAvgPool2dOp")
def _adaptive_avg(g, n):
    (h, w), (oh, ow) = n.in_shapes[0][-2:], n.attrs["out_hw"]
    left = g.const(_adaptive_matrix(h, oh).astype(n.dtype), "pool_rows")
    right = g.const(_adaptive_matrix(w, ow).T.astype(n.dtype), "pool_cols")
    g.add("MatMul", [g.add("MatMul", [left, n.ins[0]]), right], out=n.out)


# ------------------------------------------------------------------------------------------ resampling
@converter("Resample1dOp")
def _resample(g, n):
    # sum_k w_k * x[..., idx_k, ...] along the axis: Gathers of the taps, as the numpy forward.
    nd = len(n.shape)
    axis = int(n.attrs.get("axis", -1)) % nd
    acc = None
    for idx, w in n.attrs["taps"]:
        t = g.add("Gather", [n.ins[0], g.const(np.asarray(idx, np.int64), "taps")], axis=axis)
        if w is not None:
            shape = [1] * nd
            shape[axis] = -1
            t = g.add("Mul", [t, g.const(np.asarray(w, n.dtype).reshape(shape), "tap_weights")])
        acc = t if acc is None else g.add("Add", [acc, t])
    g.add("Identity", [acc], out=n.out)


from . import _ops_video  # noqa: E402,F401  (registers the 3-D/video converters)
