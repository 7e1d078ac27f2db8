"""Sigmoid, SiLU, exact GELU, hardswish and hardsigmoid on CPU arrays in as few numpy passes as their
formulas allow.

numpy evaluates an expression one operator at a time, each pass over the whole array writing a new one:
``a * sigmoid(a)`` with the sign-split logistic took ~12 passes and GELU with its erf ~23, measured 9x
and 15x slower than PyTorch's fused kernels on a 1x384x56x56 activation (2.5 and 5.1 ms against 0.27
and 0.33). Here each is a short chain of in-place passes over one scratch array, on each thread's share
of the flat array (the op pool splits arrays from ``_SPLIT_ELEMS`` values):

* ``sigmoid(x) = 1 / (1 + exp(-x))`` and ``silu(x) = x / (1 + exp(-x))``: four passes. ``exp(-x)``
  overflows to inf for ``x < -88`` (float32), which gives the right limits (0, and -0.0 for SiLU); the
  overflow warning is silenced.
* ``gelu(x) = x * Phi(x) = relu(x) - |x| * erfc(|x| / sqrt(2)) / 2``, branch-free (for ``x < 0`` it is
  ``x * erfc(|x|/sqrt 2) / 2``, for ``x >= 0`` ``x - x * erfc(...) / 2``), with erfc by Abramowitz &
  Stegun 7.1.26 (``t * P(t) * exp(-z^2)``, ``t = 1 / (1 + p z)``, absolute error below 1.5e-7, about one
  float32 ulp of Phi near 1). float64 keeps ``special.erf``'s series (what gradient checks need).
* ``hardswish(x) = x * clip(x + 3, 0, 6) / 6`` and ``hardsigmoid``: three or four in-place passes, divided
  by 6 as PyTorch rounds.

Measured on one core of a Zen 4 VM, 1.25M float32 values: numpy's ``exp`` alone takes 0.6 ms (2 values
per ns), a multiply-add pass 0.07-0.13 ms; ``divide(1, t)`` runs at twice ``reciprocal``'s speed and
``clip`` with two bounds at three times ``minimum``'s, so those are the forms used.
"""

import math

import numpy as np

from ._threads import split_map

_SPLIT_ELEMS = 1 << 18  # values from which the pool's threads share the work (exp: ~0.12 ms each)
_CHUNK = 1 << 20  # values per step: GELU's scratch arrays stay in L3 (whole 4.8M-value arrays per pass ran
# from memory: 14.8 against 9.8 ms; 64k-value steps kept them in L2 but doubled the time at 1.2M values, the
# two threads' many small calls contending for the GIL)
_MIN_ELEMS = 1 << 10  # below, numpy's per-call overhead dominates whichever expression is used
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Abramowitz & Stegun 7.1.26: erfc(z) ~ t * (a1 + t*(a2 + t*(a3 + t*(a4 + t*a5)))) * exp(-z^2)
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def usable(x):
    """Whether ``x`` takes the sigmoid and SiLU kernels: a C-contiguous numpy float32/float64 array of at
    least ``_MIN_ELEMS`` values (below, the old expression is as fast)."""
    return type(x) is np.ndarray and x.dtype in _FLOATS and x.flags.c_contiguous and x.size >= _MIN_ELEMS


def gelu_usable(x):
    """Whether ``x`` takes the GELU kernels: as ``usable``, float32 (float64 keeps the exact series)."""
    return usable(x) and x.dtype == np.float32


def _run(kernel, arrays, out):
    """``kernel(*parts, out_part)`` over the flat arrays, one contiguous share per thread."""
    flats = [a.reshape(-1) for a in arrays]
    flat_out = out.reshape(-1)
    n = flat_out.size

    def part(s, e):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            for c in range(s, e, _CHUNK):  # the chain's scratch arrays stay in the core's cache
                d = min(c + _CHUNK, e)
                kernel(*(f[c:d] for f in flats), flat_out[c:d])

    if n < _SPLIT_ELEMS:
        part(0, n)
    else:
        split_map(part, n, n)
    return out


def _exp_neg_plus_one(x, t):
    """``t = 1 + exp(-x)``."""
    np.negative(x, out=t)
    np.exp(t, out=t)
    t += 1


