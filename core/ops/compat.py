"""PyTorch's other spellings and small composites that scripts reach for: constants (``pi``, ``inf``),
aliases (``multiply``, ``moveaxis``, ``greater_equal``), and reshaping, reduction and arithmetic helpers
(``repeat_interleave``, ``tensor_split``, ``nansum``, ``cross``, ``cov``, ``block_diag``, ...). Each is
built from existing ops, so gradients come from those; index-only results (``bincount``, ``isin``,
``tril_indices``) carry none, as in PyTorch."""
import math
from collections import namedtuple

import numpy as np

from ..amp_state import autocast_op
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from . import reduce as rd
from .indexing import index_select, sort
from .matmul import matmul, outer
from .movement import cat, movedim, narrow, pad, stack, transpose

__all__ = ["pi", "e", "inf", "nan", "newaxis", "multiply", "subtract", "divide", "true_divide", "greater",
           "greater_equal", "less", "less_equal", "not_equal", "negative", "positive", "moveaxis",
           "swapdims", "ravel", "select", "repeat_interleave", "tensor_split", "hsplit", "vsplit", "dsplit",
           "dstack", "column_stack", "row_stack", "atleast_1d", "atleast_2d", "atleast_3d", "nansum",
           "nanmean", "aminmax", "msort", "cross", "dist", "logit", "erfc", "sinc", "xlogy", "float_power",
           "fmax", "fmin", "copysign", "signbit", "matrix_power", "cov", "corrcoef", "block_diag", "inner",
           "vdot", "addmv", "addr", "bincount", "isin", "unravel_index", "tril_indices", "triu_indices",
           "broadcast_shapes", "clamp_min", "clamp_max", "detach", "diagflat", "logcumsumexp",
           "hann_window", "hamming_window"]

pi, e, inf, nan, newaxis = math.pi, math.e, math.inf, math.nan, None


def multiply(input, other):
    """``input * other`` elementwise with broadcasting (alias of ``mul``)."""
    return ew.mul(input, other)


def subtract(input, other, *, alpha=1):
    """``input - alpha * other`` elementwise with broadcasting (alias of ``sub``)."""
    return ew.sub(input, other * alpha if alpha != 1 else other)


def divide(input, other, *, rounding_mode=None):
    """``input / other`` with broadcasting, rounded per ``rounding_mode`` (None, ``'trunc'``, ``'floor'``)."""
    return ew.div(input, other, rounding_mode=rounding_mode)


true_divide = divide


def greater(input, other):
    """Bool tensor of ``input > other`` (alias of ``gt``)."""
    return input > other


def greater_equal(input, other):
    """Bool tensor of ``input >= other`` (alias of ``ge``)."""
    return input >= other


def less(input, other):
    """Bool tensor of ``input < other`` (alias of ``lt``)."""
    return input < other


def less_equal(input, other):
    """Bool tensor of ``input <= other`` (alias of ``le``)."""
    return input <= other


def not_equal(input, other):
    """Bool tensor of ``input != other`` (alias of ``ne``)."""
    return input != other


def negative(input):
    """``-input`` elementwise (alias of ``neg``)."""
    return -input


def positive(input):
    """``input`` itself, as ``torch.positive``."""
    return input


def moveaxis(input, source, destination):
    """Dims at ``source`` moved to ``destination`` (alias of ``movedim``)."""
    return movedim(input, source, destination)


def swapdims(input, dim0, dim1):
    """Dims ``dim0`` and ``dim1`` swapped (alias of ``transpose``)."""
    return transpose(input, dim0, dim1)



def ravel(input):
    """``input`` flattened to 1-D, as ``torch.ravel``."""
    return input.reshape(-1)


def select(input, dim, index):
    """The slice at ``index`` along ``dim`` (that dim removed)."""
    n = input.shape[dim]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {dim}")
    return narrow(input, dim, index % n, 1).squeeze(dim)


