"""The logistic function on raw arrays, stable for any input and without ``where``.

``1 / (1 + exp(-x))`` overflows ``exp`` for large negative ``x``; the stable form splits by sign:
``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` below, with ``e = exp(-|x|) <= 1``. Choosing between the
two with ``where`` on a data-dependent mask makes numpy's loop mispredict its branches: 4.5 ms for 1.2M
float32 values, most of a sigmoid's time. Here the choice is arithmetic, ``m * pos + (1 - m) * neg``
with ``m`` 1.0 or 0.0: one of the two products is exactly zero, so the result is bit-for-bit the
branch's value (NaN stays NaN).
"""

from ..backend import array_module
from . import activation_kernels


def sigmoid_array(a):
    """``1 / (1 + exp(-a))`` elementwise, in ``a``'s dtype."""
    if activation_kernels.usable(a):  # numpy: four in-place passes (its exp overflows to the right limit)
        return activation_kernels.sigmoid(a)
    xp = array_module(a)
    e = xp.exp(-xp.abs(a))
    d = 1 + e
    pos = 1 / d
    neg = e / d
    m = (a >= 0).astype(pos.dtype)
    pos *= m
    m -= 1  # -(1 - m)
    neg *= m
    pos -= neg
    return pos.astype(a.dtype, copy=False)
