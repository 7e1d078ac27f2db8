"""Helpers shared by the op modules: operand preparation and dimension normalisation."""

import numpy as np

from .. import dtypes
from ..backend import array_module, device_of
from ..tensor import Tensor


class IntegerDivisionByZero(RuntimeError, ZeroDivisionError):
    """Integer ``//``, ``%``, ``div(rounding_mode=...)``, ``fmod`` or ``remainder`` by zero.

    PyTorch raises ``RuntimeError('ZeroDivisionError')`` here; this is both, so either ``except`` works.
    """


class IndexOutOfBounds(IndexError, RuntimeError):
    """An index outside its dimension where PyTorch's kernels raise IndexError on some paths and
    RuntimeError on others (``index_add``): this is both, so either ``except`` works."""


def refuse_integer_zero_division(divisor, op):
    """Raise for an integer (or bool) ``divisor`` array holding a zero; float division gives inf/nan."""
    if divisor.dtype.kind in "biu" and divisor.size and not bool(divisor.all()):
        raise IntegerDivisionByZero(
            f"ZeroDivisionError: {op}: integer division by zero; use a nonzero divisor or float tensors"
        )


def normalize_dim(dim, ndim, op="op"):
    """A possibly negative ``dim`` as an index in ``range(ndim)``; raises IndexError naming the op."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def normalize_dims(dim, ndim, op="op"):
    """``dim`` (None, int, or a sequence) as a sorted tuple of non-negative axes.

    None and an empty sequence mean all dims (as PyTorch reads ``dim=()``); a 0-d tensor accepts dim 0
    or -1 and has no axes to reduce.
    """
    if dim is None or (not isinstance(dim, (int, np.integer)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    if ndim == 0:
        for d in dim:
            normalize_dim(int(d), 0, op)
        return ()
    axes = tuple(sorted(normalize_dim(int(d), ndim, op) for d in dim))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    return axes


def as_tensor_like(x, ref):
    """A Python scalar or array as a Tensor on the device of ``ref`` (a Tensor)."""
    if isinstance(x, Tensor):
        return x
    xp = array_module(ref._data)
    if isinstance(x, (bool, int, float, np.generic)):
        return Tensor._wrap(xp.asarray(x, dtype=dtypes.result_type(ref, x) if not ref._data.ndim else None))
    return Tensor._wrap(xp.asarray(x))


def binary_operands(a, b, op):
    """Tensors for ``a`` and ``b`` cast to their PyTorch result dtype, on one device."""
    if isinstance(b, Tensor):
        if isinstance(a, Tensor):
            da, db = a._data, b._data
            if type(da) is not type(db) or (type(da) is not np.ndarray and da.device != db.device):
                raise RuntimeError(
                    f"{op}: expected all tensors to be on the same device, but found at least "
                    f"two devices, {device_of(da)} and {device_of(db)}"
                )
            if da.dtype == db.dtype:
                return a, b
            rt = dtypes.result_type(a, b)
            return (a if da.dtype == rt else a.to(rt)), (b if db.dtype == rt else b.to(rt))
        a, b = b, a
        swapped = True
    else:
        swapped = False
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: unsupported operand types {type(a).__name__} and {type(b).__name__}")
    # a is the Tensor, b a scalar or array-like
    if not isinstance(b, (bool, int, float, np.generic)):
        if isinstance(b, (list, tuple, np.ndarray)) or hasattr(b, "__array__"):
            b = Tensor._wrap(array_module(a._data).asarray(b))
            b = b.to(dtypes.result_type(a, b)) if b._data.dtype != dtypes.result_type(a, b) else b
            a2 = a.to(b._data.dtype) if a._data.dtype != b._data.dtype else a
            return (b, a2) if swapped else (a2, b)
        raise TypeError(f"{op}: unsupported operand type {type(b).__name__}")
    kind = a._data.dtype.kind
    if (kind == "f" and type(b) in (float, int)) or (kind in "iu" and type(b) is int):
        rt = a._data.dtype  # the common case: a Python number never widens a tensor of its category
    else:
        rt = dtypes.result_type(a, b)
    if a._data.dtype != rt:
        a = a.to(rt)
    xp = array_module(a._data)
    try:
        bt = Tensor._wrap(xp.asarray(b, dtype=rt))
    except OverflowError:  # e.g. uint8 tensor + 300: wraps around, as in PyTorch
        bt = Tensor._wrap(xp.asarray(np.array(b, dtype=np.int64).astype(rt)))
    return (bt, a) if swapped else (a, bt)


def broadcast_error(a, b, op):
    """PyTorch's message for shapes that do not broadcast, naming the op and the first bad dim."""
    sa, sb = tuple(a._data.shape), tuple(b._data.shape)
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    for d in range(n - 1, -1, -1):
        if pa[d] != pb[d] and pa[d] != 1 and pb[d] != 1:
            return RuntimeError(
                f"{op}: the size of tensor a ({pa[d]}) must match the size of tensor b ({pb[d]}) "
                f"at non-singleton dimension {d} (shapes {list(sa)} and {list(sb)})"
            )
    return RuntimeError(f"{op}: shapes {list(sa)} and {list(sb)} cannot be broadcast together")