def _sigmoid(x, out):
    _exp_neg_plus_one(x, out)
    np.divide(x.dtype.type(1), out, out=out)


def _silu(x, out):
    _exp_neg_plus_one(x, out)
    np.divide(x, out, out=out)


def _silu_grad(g, x, out):
    # d silu = s * (1 + x * (1 - s)) with s = sigmoid(x)
    s = np.empty_like(x)
    _sigmoid(x, s)
    np.subtract(x.dtype.type(1), s, out=out)
    out *= x
    out += 1
    out *= s
    out *= g


def sigmoid(x):
    """``1 / (1 + exp(-x))`` of a ``usable`` array, a new array."""
    return _run(_sigmoid, (x,), np.empty_like(x))


def silu(x):
    """``x * sigmoid(x)`` of a ``usable`` array, a new array."""
    return _run(_silu, (x,), np.empty_like(x))


def silu_grad(g, x):
    """Gradient of ``silu`` at ``x`` times ``g`` (both ``usable``, same shape)."""
    return _run(_silu_grad, (g, x), np.empty_like(x))


def _half_erfc_parts(x):
    """``(|x|, h, e)``: ``h = erfc(|x|/sqrt 2) / 2`` and ``e = exp(-x^2 / 2)`` (float32). At ``|x| = inf``
    ``h`` is 0 and ``|x| * h`` NaN, so GELU gives NaN there as PyTorch's kernel does."""
    f = x.dtype.type
    ax = np.abs(x)
    z = ax * f(1 / math.sqrt(2))
    t = z * f(_AS_P)
    t += 1
    np.divide(f(1), t, out=t)
    h = t * f(_AS_A[4] / 2)  # the 1/2 of Phi folded into the coefficients
    for a in _AS_A[3::-1]:
        h += f(a / 2)
        h *= t
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    h *= z
    return ax, h, z


def _gelu_float32(x, out):
    ax, h, _ = _half_erfc_parts(x)
    h *= ax  # |x| * erfc(|x|/sqrt 2) / 2
    f = x.dtype.type
    np.clip(x, f(0), f(np.inf), out=out)  # relu(x); NaN stays NaN
    out -= h


def _gelu_grad_float32(g, x, out):
    # d gelu = Phi(x) + x * phi(x); Phi(x) = 1 - h for x >= 0, h for x < 0, i.e. relu-like in h:
    # Phi = h + (x >= 0) * (1 - 2h); phi(x) = exp(-x^2/2) / sqrt(2 pi)
    f = x.dtype.type
    ax, h, e = _half_erfc_parts(x)
    np.greater_equal(x, f(0), out=out, casting="unsafe")  # 1.0 where x >= 0, else 0.0
    np.multiply(h, f(-2), out=ax)
    ax += 1  # 1 - 2h
    out *= ax
    out += h
    e *= x
    e *= f(1 / math.sqrt(2 * math.pi))
    out += e
    out *= g


def gelu(x):
    """Exact GELU of a ``usable`` float32 array, a new array."""
    return _run(_gelu_float32, (x,), np.empty_like(x))


def gelu_grad(g, x):
    """Gradient of exact GELU at float32 ``x`` times ``g``."""
    return _run(_gelu_grad_float32, (g, x), np.empty_like(x))


def _hardswish(x, out):
    f = x.dtype.type
    np.add(x, f(3), out=out)
    np.clip(out, f(0), f(6), out=out)
    out *= x
    np.divide(out, f(6), out=out)  # divided, not multiplied by 1/6: PyTorch's rounding


def _hardsigmoid(x, out):
    f = x.dtype.type
    np.add(x, f(3), out=out)
    np.clip(out, f(0), f(6), out=out)
    np.divide(out, f(6), out=out)


def hardswish(x):
    """``x * relu6(x + 3) / 6`` of a ``usable`` array, a new array."""
    return _run(_hardswish, (x,), np.empty_like(x))


def hardsigmoid(x):
    """``relu6(x + 3) / 6`` of a ``usable`` array, a new array."""
    return _run(_hardsigmoid, (x,), np.empty_like(x))
