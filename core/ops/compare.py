"""Comparisons, logic and closeness tests: elementwise ops without gradients."""

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from ._util import binary_operands, broadcast_error


def _compare(np_name, name, doc):
    def fn(a, b):
        a, b = binary_operands(a, b, name)
        try:
            return Tensor._wrap(getattr(array_module(a._data), np_name)(a._data, b._data))
        except ValueError:
            raise broadcast_error(a, b, name) from None

    fn.__name__ = name
    fn.__doc__ = doc
    return fn


eq = _compare("equal", "eq", "Bool tensor of ``a == b`` (broadcast; ``b`` may be a number).")
ne = _compare("not_equal", "ne", "Bool tensor of ``a != b`` (broadcast; ``b`` may be a number).")
lt = _compare("less", "lt", "Bool tensor of ``a < b`` (broadcast; ``b`` may be a number).")
le = _compare("less_equal", "le", "Bool tensor of ``a <= b`` (broadcast; ``b`` may be a number).")
gt = _compare("greater", "gt", "Bool tensor of ``a > b`` (broadcast; ``b`` may be a number).")
ge = _compare("greater_equal", "ge", "Bool tensor of ``a >= b`` (broadcast; ``b`` may be a number).")
logical_and = _compare("logical_and", "logical_and", "Bool tensor: ``a`` and ``b`` both nonzero (broadcast).")
logical_or = _compare("logical_or", "logical_or", "Bool tensor: ``a`` or ``b`` nonzero (broadcast).")
logical_xor = _compare(
    "logical_xor", "logical_xor", "Bool tensor: exactly one of ``a``, ``b`` nonzero (broadcast)."
)
bitwise_and = _compare("bitwise_and", "bitwise_and", "Bitwise AND of integer/bool tensors (broadcast).")
bitwise_or = _compare("bitwise_or", "bitwise_or", "Bitwise OR of integer/bool tensors (broadcast).")
bitwise_xor = _compare("bitwise_xor", "bitwise_xor", "Bitwise XOR of integer/bool tensors (broadcast).")


def logical_not(a):
    """Bool tensor: True where ``a`` is zero."""
    return Tensor._wrap(array_module(a._data).logical_not(a._data))


def bitwise_not(a):
    """Bitwise NOT of an integer tensor (logical NOT for a bool one)."""
    xp = array_module(a._data)
    return Tensor._wrap(xp.logical_not(a._data) if a._data.dtype == np.bool_ else xp.invert(a._data))


def isnan(a):
    """Bool tensor: True where ``a`` is NaN."""
    return Tensor._wrap(array_module(a._data).isnan(a._data))


def isinf(a):
    """Bool tensor: True where ``a`` is +inf or -inf."""
    return Tensor._wrap(array_module(a._data).isinf(a._data))


def isfinite(a):
    """Bool tensor: True where ``a`` is neither NaN nor infinite."""
    return Tensor._wrap(array_module(a._data).isfinite(a._data))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """A Python bool: ``abs(a - b) <= atol + rtol * abs(b)`` everywhere (NaNs equal if ``equal_nan``)."""
    a, b = binary_operands(a, b, "allclose")
    return bool(array_module(a._data).allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Bool tensor of ``abs(a - b) <= atol + rtol * abs(b)`` (NaNs equal if ``equal_nan``)."""
    a, b = binary_operands(a, b, "isclose")
    return Tensor._wrap(
        array_module(a._data).isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan)
    )


def equal(a, b):
    """True when both tensors have the same shape and elements."""
    return a.shape == b.shape and bool((a._data == b._data).all())
