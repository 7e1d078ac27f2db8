"""Writes at integer indices, as PyTorch's ``index_add``, ``index_copy`` and ``put``.

Each is a composite of ``scatter``/``scatter_add`` (so gradients reach ``self`` and ``source``) after the
checks PyTorch makes: ``index_add``/``index_copy`` refuse negative and too-large indices (no wrap-around);
``put``, like ``take``, counts negative indices from the end of the flattened tensor.
"""

import numpy as np

from ..amp_state import autocast_op
from ..tensor import Tensor
from ._util import IndexOutOfBounds, normalize_dim
from .indexing import scatter


def _vector_index(index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index; convert it with .long()")
    if index._data.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    return index.reshape(-1)


def _along(a, dim, index, source, name, exc):
    """``index`` (1-D) spread over ``source``'s shape along ``dim``, after PyTorch's checks."""
    axis = normalize_dim(dim, a.ndim, name)
    index = _vector_index(index, name)
    n = a.shape[axis] if a.ndim else 1
    idx = index._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            raise exc(f"{name}(): index {lo if lo < 0 else hi} is out of bounds for dimension {axis} with "
                      f"size {n} (indices must lie in [0, {n}))")
    expected = list(a.shape)
    if a.ndim:
        expected[axis] = idx.size
    if list(source.shape) != expected and not (a.ndim == 0 and source.numel() == idx.size):
        raise RuntimeError(f"{name}(): source has shape {list(source.shape)}, expected {expected} (self's "
                           f"shape with dimension {axis} the length of index)")
    if a.ndim == 0:
        return 0, index, source.reshape(-1)
    view = [1] * a.ndim
    view[axis] = idx.size
    return axis, index.reshape(*view).expand(*expected), source


def index_add(input, dim, index, source, alpha=1):
    """``input`` with ``alpha * source`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    axis, full, source = _along(input, dim, index, source, "index_add", IndexOutOfBounds)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    if alpha != 1:
        source = source * alpha
    flat = input.reshape(1) if input.ndim == 0 else input
    out = scatter(flat, axis, full, source, reduce="add")
    return out.reshape(()) if input.ndim == 0 else out


@autocast_op("index_copy")
def index_copy(input, dim, index, source):
    """``input`` with the slices of ``source`` copied to ``index`` along ``dim``."""
    axis, full, source = _along(input, dim, index, source, "index_copy", IndexError)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    flat = input.reshape(1) if input.ndim == 0 else input
    out = scatter(flat, axis, full, source)
    return out.reshape(()) if input.ndim == 0 else out


def put(input, index, source, accumulate=False):
    """``input`` read as 1-D with ``source`` written (or added, ``accumulate``) at ``index``."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("put(): Expected a long tensor for index; convert it with .long()")
    n = input.numel()
    idx = index._data.reshape(-1)
    if idx.size != source.numel():
        raise RuntimeError(f"put(): index has {idx.size} elements but source has {source.numel()}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            bad = lo if lo < -n else hi
            raise IndexError(f"put(): out of range: tried to access index {bad} on a tensor of {n} elements.")
    wrapped = Tensor._wrap((idx % max(n, 1)).astype(np.int64, copy=False))
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    out = scatter(input.reshape(-1), 0, wrapped, source.reshape(-1), reduce="add" if accumulate else None)
    return out.reshape(*input.shape)
