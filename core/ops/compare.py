"""Comparisons, logic and closeness tests: elementwise ops without gradients."""

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from ._util import binary_operands, broadcast_error


def _compare(np_name, name):
    def fn(a, b):
        a, b = binary_operands(a, b, name)
        try:
            return Tensor._wrap(getattr(array_module(a._data), np_name)(a._data, b._data))
        except ValueError:
            raise broadcast_error(a, b, name) from None

    fn.__name__ = name
    return fn


eq = _compare("equal", "eq")
ne = _compare("not_equal", "ne")
lt = _compare("less", "lt")
le = _compare("less_equal", "le")
gt = _compare("greater", "gt")
ge = _compare("greater_equal", "ge")
logical_and = _compare("logical_and", "logical_and")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")
bitwise_and = _compare("bitwise_and", "bitwise_and")
bitwise_or = _compare("bitwise_or", "bitwise_or")
bitwise_xor = _compare("bitwise_xor", "bitwise_xor")


def logical_not(a):
    return Tensor._wrap(array_module(a._data).logical_not(a._data))


def bitwise_not(a):
    xp = array_module(a._data)
    return Tensor._wrap(xp.logical_not(a._data) if a._data.dtype == np.bool_ else xp.invert(a._data))


def isnan(a):
    return Tensor._wrap(array_module(a._data).isnan(a._data))


def isinf(a):
    return Tensor._wrap(array_module(a._data).isinf(a._data))


def isfinite(a):
    return Tensor._wrap(array_module(a._data).isfinite(a._data))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    a, b = binary_operands(a, b, "allclose")
    return bool(array_module(a._data).allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    a, b = binary_operands(a, b, "isclose")
    return Tensor._wrap(
        array_module(a._data).isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan)
    )


def equal(a, b):
    """True when both tensors have the same shape and elements."""
    return a.shape == b.shape and bool((a._data == b._data).all())
