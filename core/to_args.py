"""One parser for the arguments of ``Tensor.to`` and ``Module.to``, in all of PyTorch's call forms:

    to(device=None, dtype=None, non_blocking=False, copy=False, *, memory_format=None)
    to(dtype, non_blocking=False, copy=False, *, memory_format=None)
    to(tensor, non_blocking=False, copy=False, *, memory_format=None)

A dtype may also be given by name (``to("float16")``), a visionlite extension; any other string is a device.
"""

from typing import Any, NamedTuple

import numpy as np

from . import dtypes as _dt
from .backend import Device

_FORMS = (
    "to(device=None, dtype=None, non_blocking=False, copy=False, *, memory_format=None), "
    "to(dtype, non_blocking=False, copy=False, *, memory_format=None) or "
    "to(tensor, non_blocking=False, copy=False, *, memory_format=None)"
)
_KEYWORDS = ("device", "dtype", "non_blocking", "copy", "memory_format")


class ToArgs(NamedTuple):
    """The parsed arguments: ``device`` a Device or None, ``dtype`` a visionlite dtype or None."""

    device: Any
    dtype: Any
    non_blocking: bool
    copy: bool
    memory_format: Any


def is_dtype_like(a):
    """True for what ``to`` reads as a dtype: a visionlite or numpy dtype, a Python type, a dtype name."""
    if isinstance(a, (_dt.dtype, type, np.dtype)):
        return True
    if isinstance(a, str):
        name = _dt._ALIASES.get(a, a)
        return name in _dt._BY_NAME or name == "bfloat16"  # get_dtype explains a missing ml_dtypes
    return False


def _bad(args, kwargs, why):
    got = ", ".join([type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()])
    return TypeError(f"to() received an invalid combination of arguments ({why}) - got ({got}), "
                     f"but expected one of: {_FORMS}")


def parse_to(*args, allow_copy=True, **kwargs):
    """Parse ``to(...)``'s arguments into a ``ToArgs``; raises TypeError for a form PyTorch rejects.

    ``allow_copy=False`` (``Module.to``) rejects ``copy=`` as ``torch.nn.Module.to`` does."""
    if not kwargs and len(args) == 1:  # the common calls, kept cheap: to(dtype), to(device)
        a = args[0]
        if isinstance(a, _dt.dtype):
            return ToArgs(None, a, False, False, None)
        if isinstance(a, Device):
            return ToArgs(a, None, False, False, None)
        if isinstance(a, str) and not is_dtype_like(a):
            return ToArgs(Device(a), None, False, False, None)
    from .tensor import Tensor

    unknown = [k for k in kwargs if k not in _KEYWORDS]
    if unknown:
        raise _bad(args, kwargs, f"unexpected keyword {', '.join(unknown)}")
    if args and isinstance(args[0], Tensor):
        names = ("tensor", "non_blocking", "copy")
    elif args and is_dtype_like(args[0]):
        names = ("dtype", "non_blocking", "copy")
    else:
        names = ("device", "dtype", "non_blocking", "copy")
    if len(args) > len(names):
        raise _bad(args, kwargs, f"too many positional arguments for to({', '.join(names)})")
    given = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in given or (k in ("device", "dtype") and names[0] != "device"):
            raise _bad(args, kwargs, f"{k} given twice or not allowed in this form")
        given[k] = v
    for flag in ("non_blocking", "copy"):
        if not isinstance(given.get(flag, False), (bool, np.bool_)):
            raise _bad(args, kwargs, f"{flag} must be a bool")
    if "copy" in given and not allow_copy:
        raise RuntimeError(".to() does not accept copy argument")
    device, dtype = given.get("device"), given.get("dtype")
    if "tensor" in given:
        device, dtype = given["tensor"].device, given["tensor"].dtype
    if dtype is not None:
        if not is_dtype_like(dtype):
            raise _bad(args, kwargs, f"dtype must be a dtype, got {dtype!r}")
        dtype = _dt.get_dtype(dtype)
    if device is not None:
        if isinstance(device, str) and is_dtype_like(device) and names[0] == "device" and len(args) > 1:
            raise _bad(args, kwargs, f"device must be a device, got the dtype name {device!r}")
        # Device raises a clear ValueError for an unknown device ('mps', 'tpu', ...)
        device = device if isinstance(device, Device) else Device(device)
    return ToArgs(device, dtype, bool(given.get("non_blocking", False)), bool(given.get("copy", False)),
                  given.get("memory_format"))
