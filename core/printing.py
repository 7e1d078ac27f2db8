"""``repr`` of tensors in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""

import numpy as np

from . import dtypes as _dt

_THRESHOLD, _EDGEITEMS = 1000, 3


def _shown(a):
    """The elements that will be printed: all, or the edge items of each dim of a summarised tensor."""
    if a.size <= _THRESHOLD:
        return a
    for axis, n in enumerate(a.shape):
        if n > 2 * _EDGEITEMS:
            a = np.concatenate(
                [a.take(range(_EDGEITEMS), axis), a.take(range(n - _EDGEITEMS, n), axis)], axis
            )
    return a


def _float_format(shown):
    """PyTorch's choice: integers as ``1.``, else 4 decimals, or scientific for wide ranges."""
    nonzero = np.abs(shown[np.isfinite(shown) & (shown != 0)])
    if not nonzero.size:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    big, small = nonzero.max(), nonzero.min()
    if np.all(nonzero == np.round(nonzero)):
        if big / small > 1000.0 or big > 1e8:
            return lambda v: f"{v:.4e}"
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if big / small > 1000.0 or big > 1e8 or small < 1e-4:
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}"


def _formatter(a):
    """An element formatter right-aligning every element to the widest shown one, as PyTorch does."""
    shown = _shown(a)
    if _dt.is_float(a.dtype):
        fmt = _float_format(shown.astype(np.float64))
    elif a.dtype == np.bool_:
        fmt = lambda v: "True" if v else "False"  # noqa: E731
    else:
        fmt = str
    width = max((len(fmt(v)) for v in shown.flat), default=0)
    return lambda v: fmt(v).rjust(width)


def tensor_repr(t):
    a = t.__array__()
    default = {np.dtype(np.int64), np.dtype(np.bool_), _dt.get_default_dtype().np}
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            extras.insert(0, f"size={tuple(a.shape)}")
    else:
        data = a.astype(np.float64) if _dt.is_float(a.dtype) else a
        body = np.array2string(
            data,
            separator=", ",
            prefix="tensor(",
            threshold=_THRESHOLD,
            edgeitems=_EDGEITEMS,
            max_line_width=80,
            formatter={"all": _formatter(a)},
        )
        body = body.replace(", ...,", ",  ...,")  # PyTorch pads the in-row ellipsis like an element
    if a.dtype not in default:
        extras.append(f"dtype=visionlite.{t.dtype.name}")
    if t._ctx is not None:
        extras.append(f"grad_fn=<{t._ctx.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + ("" if not extras else ", " + ", ".join(extras)) + ")"
