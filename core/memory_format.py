"""Memory formats, as PyTorch's ``torch.memory_format``: ``contiguous_format`` (row-major NCHW),
``channels_last`` (NHWC in memory, shape still NCHW), ``channels_last_3d`` (NDHWC) and
``preserve_format`` (keep the source's layout).

A visionlite tensor wraps a strided numpy/cupy array, so a channels-last tensor is simply an NCHW-shaped
view of an NHWC-contiguous array: ``stride()`` then reports PyTorch's strides and numpy's elementwise
operations (which keep their input's memory order) propagate the layout as PyTorch's do.

Convolutions and batch norm accept channels-last input but return row-major output: their kernels work
on channel-major planes, and measured on batch 16 (64..256 channels, 14..56 px) an NHWC input made the
convolution 4-24% slower and batch norm 2.5-3.5x slower, so keeping NHWC between layers would not pay.
"""

import numpy as np

from .backend import array_module

__all__ = ["memory_format", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]


class memory_format:  # noqa: N801  (PyTorch's spelling)
    """A memory layout for ``to``/``contiguous``/``clone``/``*_like``: use the module's instances."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"visionlite.{self._name}"

    def __reduce__(self):  # pickles as the module-level instance, so ``is`` comparisons survive
        return self._name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")

# the permutation taking the logical (N, C, spatial...) order to the physical one
_ORDER = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}
_RANK = {channels_last: 4, channels_last_3d: 5}


def check_format(fmt, what="memory_format"):
    """``fmt`` if it is a memory format, else a TypeError naming the accepted values."""
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{what} must be visionlite.contiguous_format, channels_last, channels_last_3d or "
                        f"preserve_format, got {fmt!r}")
    return fmt


def _check_rank(a, fmt):
    rank = _RANK.get(fmt)
    if rank is not None and a.ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format (got shape "
                           f"{list(a.shape)})")


def is_in_format(a, fmt):
    """PyTorch's ``is_contiguous(memory_format=fmt)`` for array ``a``: dims of size 1 may have any stride."""
    fmt = contiguous_format if fmt is None else check_format(fmt)
    if fmt is contiguous_format or fmt is preserve_format:  # PyTorch answers preserve as contiguous
        return bool(a.flags.c_contiguous)
    if a.ndim != _RANK[fmt]:
        return False
    expected, item = 1, a.itemsize
    for d in reversed(_ORDER[fmt]):
        size = a.shape[d]
        if size != 1:
            if a.strides[d] != expected * item:
                return False
            expected *= size
    return True


def _strides_like(a, fmt):
    """PyTorch's reading of ``a``'s strides as channels-last(-3d) (``is_strides_like_channels_last``):
    ambiguous cases (size-1 dims with equal strides) count as contiguous."""
    order = _ORDER[fmt]
    strides = [st // a.itemsize for st in a.strides]
    if strides[1] == 0:
        return False
    low = 0
    for d in (1,) + tuple(reversed(order[1:-1])) + (0,):
        if a.shape[d] == 0 or strides[d] < low:
            return False
        if d == 0 and low == strides[1]:
            return False
        low = strides[d] * (a.shape[d] if a.shape[d] > 1 else 1)
    return True


def suggest_format(a):
    """PyTorch's ``suggest_memory_format``: channels_last(_3d) when ``a``'s strides read so, else
    contiguous_format."""
    for fmt in (channels_last, channels_last_3d):
        if a.ndim == _RANK[fmt] and _strides_like(a, fmt):
            return fmt
    return contiguous_format


def _dense(a):
    """True when ``a``'s elements fill its memory span exactly (a permutation of a contiguous array)."""
    expected = a.itemsize
    for stride, size in sorted((abs(st), sz) for st, sz in zip(a.strides, a.shape) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def relayout(a, fmt):
    """A copy of array ``a`` laid out as ``fmt``.

    ``preserve_format`` keeps a dense array's stride order and otherwise picks channels-last or
    contiguous (``suggest_format``), as PyTorch does."""
    fmt = check_format(fmt)
    if fmt is preserve_format:
        if _dense(a):
            return array_module(a).array(a, order="K", copy=True)
        fmt = suggest_format(a)
    _check_rank(a, fmt)
    xp = array_module(a)
    if fmt is contiguous_format:
        return xp.array(a, order="C", copy=True)
    order = _ORDER[fmt]
    back = tuple(int(i) for i in np.argsort(order))
    # a fresh copy even when numpy already calls the transposed view contiguous (size-1 dims), so the
    # strides are the canonical ones PyTorch reports
    return xp.array(a.transpose(order), order="C", copy=True).transpose(back)


def as_format(a, fmt):
    """Array ``a`` itself when already laid out as ``fmt``, else a re-laid copy."""
    fmt = check_format(fmt)
    if fmt is preserve_format:
        return a
    _check_rank(a, fmt)
    return a if is_in_format(a, fmt) else relayout(a, fmt)


def layout_like(arr, ref, fmt=None):
    """``arr`` (a fresh array of ``ref``'s shape) laid out as ``fmt`` says (None: like ``ref``).

    ``None`` and ``preserve_format`` mean ``ref``'s layout (the ``*_like`` creators' rule); ``arr`` itself
    comes back when it already is laid out so."""
    fmt = preserve_format if fmt is None else check_format(fmt)
    if fmt is preserve_format:
        if ref.flags.c_contiguous or ref.ndim < 2:
            return arr
        if type(arr) is type(ref) and _dense(ref):
            out = array_module(arr).empty_like(ref, dtype=arr.dtype, order="K")
            out[...] = arr
            return out
        fmt = suggest_format(ref)
    return as_format(arr, fmt)
