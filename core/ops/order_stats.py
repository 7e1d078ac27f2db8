"""Order statistics and searching in sorted data: median, nanmedian, quantile, nanquantile, kthvalue, mode,
cummax, cummin, searchsorted, bucketize, histc, unique, unique_consecutive.

Selections along a dim are computed on raw arrays as indices, then read with ``gather``, so the gradient
goes to the chosen element as in PyTorch. NaN sorts last, as PyTorch orders it.
"""

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from ._util import normalize_dim
from .indexing import gather, sort
from .movement import movedim
from .reduce import _ValuesIndices


def _pick(a, axis, idx, keepdim):
    """(values, indices) of ``a`` at the raw ``idx`` (keepdims shape) along ``axis``."""
    idx_t = Tensor._wrap(idx.astype(np.int64, copy=False))
    values = gather(a, axis, idx_t)
    if not keepdim:
        values, idx_t = values.squeeze(axis), idx_t.squeeze(axis)
    return _ValuesIndices((values, idx_t))


def _scalar_pick(a):
    return _ValuesIndices((a.clone(), Tensor._wrap(array_module(a._data).zeros((), np.int64))))


def _nonempty_axis(a, dim, name):
    axis = normalize_dim(dim, a._data.ndim, name)
    if a._data.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
    return axis


# ------------------------------------------------------------------------------------ median
class MedianAll(Op):
    """The lower median of all elements; ties share the gradient evenly, as PyTorch's median()."""

    def forward(self, a, ignore_nan=False):
        xp = array_module(a)
        flat = a.reshape(-1)
        nan = xp.isnan(flat) if dtypes.is_float(a.dtype) else None
        n_nan = int(nan.sum()) if nan is not None else 0
        if flat.size == 0 or n_nan == flat.size or (n_nan and not ignore_nan):
            out = xp.asarray(np.nan, dtype=a.dtype)
        else:
            vals = flat[~nan] if n_nan else flat
            k = (vals.size - 1) // 2
            out = xp.asarray(xp.partition(vals, k)[k])
        if self.recording:
            self.save(self.inputs[0])
            self.out_value = out
        return out

    def backward(self, g):
        (a,) = self.saved_values()
        out = Tensor._wrap(self.out_value)
        chosen = ew.isnan(a) if bool(ew.isnan(out)) else a == out
        mask = chosen.to(g.dtype)
        return g * mask / mask.sum()


