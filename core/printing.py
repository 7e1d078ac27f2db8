"""``repr`` of tensors in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""

import numpy as np

from . import dtypes as _dt


def _format_floats(a):
    """PyTorch's choice: integers as ``1.``, else 4 decimals, or scientific for wide ranges."""
    nonzero = np.abs(a[np.isfinite(a) & (a != 0)])
    if not nonzero.size:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v).replace("inf", "inf")
    big, small = nonzero.max(), nonzero.min()
    if np.all(nonzero == np.round(nonzero)):
        if big > 1e8:
            return lambda v: f"{v:.4e}"
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if big / small > 1000.0 or big > 1e8 or small < 1e-4:
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}"


def tensor_repr(t):
    a = t.__array__()
    kind = a.dtype.kind
    opts = dict(separator=", ", prefix="tensor(", threshold=1000, edgeitems=3, max_line_width=80)
    if kind == "f" or a.dtype == getattr(_dt.bfloat16, "np", None):
        a64 = a.astype(np.float64)
        fmt = _format_floats(a64)
        # PyTorch right-aligns every element to the widest one.
        width = max((len(fmt(v)) for v in a64.flat), default=0)
        body = np.array2string(a64, formatter={"float_kind": lambda v: fmt(v).rjust(width)}, **opts)
    elif kind == "b":
        body = np.array2string(a, formatter={"bool": lambda v: "True" if v else "False"}, **opts)
    else:
        body = np.array2string(a, **opts)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default = {np.dtype(np.int64), np.dtype(np.bool_), _dt.get_default_dtype().np}
    if a.dtype not in default or a.size == 0:
        extras.append(f"dtype=visionlite.{t.dtype.name}")
    if t._ctx is not None:
        extras.append(f"grad_fn=<{t._ctx.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    if a.size == 0 and a.ndim > 1:
        body = "[]"
        extras.insert(0, f"size={tuple(a.shape)}")
    return "tensor(" + body + ("" if not extras else ", " + ", ".join(extras)) + ")"
