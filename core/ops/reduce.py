"""Reductions: sum, mean, var/std, max/min (with indices), amax/amin, argmax/argmin, prod, cumsum,
logsumexp, norm, softmax and log_softmax."""

import numpy as np

from .. import dtypes
from ..amp_state import autocast_op
from ..autograd.function import Op
from ..autograd.node_names import label, presents_as
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from ._util import normalize_dim, normalize_dims


def _expand_back(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced ``axes`` of ``shape``."""
    if not keepdim and axes:
        kept = list(shape)
        for ax in axes:
            kept[ax] = 1
        g = g.reshape(tuple(kept))
    return g.expand(shape)


class Sum(Op):
    def forward(self, a, axes=(), keepdim=False, dtype=None):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return array_module(a).sum(a, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, g):
        return _expand_back(g, self.shape, self.axes, self.keepdim)


class Prod(Op):
    def forward(self, a, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).prod(a, axis=axis, keepdims=keepdim)

    def backward(self, g):
        (a,) = self.saved_values()
        # Product of all other elements = exclusive cumulative products from both sides (safe with zeros).
        flat = a.reshape(-1) if self.axis is None else a
        ax = 0 if self.axis is None else self.axis
        ones = flat.narrow(ax, 0, 1).new_ones(flat.narrow(ax, 0, 1).shape)
        left = cat([ones, flat.narrow(ax, 0, flat.shape[ax] - 1)], ax).cumprod(ax)
        right = cat([flat.narrow(ax, 1, flat.shape[ax] - 1), ones], ax).flip(ax).cumprod(ax).flip(ax)
        others = (left * right).reshape(a.shape)
        axes = tuple(range(a.ndim)) if self.axis is None else (self.axis,)
        return _expand_back(g, self.shape, axes, self.keepdim) * others


class Cumsum(Op):
    def forward(self, a, axis=0):
        self.axis = axis
        return array_module(a).cumsum(a, axis=axis)

    def backward(self, g):
        return g.flip(self.axis).cumsum(self.axis).flip(self.axis)


class Cumprod(Op):
    saves_output = True

    def forward(self, a, axis=0):
        self.axis = axis
        if self.recording:
            self.save(self.inputs[0])
        return array_module(a).cumprod(a, axis=axis)

    def backward(self, g):
        (a,) = self.saved_values()
        out = self.output()
        # Assumes no zeros in the input (as the common formula does).
        return (g * out).flip(self.axis).cumsum(self.axis).flip(self.axis) / a


class MaxMin(Op):
    """Values and indices of the max/min along one dim; the gradient goes to the chosen index."""

    def forward(self, a, axis=0, keepdim=False, largest=True):
        xp = array_module(a)
        idx = (xp.argmax if largest else xp.argmin)(a, axis=axis, keepdims=True)
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        self.indices = idx
        vals = xp.take_along_axis(a, idx, axis=axis)
        if not keepdim:
            vals = vals.squeeze(axis)
        return vals

    def backward(self, g):
        if not self.keepdim:
            g = g.unsqueeze(self.axis)
        zeros = g.new_zeros(self.shape)
        return zeros.scatter(self.axis, Tensor._wrap(self.indices), g)


class AMaxMin(Op):
    """amax/amin over several dims; ties share the gradient evenly, as in PyTorch."""

    def forward(self, a, axes=(), keepdim=False, largest=True):
        xp = array_module(a)
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        if self.recording:
            self.save(self.inputs[0])
        out = (xp.amax if largest else xp.amin)(a, axis=axes, keepdims=keepdim)
        if self.recording:
            self.out_keep = out if keepdim else xp.expand_dims(out, axes)
        return out

    def backward(self, g):
        (a,) = self.saved_values()
        mask = (a == Tensor._wrap(self.out_keep)).to(g.dtype)
        count = mask.sum(self.axes, keepdim=True)
        return _expand_back(g, self.shape, self.axes, self.keepdim) * mask / count


class Softmax(Op):
    # A fused backward: y * (g - sum(g * y)) is cheaper and more stable than differentiating exp/sum/div.
    saves_output = True

    def forward(self, a, axis=-1):
        xp = array_module(a)
        self.axis = axis
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(self, g):
        y = self.output()
        return y * (g - (g * y).sum(self.axis, keepdim=True))


class LogSoftmax(Op):
    # Fused for the same reason: g - exp(y) * sum(g).
    saves_output = True

    def forward(self, a, axis=-1):
        xp = array_module(a)
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, g):
        y = self.output()
        return g - y.exp() * g.sum(self.axis, keepdim=True)


# ----------------------------------------------------------------------------------- functions
@autocast_op("sum")
def sum(a, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or None for all); bool/int inputs sum to int64."""
    axes = normalize_dims(dim, a._data.ndim, "sum")
    if dtype is not None:
        a = a.to(dtype)
    elif a._data.dtype.kind in "biu":
        a = a.to(dtypes.int64)
    return Sum.apply(a, axes=axes, keepdim=keepdim)


def mean(a, dim=None, keepdim=False, dtype=None):
    """Mean over ``dim``; needs a floating input (or ``dtype``)."""
    if dtype is not None:
        a = a.to(dtype)
    if not dtypes.is_float(a._data.dtype):
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {a.dtype.name}"
        )
    axes = normalize_dims(dim, a._data.ndim, "mean")
    n = 1
    for ax in axes:
        n *= a._data.shape[ax]
    out = Sum.apply(a, axes=axes, keepdim=keepdim) * (1.0 / n if n else float("nan"))
    return label(out, "MeanBackward0" if dim is None else "MeanBackward1", a)