def _median(input, dim, keepdim, ignore_nan, name):
    if dim is None:
        return MedianAll.apply(input, ignore_nan=ignore_nan)
    if input._data.ndim == 0:
        normalize_dim(dim, 0, name)
        return _scalar_pick(input)
    axis = _nonempty_axis(input, dim, name)
    data = input._data
    xp = array_module(data)
    n = data.shape[axis]
    order = xp.argsort(data, axis=axis, kind="stable")  # NaN last, ties in input order
    if dtypes.is_float(data.dtype):
        n_nan = xp.isnan(data).sum(axis=axis, keepdims=True)
        if ignore_nan:  # median of the non-NaN values; all-NaN slices give their first NaN
            k = xp.maximum((n - n_nan - 1) // 2, 0)
        else:  # any NaN makes the median NaN: the first NaN in sorted order
            k = xp.where(n_nan > 0, n - n_nan, (n - 1) // 2)
    else:
        k = xp.full(order.shape[:axis] + (1,) + order.shape[axis + 1 :], (n - 1) // 2)
    return _pick(input, axis, xp.take_along_axis(order, k.astype(np.int64), axis), keepdim)


def median(input, dim=None, keepdim=False):
    """The lower median of all elements (NaN if any is NaN), or ``(values, indices)`` along ``dim``."""
    return _median(input, dim, keepdim, False, "median")


def nanmedian(input, dim=None, keepdim=False):
    """As ``median``, ignoring NaN values (NaN only where all values are NaN)."""
    return _median(input, dim, keepdim, True, "nanmedian")


# ---------------------------------------------------------------------------------- quantile
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _lerp(lo, hi, w):
    # PyTorch's two-sided lerp: exact at both ends (w = 0 gives lo, w = 1 gives hi).
    d = hi - lo
    return ew.where(w < 0.5, lo + w * d, hi - d * (1 - w))


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    data = input._data
    if not dtypes.is_float(data.dtype):
        raise RuntimeError(
            f"{name}() input tensor must be either float or double dtype; convert with .float()"
        )
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}() interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
    xp = array_module(data)
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q._data.dtype != data.dtype:
            raise RuntimeError(
                f"{name}() q tensor must be same dtype as the input tensor; use q.to(input.dtype)"
            )
        scalar_q, qt = q._data.ndim == 0, q.reshape(-1)
    else:
        scalar_q, qt = True, Tensor._wrap(xp.asarray([q], dtype=data.dtype))
    if qt._data.size and not bool(((qt._data >= 0) & (qt._data <= 1)).all()):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1], got {q}")
    if dim is not None:
        axis = normalize_dim(dim, data.ndim, name)  # a 0-d input accepts dim 0 or -1
    if dim is None or data.ndim == 0:
        x, axis = input.reshape(-1), 0
    else:
        x = input
    n = x.shape[axis]
    if n == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    moved = movedim(sort(x, axis).values, axis, -1)  # NaN last
    lead = tuple(moved.shape[:-1])
    rows = moved.reshape(-1, n)
    n_nan = xp.isnan(rows._data).sum(-1, keepdims=True)
    # Ranks in float64 from q in the input's dtype, as PyTorch computes them: q = 0.2 in float32 is a bit
    # above 0.2, so its rank among 6 values is a bit above 1 and 'higher' picks the third value.
    q64 = qt.unsqueeze(0).to(dtypes.float64)
    if ignore_nan:
        ranks = q64 * Tensor._wrap(xp.maximum(n - n_nan - 1, 0).astype(np.float64))  # all NaN: rank 0
    else:
        ranks = ew.where(Tensor._wrap(n_nan > 0), float(n - 1), q64 * float(n - 1))
    if interpolation in ("lower", "higher", "nearest"):
        ranks = {"lower": ew.floor, "higher": ew.ceil, "nearest": ew.round}[interpolation](ranks)
    below = xp.floor(ranks._data).astype(np.int64)
    lo = gather(rows, 1, Tensor._wrap(below))
    out = lo
    if interpolation in ("linear", "midpoint"):
        above = xp.ceil(ranks._data).astype(np.int64)
        hi = gather(rows, 1, Tensor._wrap(above))
        if interpolation == "linear":
            w = (ranks - Tensor._wrap(below.astype(np.float64))).to(input.dtype)
        else:
            w = Tensor._wrap(xp.full(below.shape, 0.5, dtype=data.dtype))
        out = _lerp(lo, hi, w)
    out = movedim(out.reshape(*lead, out.shape[-1]), -1, 0)  # (Q, *reduced shape)
    if keepdim and data.ndim:
        out = out.reshape(out.shape[0], *([1] * data.ndim)) if dim is None else out.unsqueeze(axis + 1)
    return out.squeeze(0) if scalar_q else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles (a number or 1-D tensor in [0, 1]) of all elements or along ``dim``.

    Output: the reduced shape, with a leading dim of ``len(q)`` for a 1-D ``q``. ``interpolation``
    between neighbouring order statistics: 'linear', 'lower', 'higher', 'midpoint' or 'nearest'.
    A NaN in a reduced slice makes its quantiles NaN.
    """
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """As ``quantile``, ignoring NaN values."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# ------------------------------------------------------------------------------ kthvalue, mode
def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``."""
    if input._data.ndim == 0:
        normalize_dim(dim, 0, "kthvalue")
        if k != 1:
            raise RuntimeError(f"kthvalue(): selected number k={k} out of range for a 0-d tensor")
        return _scalar_pick(input)
    axis = normalize_dim(dim, input._data.ndim, "kthvalue")
    n = input._data.shape[axis]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {axis} of size {n}")
    xp = array_module(input._data)
    order = xp.argsort(input._data, axis=axis, kind="stable")
    idx = xp.take(order, xp.asarray([k - 1]), axis=axis)
    return _pick(input, axis, idx, keepdim)


def mode(input, dim=-1, keepdim=False):
    """``(values, indices)`` of the most frequent value along ``dim`` (the smallest on ties) and the
    index of its last occurrence, as PyTorch on the CPU."""
    if input._data.ndim == 0:
        normalize_dim(dim, 0, "mode")
        return _scalar_pick(input)
    axis = _nonempty_axis(input, dim, "mode")
    xp = array_module(input._data)
    x = xp.moveaxis(input._data, axis, -1)
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    s = xp.sort(rows, axis=-1)
    starts = xp.ones(s.shape, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    run = xp.cumsum(starts.reshape(-1)) - 1  # run ids over all rows (each row starts a run)
    run_len = xp.bincount(run)[run].reshape(s.shape)
    best = xp.argmax(run_len, axis=-1)  # first longest run: the smallest of the most frequent values
    value = s[xp.arange(s.shape[0]), best]
    hits = rows == value[:, None]
    last = n - 1 - xp.argmax(hits[:, ::-1], axis=-1)
    idx = xp.moveaxis(last.reshape(x.shape[:-1] + (1,)), -1, axis)
    return _pick(input, axis, idx, keepdim)


# --------------------------------------------------------------------------------- cummax/min
def _running(x, axis, fn):
    """Inclusive scan of ``fn`` ('maximum' or 'minimum') along ``axis``: numpy's accumulate on the CPU,
    a doubling scan on the GPU (cupy's ufuncs have no accumulate)."""
    if array_module(x) is np:
        return getattr(np, fn).accumulate(x, axis=axis)
    return _doubling_scan(x, axis, fn)


def _doubling_scan(x, axis, fn):
    # After the pass with shift s, out[i] covers x[i - 2s + 1 .. i]: log2(n) whole-array passes.
    xp = array_module(x)
    f = getattr(xp, fn)
    out = x.copy()
    n, shift = x.shape[axis], 1
    while shift < n:
        hi = (slice(None),) * axis + (slice(shift, None),)
        lo = (slice(None),) * axis + (slice(None, n - shift),)
        out[hi] = f(out[hi], out[lo])
        shift *= 2
    return out


def _cum_extreme(input, dim, largest, name):
    if input._data.ndim == 0:
        normalize_dim(dim, 0, name)
        return _scalar_pick(input)
    axis = normalize_dim(dim, input._data.ndim, name)
    data = input._data
    xp = array_module(data)
    run = _running(data, axis, "maximum" if largest else "minimum")
    # An element takes over the index when it equals the running extreme (ties: the latest, as PyTorch)
    # or is NaN (a NaN propagates and each later NaN takes over).
    hit = (data == run) | xp.isnan(data) if dtypes.is_float(data.dtype) else data == run
    pos = xp.arange(data.shape[axis]).reshape((-1,) + (1,) * (data.ndim - axis - 1))
    idx = _running(xp.where(hit, pos, 0), axis, "maximum")
    return _pick(input, axis, idx, keepdim=True)


def cummax(input, dim):
    """``(values, indices)``: the running maximum along ``dim`` and where it was found."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input, dim):
    """``(values, indices)``: the running minimum along ``dim`` and where it was found."""
    return _cum_extreme(input, dim, False, "cummin")


# --------------------------------------------------------------------------------- searching
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``input`` would be inserted in ``sorted_sequence`` (sorted along its last dim) to
    keep it sorted: the first such place, or the last with ``right=True`` / ``side='right'``.

    ``sorted_sequence`` is 1-D ``(M,)`` or ``(*, M)`` with ``input`` ``(*, K)``; ``input`` may be a number.
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                "right was True"
            )
        right = side == "right"
    seq = sorted_sequence._data
    xp = array_module(seq)
    values = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    how = "right" if right else "left"
    if seq.ndim <= 1:
        out = xp.searchsorted(seq.reshape(-1), values, side=how)
    else:
        if values.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                f"of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                f"{list(seq.shape)} and input value tensor {list(values.shape)}"
            )
        s2, v2 = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
        # One search per row: rows are independent sorted sequences.
        out = xp.stack([xp.searchsorted(s2[i], v2[i], side=how) for i in range(s2.shape[0])])
        out = out.reshape(values.shape)
    return Tensor._wrap(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element of ``input`` given 1-D increasing ``boundaries``: ``i`` such that
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=False``) or ``boundaries[i-1] <= x < boundaries[i]``."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(
            f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):
    """Histogram of ``input`` in ``bins`` equal-width bins over ``[min, max]`` (the data's range when both
    are equal); values outside are ignored. Returns ``(bins,)`` of the input's dtype; not differentiable."""
    data = input._data
    if not dtypes.is_float(data.dtype):
        raise RuntimeError(
            f"torch.histc: expected a floating-point input, got {input.dtype}; convert with .float()"
        )
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    xp = array_module(data)
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    flat = data.reshape(-1)
    # Computed in the input's dtype, as PyTorch's linear bin search does.
    lo_t, hi_t = xp.asarray(lo, dtype=data.dtype), xp.asarray(hi, dtype=data.dtype)
    x = flat[(flat >= lo_t) & (flat <= hi_t)]
    pos = ((x - lo_t) * bins / (hi_t - lo_t)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)  # the right edge belongs to the last bin
    return Tensor._wrap(xp.bincount(pos, minlength=bins).astype(data.dtype))


# ------------------------------------------------------------------------------------ unique
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with inverse indices and counts, as ``Tensor.unique``."""
    from .methods import unique as _unique

    return _unique(input, sorted=sorted, return_inverse=return_inverse, return_counts=return_counts, dim=dim)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive values (or slices along ``dim``) to one value."""
    data = input._data
    xp = array_module(data)
    if dim is None:
        x = data.reshape(-1)
        keys = x.reshape(-1, 1)
    else:
        axis = normalize_dim(dim, data.ndim, "unique_consecutive")
        x = xp.moveaxis(data, axis, 0)
        keys = x.reshape(x.shape[0], -1)
    n = keys.shape[0]
    change = xp.ones(n, dtype=bool)
    if n > 1:
        change[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    starts = xp.nonzero(change)[0]
    out = x[starts]
    if dim is not None:
        out = xp.moveaxis(out, 0, axis)
    result = [Tensor._wrap(out)]
    if return_inverse:
        inverse = (xp.cumsum(change) - 1).astype(np.int64)
        result.append(Tensor._wrap(inverse.reshape(data.shape) if dim is None else inverse))
    if return_counts:
        result.append(Tensor._wrap(xp.diff(xp.concatenate([starts, xp.asarray([n])])).astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)
