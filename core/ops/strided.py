"""Views made by striding over the input's memory: ``diagonal`` and ``Tensor.unfold``.

As in PyTorch these share storage with their input, so in-place ops write through them (and rebase the
input's history, see ``core/autograd/view_rebase.py``). The gradient is scattered back through the
view's flat positions in the input; overlapping windows (``unfold`` with ``step < size``) accumulate.
"""

import numpy as np

from ..autograd.function import Op
from ..autograd.view_rebase import view_positions
from ..backend import array_module
from ._util import normalize_dim


def _as_strided(a, shape, strides):
    if array_module(a) is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides)
    import cupy

    return cupy.lib.stride_tricks.as_strided(a, shape, strides)


class StridedView(Op):
    """``a[start]`` read with new ``shape`` and byte ``strides``: a view of ``a``'s storage."""

    is_view = True

    def forward(self, a, start=(), shape=(), strides=()):
        out = _as_strided(a[start] if start else a[...], shape, strides)
        if self.recording:
            self.in_shape = a.shape
            pos = view_positions(a, out) if a.size and out.size else None
            self.pos = array_module(a).zeros(shape, dtype=np.int64) if pos is None else pos
        return out

    def backward(self, g):
        from .indexing import IndexAdd

        n = int(np.prod(self.in_shape))
        return IndexAdd.apply(g, in_shape=(n,), index=(self.pos,)).reshape(self.in_shape)


def _labelled(out, name):
    if out._ctx is not None:
        out._ctx.label = name
    return out


def diagonal(a, offset=0, dim1=0, dim2=1):
    """The ``offset`` diagonal of the (dim1, dim2) planes, as a new last dim: a view, as in PyTorch."""
    nd = a._data.ndim
    d1, d2 = normalize_dim(dim1, nd, "diagonal"), normalize_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    data = a._data
    n1, n2 = data.shape[d1], data.shape[d2]
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    start = [slice(None)] * nd
    if length:
        if offset >= 0:
            start[d2] = slice(offset, None)
        else:
            start[d1] = slice(-offset, None)
    keep = [i for i in range(nd) if i not in (d1, d2)]
    shape = tuple(data.shape[i] for i in keep) + (length,)
    strides = tuple(data.strides[i] for i in keep) + (data.strides[d1] + data.strides[d2],)
    out = StridedView.apply(a, start=tuple(start), shape=shape, strides=strides)
    return _labelled(out, "DiagonalBackward0")


def unfold(a, dimension, size, step):
    """``Tensor.unfold``: every window of ``size`` elements along ``dimension``, ``step`` apart, as a new
    last dim of length ``size`` (shape ``(..., (n - size) // step + 1, ..., size)``): a view."""
    data = a._data
    nd = data.ndim
    d = normalize_dim(dimension, max(nd, 1), "unfold")
    n = data.shape[d] if nd else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if nd == 0:
        return _labelled(StridedView.apply(a, start=(), shape=(size,), strides=(data.itemsize,)),
                         "UnfoldBackward0")
    shape = list(data.shape)
    shape[d] = (n - size) // step + 1
    strides = list(data.strides)
    strides[d] = data.strides[d] * step
    shape, strides = tuple(shape) + (size,), tuple(strides) + (data.strides[d],)
    out = StridedView.apply(a, start=(), shape=shape, strides=strides)
    return _labelled(out, "UnfoldBackward0")
