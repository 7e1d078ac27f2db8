"""Numeric limits and type promotion queries on dtypes, as ``torch.finfo``, ``torch.iinfo``,
``torch.result_type``, ``torch.promote_types`` and ``torch.can_cast``.

Promotion follows ``core/dtypes.py``, the rules the ops themselves use.
"""

import numpy as np

from . import dtypes as _dt


def _np_finfo(d):
    if d.np.kind == "f":
        return np.finfo(d.np)
    import ml_dtypes  # bfloat16, which numpy's finfo does not know; the dtype exists only with ml_dtypes

    return ml_dtypes.finfo(d.np)


class finfo:
    """Limits of a floating dtype (default: the default float dtype): ``bits``, ``eps`` (1 ulp at 1.0),
    ``max``, ``min`` (lowest finite), ``tiny`` = ``smallest_normal``, ``resolution`` (10**-digits) and
    ``dtype`` (its name)."""

    def __init__(self, type=None):
        d = _dt.get_default_dtype() if type is None else _dt.get_dtype(type)
        if not d.is_floating_point:
            raise TypeError(
                f"visionlite.finfo() requires a floating point input type, got {d}; "
                "use visionlite.iinfo for integer types"
            )
        info = _np_finfo(d)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
            f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})"
        )


class iinfo:
    """Limits of an integer dtype: ``bits``, ``max``, ``min``, ``dtype``."""

    def __init__(self, type):
        d = _dt.get_dtype(type)
        if d is _dt.bool_:
            raise TypeError("visionlite.bool is not supported by visionlite.iinfo")
        if d.is_floating_point:
            raise TypeError(
                f"visionlite.iinfo() requires an integer input type, got {d}; use visionlite.finfo for it"
            )
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def result_type(tensor1, tensor2):
    """The dtype an elementwise op on ``tensor1`` and ``tensor2`` (Tensors or Python numbers) produces."""
    for x in (tensor1, tensor2):
        if not hasattr(x, "_data") and not isinstance(x, (bool, int, float, np.generic)):
            raise TypeError(f"result_type: expected a Tensor or a number, got {type(x).__name__}")
    return _dt.from_numpy_dtype(np.dtype(_dt.result_type(tensor1, tensor2)))


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without losing their category
    (bool < integer < floating), as PyTorch promotes tensors of equal rank."""
    a, b = _dt.get_dtype(type1), _dt.get_dtype(type2)
    return _dt.from_numpy_dtype(np.dtype(_dt._promote_group([a.np, b.np])))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` -> ``to``: any cast that does not lower the
    category (floating to integer, or anything but bool to bool, is refused)."""
    a, b = _dt.get_dtype(from_), _dt.get_dtype(to)
    return a.category <= b.category
