"""``visionlite.testing``, as ``torch.testing``: ``assert_close`` with PyTorch's per-dtype default
tolerances, its checks (shape, dtype, device) and its failure messages, over tensors, numpy arrays,
Python numbers and (nested) sequences and mappings of them."""
import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["assert_close", "assert_allclose", "make_tensor"]

# (rtol, atol) by dtype name; integers and bool compare exactly
_DEFAULT_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
                       "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


class _Failure(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message = kind, message


def _tensor_type():
    from .tensor import Tensor
    return Tensor


def _dtype_name(x):
    return x.dtype.name if isinstance(x, np.ndarray) else str(x.dtype).split(".")[-1]


def _tolerances(names, rtol, atol):
    if rtol is not None:
        return rtol, atol
    pairs = [_DEFAULT_TOLERANCES.get(n, (0.0, 0.0)) for n in names]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _as_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x.detach().cpu().numpy())


def _is_number(x):
    return isinstance(x, (bool, int, float, complex, np.number, np.bool_))


def _close_mask(a, b, rtol, atol, equal_nan):
    if a.dtype.kind in "biu" and b.dtype.kind in "biu" and rtol == 0 and atol == 0:
        return a == b
    a, b = a.astype(np.result_type(a, b, np.float32)), b.astype(np.result_type(a, b, np.float32))
    with np.errstate(invalid="ignore", over="ignore"):
        ok = (a == b) | (np.abs(a - b) <= atol + rtol * np.abs(b))
    if equal_nan:
        ok |= np.isnan(a) & np.isnan(b)
    return ok


def _allowed(value, exact):
    return "" if exact else f" (up to {value} allowed)"