@presents_as("VarBackward0", "a")
def var(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance with Bessel's ``correction`` (default 1; ``unbiased=False`` means 0)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = normalize_dims(dim, a._data.ndim, "var")
    n = 1
    for ax in axes:
        n *= a._data.shape[ax]
    centered = a - mean(a, axes, keepdim=True)
    scale = 1.0 / (n - correction) if n - correction > 0 else float("nan")
    return Sum.apply(centered * centered, axes=axes, keepdim=keepdim) * scale


class SqrtOfVariance(Op):
    """sqrt for std: its gradient is 0 where the std is 0 (constant input), as in PyTorch, not inf."""

    saves_output = True

    def forward(self, v):
        return array_module(v).sqrt(v)

    def backward(self, g):
        out = self.output()
        return ew.where(out == 0, 0.0, g / (out * 2))


@presents_as("StdBackward0", "a")
def std(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation (see ``var``)."""
    return SqrtOfVariance.apply(var(a, dim, unbiased=unbiased, keepdim=keepdim, correction=correction))


def var_mean(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """``(var, mean)`` over ``dim`` (all elements by default) in one call, as ``torch.var_mean``."""
    return var(a, dim, unbiased, keepdim, correction), mean(a, dim, keepdim)


def std_mean(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """``(std, mean)`` over ``dim`` (all elements by default) in one call, as ``torch.std_mean``."""
    return std(a, dim, unbiased, keepdim, correction), mean(a, dim, keepdim)


class _ValuesIndices(tuple):
    """(values, indices), also readable as ``.values`` and ``.indices`` (torch.return_types)."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _max_min(a, dim, keepdim, largest, name):
    if isinstance(dim, Tensor):
        return (ew.maximum if largest else ew.minimum)(a, dim)
    if dim is None:
        if a._data.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        out = AMaxMin.apply(a, axes=tuple(range(a._data.ndim)), keepdim=False, largest=largest)
        return label(out, "MaxBackward1" if largest else "MinBackward1", a)
    axis = normalize_dim(dim, a._data.ndim, name)
    if a._data.ndim == 0:
        return _ValuesIndices((a.clone(), Tensor._wrap(array_module(a._data).zeros((), np.int64))))
    op_out = MaxMin.apply(a, axis=axis, keepdim=keepdim, largest=largest)
    idx = op_out._ctx.indices if op_out._ctx is not None else None
    if idx is None:
        xp = array_module(a._data)
        idx = (xp.argmax if largest else xp.argmin)(a._data, axis=axis, keepdims=True)
    idx = idx.astype(np.int64)
    label(op_out, "MaxBackward0" if largest else "MinBackward0", a)
    return _ValuesIndices((op_out, Tensor._wrap(idx if keepdim else idx.squeeze(axis))))


def max(a, dim=None, keepdim=False):
    """The maximum of all elements, or ``(values, indices)`` along ``dim``, or elementwise with a Tensor."""
    return _max_min(a, dim, keepdim, True, "max")


def min(a, dim=None, keepdim=False):
    """The minimum of all elements, or ``(values, indices)`` along ``dim``, or elementwise with a Tensor."""
    return _max_min(a, dim, keepdim, False, "min")


@presents_as("AmaxBackward0", "a")
def amax(a, dim=(), keepdim=False):
    """The maximum over ``dim`` (an int or tuple; all dims by default); ties share the gradient."""
    axes = normalize_dims(dim if dim != () else None, a._data.ndim, "amax")
    return AMaxMin.apply(a, axes=axes, keepdim=keepdim, largest=True)


@presents_as("AminBackward0", "a")
def amin(a, dim=(), keepdim=False):
    """The minimum over ``dim`` (an int or tuple; all dims by default); ties share the gradient."""
    axes = normalize_dims(dim if dim != () else None, a._data.ndim, "amin")
    return AMaxMin.apply(a, axes=axes, keepdim=keepdim, largest=False)


def _arg(a, dim, keepdim, largest):
    xp = array_module(a._data)
    f = xp.argmax if largest else xp.argmin
    if dim is None:
        out = f(a._data.reshape(-1)).astype(np.int64)
        return Tensor._wrap(out.reshape((1,) * a._data.ndim) if keepdim else xp.asarray(out))
    axis = normalize_dim(dim, a._data.ndim, "argmax" if largest else "argmin")
    return Tensor._wrap(f(a._data, axis=axis, keepdims=keepdim).astype(np.int64))


def argmax(a, dim=None, keepdim=False):
    """Index of the maximum (first one on ties), over all elements or along ``dim``."""
    return _arg(a, dim, keepdim, True)


def argmin(a, dim=None, keepdim=False):
    """Index (int64) of the minimum (first one on ties), over all elements or along ``dim``."""
    return _arg(a, dim, keepdim, False)


@autocast_op("prod")
def prod(a, dim=None, keepdim=False, dtype=None):
    """The product over all elements or along ``dim``; integer and bool inputs give int64."""
    if dtype is not None:
        a = a.to(dtype)
    elif a._data.dtype.kind in "biu":
        a = a.to(dtypes.int64)
    axis = None if dim is None else normalize_dim(dim, a._data.ndim, "prod")
    return Prod.apply(a, axis=axis, keepdim=keepdim and dim is not None)


@autocast_op("cumsum")
def cumsum(a, dim, dtype=None):
    """Cumulative sum along ``dim``; integer and bool inputs give int64 unless ``dtype`` is given."""
    if dtype is not None:
        a = a.to(dtype)
    elif a._data.dtype.kind in "biu":
        a = a.to(dtypes.int64)
    if a._data.ndim == 0:
        normalize_dim(dim, 0, "cumsum")
        return a.clone()
    return Cumsum.apply(a, axis=normalize_dim(dim, a._data.ndim, "cumsum"))


@autocast_op("cumprod")
def cumprod(a, dim, dtype=None):
    """Cumulative product along ``dim``, optionally computed in ``dtype``."""
    if dtype is not None:
        a = a.to(dtype)
    return Cumprod.apply(a, axis=normalize_dim(dim, a._data.ndim, "cumprod"))


@autocast_op("logsumexp")
@presents_as("LogsumexpBackward0", "a")
def logsumexp(a, dim, keepdim=False):
    """``log(sum(exp(a)))`` along ``dim``, computed without overflow."""
    axes = normalize_dims(dim, a._data.ndim, "logsumexp")
    if 0 in [a._data.shape[ax] for ax in axes]:  # an empty sum: log(0) = -inf
        shape = tuple(1 if i in axes else n for i, n in enumerate(a._data.shape))
        out = a.new_full(shape, float("-inf"))
        return out if keepdim else out.squeeze(axes)
    m = amax(a, axes, keepdim=True).detach()
    m = ew.where(ew.isinf(m), 0.0, m)
    out = ew.log(sum(ew.exp(a - m), axes, keepdim=True)) + m
    return out if keepdim else out.squeeze(axes) if axes else out


@autocast_op("softmax")
def softmax(a, dim=None, dtype=None):
    """``exp(a) / sum(exp(a))`` along ``dim``, optionally computed in ``dtype``."""
    if dtype is not None:
        a = a.to(dtype)
    if dim is None:
        dim = 0 if a._data.ndim in (0, 1, 3) else 1
    return Softmax.apply(a, axis=normalize_dim(dim, a._data.ndim, "softmax"))


@autocast_op("log_softmax")
def log_softmax(a, dim=None, dtype=None):
    """``log(softmax(a, dim))`` computed stably, optionally in ``dtype``."""
    if dtype is not None:
        a = a.to(dtype)
    if dim is None:
        dim = 0 if a._data.ndim in (0, 1, 3) else 1
    return LogSoftmax.apply(a, axis=normalize_dim(dim, a._data.ndim, "log_softmax"))


class Norm2(Op):
    """Euclidean norm; its gradient is 0 (not NaN) where the norm is 0, as in PyTorch."""

    saves_output = True

    def forward(self, a, axes=(), keepdim=False):
        xp = array_module(a)
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        if self.recording:
            self.save(self.inputs[0])
        return xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))

    def backward(self, g):
        (a,) = self.saved_values()
        out = _expand_back(self.output(), self.shape, self.axes, self.keepdim)
        safe = ew.where(out == 0, 1.0, out)
        return _expand_back(g, self.shape, self.axes, self.keepdim) * ew.where(out == 0, 0.0, a / safe)