def _ints(x):
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, Tensor) else x, dtype=np.int64)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (``repeats`` times, or ``repeats[i]`` times for element i) along ``dim`` (the
    flattened input when None). ``repeat_interleave(repeats)`` alone gives ``[0]*r0 + [1]*r1 + ...``."""
    if repeats is None:
        counts = _ints(input)
        return Tensor._wrap(np.repeat(np.arange(counts.size), counts).astype(np.int64))
    if dim is None:
        input, dim = input.reshape(-1), 0
    n = input.shape[dim]
    counts = _ints(repeats).reshape(-1)
    if counts.size not in (1, n):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size({dim}) = {n}")
    idx = np.repeat(np.arange(n), counts if counts.size == n else int(counts[0]))
    return index_select(input, dim, Tensor._wrap(idx.astype(np.int64)).to(input.device))


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``sections`` nearly equal parts (the first ``n % sections`` one longer), or at the given
    indices; views as ``narrow`` gives them."""
    n = input.shape[dim]
    if isinstance(indices_or_sections, Tensor) and indices_or_sections.ndim == 0:
        indices_or_sections = int(indices_or_sections.item())
    if isinstance(indices_or_sections, int):
        s = indices_or_sections
        if s <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {s}")
        sizes = [n // s + 1] * (n % s) + [n // s] * (s - n % s)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
    else:
        points = [min(max(int(i) + (n if int(i) < 0 else 0), 0), n) for i in _ints(indices_or_sections)]
        bounds = [0] + points + [n]
    return tuple(narrow(input, dim, int(a), max(int(b) - int(a), 0)) for a, b in zip(bounds[:-1], bounds[1:]))


def _split_dim(input, sections, dim, name):
    if isinstance(sections, int):
        n = input.shape[dim]
        if sections == 0 or n % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {n} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """A tuple of pieces split along dim 1 (dim 0 for 1-D), as ``torch.hsplit``."""
    return _split_dim(input, sections, 1 if input.ndim > 1 else 0, "hsplit")


def vsplit(input, sections):
    """A tuple of pieces split along dim 0 of a tensor with at least 2 dims, as ``torch.vsplit``."""
    if input.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_dim(input, sections, 0, "vsplit")


def dsplit(input, sections):
    """A tuple of pieces split along dim 2 of a tensor with at least 3 dims, as ``torch.dsplit``."""
    if input.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    return _split_dim(input, sections, 2, "dsplit")


def atleast_1d(*tensors):
    """Each input with at least 1 dim (0-d becomes shape ``(1,)``); one tensor or a tuple."""
    out = [t.reshape(1) if t.ndim == 0 else t for t in _unpack(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    """Each input with at least 2 dims (leading size-1 dims added); one tensor or a tuple."""
    out = [t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t for t in _unpack(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    """Each input with at least 3 dims (1-D ``(N,)`` -> ``(1, N, 1)``, 2-D gets a last dim)."""
    def lift(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    out = [lift(t) for t in _unpack(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _unpack(tensors):
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)


def dstack(tensors):
    """Tensors joined depth-wise along dim 2 after ``atleast_3d``, as ``torch.dstack``."""
    return cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(*tensors)], 2)


def column_stack(tensors):
    """0-/1-D tensors as columns (``(N, 1)``) and 2-D ones joined along dim 1."""
    cols = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors]
    return cat(cols, 1)


def row_stack(tensors):
    """Tensors joined along dim 0 after ``atleast_2d`` (alias of ``vstack``)."""
    rows = [atleast_2d(t) for t in tensors]
    return cat(rows, 0)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero."""
    x = ew.where(input != input, 0.0, input)
    return rd.sum(x, dim, keepdim=keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over the non-NaN elements."""
    valid = (input == input).to(input.dtype if dtype is None else dtype)
    return nansum(input, dim, keepdim, dtype=dtype) / rd.sum(valid, dim, keepdim=keepdim)


_MinMax = namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim=False):
    """Named tuple ``(min, max)`` over all elements or along ``dim``, as ``torch.aminmax``."""
    axes = () if dim is None else dim
    return _MinMax(rd.amin(input, axes, keepdim=keepdim), rd.amax(input, axes, keepdim=keepdim))


def msort(input):
    """``input`` sorted along dim 0 (values only), as ``torch.msort``."""
    return sort(input, 0)[0]


@autocast_op("cross")
def cross(input, other, dim=None):
    """Cross product of 3-vectors along ``dim`` (None: the first dim of size 3, PyTorch's old default)."""
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} "
                           f"and {other.shape[dim]}")
    a = [select(input, dim, i) for i in range(3)]
    b = [select(other, dim, i) for i in range(3)]
    parts = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    return stack(parts, dim if dim >= 0 else dim + max(input.ndim, other.ndim))


@autocast_op("dist")
def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast) as a 0-d tensor."""
    return rd.norm(input - other, p)


def logit(input, eps=None):
    """``log(x / (1 - x))`` elementwise, ``x`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    x = input if eps is None else input.clamp(eps, 1 - eps)
    return ew.log(x / (1 - x))


def erfc(input):
    """The complementary error function ``1 - erf(input)``, elementwise."""
    return 1 - ew.erf(input)


def sinc(input):
    """``sin(pi x) / (pi x)``, 1 at 0 (gradient 0 there, as PyTorch)."""
    zero = input == 0
    safe = ew.where(zero, 1.0, input) * math.pi
    return ew.where(zero, 1.0, ew.sin(safe) / safe)


def xlogy(input, other):
    """``input * log(other)``, 0 where input is 0 (unless other is NaN)."""
    if not isinstance(input, Tensor):
        input = Tensor._wrap(np.asarray(input, dtype=other._data.dtype))
    if not isinstance(other, Tensor):
        other = Tensor._wrap(np.asarray(other, dtype=input._data.dtype))
    zero = (input == 0) & (other == other)
    return ew.where(zero, 0.0, input * ew.log(ew.where(zero, 1.0, other)))


def float_power(input, exponent):
    """``input ** exponent`` in double precision."""
    base = input.double() if isinstance(input, Tensor) else input
    exp = exponent.double() if isinstance(exponent, Tensor) else exponent
    if not isinstance(base, Tensor):
        base = Tensor._wrap(np.asarray(base, dtype=np.float64))
    return ew.pow(base, exp)


def fmax(input, other):
    """Elementwise maximum ignoring NaN (NaN only where both are)."""
    return ew.where(input != input, other, ew.where(other != other, input, ew.maximum(input, other)))


def fmin(input, other):
    """Elementwise minimum ignoring NaN (NaN only where both are)."""
    return ew.where(input != input, other, ew.where(other != other, input, ew.minimum(input, other)))


def signbit(input):
    """Bool tensor: True where the sign bit is set (negative numbers and -0.0)."""
    xp = array_module(input._data)
    return Tensor._wrap(xp.signbit(input._data))


def copysign(input, other):
    """``|input|`` with the sign (bit) of ``other``."""
    if not isinstance(other, Tensor):
        other = Tensor._wrap(np.asarray(other, dtype=input._data.dtype))
    sign = ew.where(signbit(other), -1.0, 1.0)
    x = input if input.is_floating_point() else input.float()
    return ew.abs(x) * sign


def matrix_power(input, n):
    """``input`` multiplied by itself ``n`` times (the inverse's power for n < 0; identity for 0)."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{input.shape[-2] if input.ndim > 1 else 1} by {input.shape[-1]} matrices")
    if n == 0:
        from ..creation import eye

        return eye(input.shape[-1], dtype=input.dtype, device=input.device).expand(*input.shape)
    if n < 0:
        from ..linalg import inv

        input, n = inv(input), -n
    out, base = None, input
    while n:  # binary powering: log2(n) products
        if n & 1:
            out = base if out is None else matmul(out, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return out


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the variables in the rows of ``input (vars, observations)`` (a 1-D input is one
    variable)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov(): fweights/aweights are not supported; pass correction only")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not x.is_floating_point():
        x = x.float()
    n = x.shape[1]
    xm = x - x.mean(1, keepdim=True)
    c = matmul(xm, xm.mT) / max(n - correction, 0)
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input):
    """Pearson correlation matrix of the rows (variables) of a 1-D/2-D ``input``, clamped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = ew.sqrt(c.diagonal(0, -2, -1))
    return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)


def block_diag(*tensors):
    """The tensors (0-, 1- or 2-D) placed along the diagonal of one 2-D tensor, zeros elsewhere."""
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    width = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    dtype = np.result_type(*[m._data.dtype for m in mats]) if mats else np.float32
    for m in mats:
        m = m.to(Tensor._wrap(np.zeros((), dtype)).dtype) if m._data.dtype != dtype else m
        rows.append(pad(m, [left, width - left - m.shape[1]]))
        left += m.shape[1]
    return cat(rows, 0)


def inner(input, other):
    """Sum of products over the last dims: shape ``input.shape[:-1] + other.shape[:-1]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    a = input.reshape(-1, input.shape[-1])
    b = other.reshape(-1, other.shape[-1])
    return matmul(a, b.mT).reshape(*input.shape[:-1], *other.shape[:-1])


@autocast_op("vdot")
def vdot(input, other):
    """Dot product of two 1-D tensors as a 0-d tensor (real dtypes: same as ``dot``)."""
    return (input * other).sum()


@autocast_op("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``: ``mat`` (n, m), ``vec`` (m,), ``input`` broadcast to (n,)."""
    out = matmul(mat, vec)
    return (out if alpha == 1 else out * alpha) + (input if beta == 1 else input * beta)


@autocast_op("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``, ``input`` broadcast to ``(len(vec1), len(vec2))``."""
    out = outer(vec1, vec2)
    return (out if alpha == 1 else out * alpha) + (input if beta == 1 else input * beta)


def bincount(input, weights=None, minlength=0):
    """Counts of each non-negative integer in the 1-D ``input`` (weighted sums with ``weights``)."""
    x = _ints(input)
    if x.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if x.size and x.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return Tensor._wrap(np.bincount(x, minlength=minlength).astype(np.int64))
    w = weights.detach().cpu().numpy()
    out_dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return Tensor._wrap(np.bincount(x, weights=w, minlength=minlength).astype(out_dtype))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Bool tensor: True where an element of ``elements`` is in ``test_elements`` (``invert`` flips it)."""
    a = elements.detach().cpu().numpy() if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements
    b = b.detach().cpu().numpy() if isinstance(b, Tensor) else np.asarray(b)
    return Tensor._wrap(np.isin(a, b, assume_unique=assume_unique, invert=invert))


def unravel_index(indices, shape):
    """Tuple of int64 tensors: the coordinates of flat ``indices`` in a tensor of ``shape``."""
    idx = _ints(indices)
    return tuple(Tensor._wrap(np.asarray(i, dtype=np.int64)) for i in np.unravel_index(idx, tuple(shape)))


def _triangle_indices(name, rc, dtype, device):
    """(2, N) tensor of ``rc`` in ``dtype`` (int64 by default; int32 allowed) on ``device``."""
    from ..backend import module_for
    from ..creation import _device, _dtype_np

    npd = _dtype_np(dtype, np.dtype(np.int64))
    if npd not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise RuntimeError(f"{name}: dtype must be int64 or int32 (as in PyTorch), got {npd}")
    arr = np.stack(rc).astype(npd)
    dev = _device(device)
    return Tensor._wrap(arr if dev.type == "cpu" else module_for(dev).asarray(arr))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """(2, N) tensor (int64 or ``dtype``, on ``device``): the lower-triangle indices of a row x col matrix."""
    return _triangle_indices("tril_indices", np.tril_indices(row, offset, col), dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """(2, N) tensor (int64 or ``dtype``, on ``device``): the upper-triangle indices of a row x col matrix."""
    return _triangle_indices("triu_indices", np.triu_indices(row, offset, col), dtype, device)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to."""
    from ..tensor import Size

    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: {list(shapes)}") \
            from None


def clamp_min(input, min):
    """``input`` clamped from below at ``min``, as ``torch.clamp_min``."""
    return input.clamp(min=min)


def clamp_max(input, max):
    """``input`` clamped from above at ``max``, as ``torch.clamp_max``."""
    return input.clamp(max=max)


def detach(input):
    """A tensor sharing ``input``'s data, cut out of the autograd graph."""
    return input.detach()


def diagflat(input, offset=0):
    """The flattened ``input`` on the ``offset`` diagonal of a square matrix."""
    from .linalg_like import diag

    return diag(input.reshape(-1), offset)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input)))`` along ``dim``, shifted by the running maximum of the whole dim."""
    m = rd.amax(input, dim, keepdim=True).detach()
    m = ew.where(m == -math.inf, 0.0, m)
    return ew.log(ew.exp(input - m).cumsum(dim)) + m


def _window(n, periodic, dtype, device, a0):
    from ..creation import arange

    if n == 0:
        return arange(0, dtype=dtype, device=device)
    if n == 1:
        return arange(1, dtype=dtype, device=device) * 0 + 1
    denom = n if periodic else n - 1
    k = arange(n, dtype=dtype, device=device)
    return a0 - (1 - a0) * ew.cos(k * (2 * math.pi / denom))


def hann_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """``0.5 - 0.5 cos(2 pi k / N)`` (N = length when periodic, length - 1 otherwise)."""
    return _window(window_length, periodic, dtype, device, 0.5).requires_grad_(requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, device=None,
                   requires_grad=False):
    """``alpha - beta cos(2 pi k / N)``."""
    w = _window(window_length, periodic, dtype, device, 0.5)  # 0.5 - 0.5 cos
    return (alpha - beta + 2 * beta * w).requires_grad_(requires_grad) if window_length > 1 else \
        w.requires_grad_(requires_grad)