def _scalar_failure(a, e, rtol, atol, equal_nan):
    exact = rtol == 0 and atol == 0 and not isinstance(a, float) and not isinstance(e, float)
    if _close_mask(np.asarray(a), np.asarray(e), rtol, atol, equal_nan).all():
        return
    diff = abs(a - e)
    rel = diff / abs(e) if e != 0 else (math.inf if diff else 0.0)
    raise _Failure("value", f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {e} but got {a}.\n"
                            f"Absolute difference: {diff}{_allowed(atol, exact)}\n"
                            f"Relative difference: {rel}{_allowed(rtol, exact)}")


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype):
    if tuple(actual.shape) != tuple(expected.shape):
        raise _Failure("shape", f"The values for attribute 'shape' do not match: {actual.shape!r} != "
                                f"{expected.shape!r}.")
    if check_device and not isinstance(actual, np.ndarray) and not isinstance(expected, np.ndarray) \
            and str(actual.device) != str(expected.device):
        raise _Failure("device", f"The values for attribute 'device' do not match: {actual.device} != "
                                 f"{expected.device}.")
    if check_dtype and _dtype_name(actual) != _dtype_name(expected):
        raise _Failure("dtype", f"The values for attribute 'dtype' do not match: {actual.dtype!r} != "
                                f"{expected.dtype!r}.")
    rtol, atol = _tolerances({_dtype_name(actual), _dtype_name(expected)}, rtol, atol)
    a, e = _as_numpy(actual), _as_numpy(expected)
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if e.dtype == np.bool_:
        e = e.astype(np.int64)
    if a.ndim == 0:
        return _scalar_failure(a.item(), e.item(), rtol, atol, equal_nan)
    ok = _close_mask(a, e, rtol, atol, equal_nan)
    if ok.all():
        return
    common = np.result_type(a, e)
    a, e = a.astype(common), e.astype(common)
    exact = common.kind in "biu" and rtol == 0 and atol == 0
    if common.kind in "iu":
        a, e = a.astype(np.int64), e.astype(np.int64)
    diff = np.abs(a - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(e)
    total, bad = ok.size, int((~ok).sum())
    i_abs = np.unravel_index(_argmax_nan_first(diff), diff.shape)
    i_rel = np.unravel_index(_argmax_nan_first(rel), rel.shape)
    lines = [f"Tensor-likes are not {'equal' if exact else 'close'}!", "",
             f"Mismatched elements: {bad} / {total} ({100 * bad / total:.1f}%)",
             f"Greatest absolute difference: {diff[i_abs].item()} at index {tuple(int(i) for i in i_abs)}"
             f"{_allowed(atol, exact)}",
             f"Greatest relative difference: {float(rel[i_rel])} at index {tuple(int(i) for i in i_rel)}"
             f"{_allowed(rtol, exact)}"]
    raise _Failure("value", "\n".join(lines))


def _argmax_nan_first(x):
    """Index of the largest value, a NaN counting as the largest (as ``torch.max`` propagates it)."""
    if x.dtype.kind == "f":
        x = np.where(np.isnan(x), np.inf, x)
    return int(np.argmax(x))


def _compare(actual, expected, path, opts):
    Tensor = _tensor_type()
    tensor_like = (Tensor, np.ndarray)
    if isinstance(actual, tensor_like) and isinstance(expected, tensor_like):
        try:
            _compare_tensors(actual, expected, **opts)
        except _Failure as f:
            raise _Failure(f.kind, f.message + _where(path)) from None
        return
    if _is_number(actual) and _is_number(expected):
        rtol, atol = opts["rtol"], opts["atol"]
        if rtol is None:
            names = {"float64" if isinstance(x, float) else "complex128" if isinstance(x, complex) else "int"
                     for x in (actual, expected)}
            rtol, atol = _tolerances(names, None, None)
        try:
            _scalar_failure(actual, expected, rtol, atol, opts["equal_nan"])
        except _Failure as f:
            raise _Failure(f.kind, f.message + _where(path)) from None
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            missing = sorted(map(repr, set(expected) - set(actual)))
            extra = sorted(map(repr, set(actual) - set(expected)))
            raise _Failure("keys", "The keys of the mappings do not match:\n"
                                   f"Missing keys in the actual mapping: {', '.join(missing)}\n"
                                   f"Extra keys in the actual mapping: {', '.join(extra)}" + _where(path))
        for k in expected:
            _compare(actual[k], expected[k], path + [repr(k)], opts)
        return
    if isinstance(actual, Sequence) and isinstance(expected, Sequence) and not isinstance(actual, str) \
            and not isinstance(expected, str):
        if len(actual) != len(expected):
            raise _Failure("length", f"The length of the sequences mismatch: {len(actual)} != {len(expected)}"
                           + _where(path))
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + [str(i)], opts)
        return
    if actual is None and expected is None:
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _where(path):
    return f"\n\nThe failure occurred for item {''.join(f'[{p}]' for p in path)}" if path else ""


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` are close: ``|a - e| <= atol + rtol * |e|``
    elementwise, same shape, and (by default) same dtype and device. Default tolerances by dtype are
    PyTorch's (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7; integers exact). ``msg`` (a string, or
    a function of the generated message) replaces the message."""
    if (rtol is None) ^ (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'atol' if atol is None else 'rtol'}.")
    opts = {"rtol": rtol, "atol": atol, "equal_nan": equal_nan, "check_device": check_device,
            "check_dtype": check_dtype}
    try:
        _compare(actual, expected, [], opts)
    except _Failure as f:
        message = f.message
        if msg is not None:
            message = msg(message) if callable(msg) else msg
        raise AssertionError(message) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated in PyTorch; ``assert_close`` without the dtype check."""
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False,
                 msg=msg or None)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A random tensor of ``shape`` in ``[low, high)`` (PyTorch's defaults: [-9, 9] for floats, [-9, 10)
    for integers, {0, 1} for bool), from visionlite's seeded generator."""
    from . import creation
    from .dtypes import get_dtype

    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    dt = get_dtype(dtype)
    kind = np.dtype(dt.np).kind
    if kind == "b":
        out = creation.randint(0, 2, shape, device=device).to(dtype)
    elif kind in "iu":
        lo = -9 if low is None else int(math.ceil(low))
        hi = 10 if high is None else int(math.ceil(high))
        out = creation.randint(max(lo, np.iinfo(dt.np).min), hi, shape, device=device).to(dtype)
    else:
        lo, hi = (-9.0 if low is None else low), (9.0 if high is None else high)
        out = (creation.rand(*shape, device=device) * (hi - lo) + lo).to(dtype)
    if exclude_zero:
        out = out.masked_fill(out == 0, 1 if kind in "biu" else float(np.finfo(dt.np).tiny))
    if requires_grad:
        out.requires_grad_(True)
    return out