@autocast_op("norm")
def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (all elements by default): p = 2/'fro', 1, inf, -inf, 0 or any number."""
    if dtype is not None:
        a = a.to(dtype)
    axes = normalize_dims(dim, a._data.ndim, "norm")
    if p in ("fro", 2, 2.0):
        return Norm2.apply(a, axes=axes, keepdim=keepdim)
    if p == float("inf"):
        return amax(ew.abs(a), axes, keepdim=keepdim)
    if p == float("-inf"):
        return amin(ew.abs(a), axes, keepdim=keepdim)
    if p == 0:
        return sum((a != 0).to(a.dtype), axes, keepdim=keepdim)
    if p == 1:
        return sum(ew.abs(a), axes, keepdim=keepdim)
    if not isinstance(p, (int, float)):
        raise NotImplementedError(f"norm: p={p!r} is not supported; use a number, inf, -inf or 'fro'")
    return ew.pow(sum(ew.pow(ew.abs(a), p), axes, keepdim=keepdim), 1.0 / p)


def all(a, dim=None, keepdim=False):
    """Bool tensor: True where every element (over all or along ``dim``) is nonzero."""
    xp = array_module(a._data)
    axis = None if dim is None else normalize_dims(dim, a._data.ndim, "all")
    return Tensor._wrap(xp.asarray(xp.all(a._data, axis=axis, keepdims=keepdim)))


def any(a, dim=None, keepdim=False):
    """Bool tensor: True where some element (over all or along ``dim``) is nonzero."""
    xp = array_module(a._data)
    axis = None if dim is None else normalize_dims(dim, a._data.ndim, "any")
    return Tensor._wrap(xp.asarray(xp.any(a._data, axis=axis, keepdims=keepdim)))


def count_nonzero(a, dim=None):
    """The number (int64) of nonzero elements, over all elements or along ``dim``."""
    xp = array_module(a._data)
    axis = None if dim is None else normalize_dims(dim, a._data.ndim, "count_nonzero")
    return Tensor._wrap(xp.asarray(xp.count_nonzero(a._data, axis=axis), dtype=np.int64))


from .movement import cat  # noqa: E402
