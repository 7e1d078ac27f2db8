"""``repr`` of tensors in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""

import numpy as np

from . import dtypes as _dt

_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": float("inf"), "edgeitems": 3, "linewidth": 80},
}
_OPTS = dict(_DEFAULTS)


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Options for printing tensors, as ``torch.set_printoptions``: digits after the point (``precision``),
    the element count above which tensors are summarised (``threshold``) to ``edgeitems`` per edge,
    ``linewidth``, and ``sci_mode`` (True/False forces scientific notation on or off; None chooses).
    ``profile`` ('default', 'short', 'full') sets the first four before the others apply."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {list(_PROFILES)}, got {profile!r}")
        _OPTS.update(_PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems, "linewidth": linewidth}
    _OPTS.update({name: value for name, value in given.items() if value is not None})
    _OPTS["sci_mode"] = sci_mode  # reset when not given, as PyTorch does


def _shown(a):
    """The elements that will be printed: all, or the edge items of each dim of a summarised tensor."""
    if a.size <= _OPTS["threshold"]:
        return a
    k = _OPTS["edgeitems"]
    for axis, n in enumerate(a.shape):
        if n > 2 * k:
            a = np.concatenate([a.take(range(k), axis), a.take(range(n - k, n), axis)], axis)
    return a


def _float_format(shown):
    """PyTorch's choice: integers as ``1.``, else 4 decimals, or scientific for wide ranges."""
    nonzero = np.abs(shown[np.isfinite(shown) & (shown != 0)])
    if not nonzero.size:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    big, small = nonzero.max(), nonzero.min()
    p, sci = _OPTS["precision"], _OPTS["sci_mode"]
    if sci is None:
        sci = big / small > 1000.0 or big > 1e8 or small < 1e-4
    if sci:
        return lambda v: f"{v:.{p}e}"
    if np.all(nonzero == np.round(nonzero)):
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    return lambda v: f"{v:.{p}f}"


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


def _layout(a, fmt, summarize, indent):
    """PyTorch's layout of the (host) array ``a``: nested brackets, blank lines between blocks of 3+ dims,
    each row wrapped after as many elements as fit in ``linewidth``, ``...`` for summarised parts."""
    k = _OPTS["edgeitems"]
    if a.ndim == 0:
        return fmt(a.item())
    if a.ndim == 1:
        if summarize and not k:
            items = ["..."]
        elif summarize and a.shape[0] > 2 * k:
            items = [fmt(v) for v in a[:k].tolist()] + [" ..."] + [fmt(v) for v in a[-k:].tolist()]
        else:
            items = [fmt(v) for v in a.tolist()]
        width = len(fmt(a.flat[0]))  # every element is padded to the same width
        per_line = max(1, (_OPTS["linewidth"] - indent) // (width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    rows = range(n)
    if summarize and n > 2 * k:
        rows = list(range(k)) + [None] + list(range(n - k, n))
    parts = ["..." if i is None else _layout(a[i], fmt, summarize, indent + 1) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text, suffixes, indent):
    # PyTorch starts a new line for a suffix that would make the last line longer than linewidth.
    last = len(text) - text.rfind("\n") + 1
    out = [text]
    for suffix in suffixes:
        if last + len(suffix) + 2 > _OPTS["linewidth"]:
            out.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t):
    a = t.__array__()
    prefix = "tensor("
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        show_dtype = a.dtype != _dt.get_default_dtype().np  # nothing else tells an empty int64 tensor
    else:
        # float16/bfloat16 are printed through float64; tolist() already gives Python floats for the others.
        data = a.astype(np.float64) if _dt.is_float(a.dtype) and a.dtype.itemsize < 4 else a
        summarize = a.size > _OPTS["threshold"]
        if not _OPTS["edgeitems"]:  # PyTorch names the size whenever edgeitems is 0
            suffixes.append(f"size={tuple(a.shape)}")
        body = _layout(data, _formatter(a), summarize, len(prefix))
        show_dtype = a.dtype not in (np.dtype(np.int64), np.dtype(np.bool_), _dt.get_default_dtype().np)
    if show_dtype:
        suffixes.append(f"dtype=visionlite.{t.dtype.name}")
    if t._ctx is not None:
        suffixes.append(f"grad_fn=<{t._ctx.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, len(prefix))
