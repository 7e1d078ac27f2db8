"""In-place operations on views: rewriting the base's history, as PyTorch does.

A view (``x[:, 0]``, ``x.view(-1)``, ``x.t()``) shares its base's storage and version counter and
knows its base (``t._base``, always the root tensor that owns the storage). When an in-place op that
records gradients writes into a view, the base's value changes too, so its history is rebased:

- the base gets a ``CopySlices`` node whose inputs are the base's old value and the in-place result;
  its backward hands the base's gradient, with the view's region zeroed, to the old base and the
  view's region of it to the in-place result (and so, through the op, to the view's old value and
  to the op's other inputs);
- the view's ``grad_fn`` becomes ``AsStridedBackward0`` on the new base: its gradient is scattered
  into the view's region of a zero base gradient.

The view's region is found from strides and offsets (``view_positions``), so every view op (slicing,
select, narrow, reshape, transpose/permute, diagonal, unfold, views of views) is covered by one rule.
Other views of the same base become stale when the shared version counter moves on: the next time one
is used, ``refresh_view`` re-derives its ``grad_fn`` from the base's current history, as PyTorch does.
"""

import numpy as np

from ..backend import array_module
from .versions import version_of

_NO_GRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
    "inplace to be tracked) or both outside (if you want the inplace to be tracked)."
)
_OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a single memory "
    "location. Please clone() the tensor before performing the operation."
)


def _ptr(a):
    return a.ctypes.data if type(a) is np.ndarray else a.data.ptr


def _bounds(a):
    """(lowest byte, one past the highest byte) that array ``a`` touches."""
    p = _ptr(a)
    lo = p + sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0 and n > 0)
    hi = p + sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s > 0 and n > 0) + a.itemsize
    return lo, hi


def view_positions(base, view):
    """Flat (C-order) positions in array ``base`` of each element of ``view`` (an array sharing its
    storage): an integer array of ``view``'s shape, or None when ``view`` does not lie inside ``base``."""
    xp = array_module(base)
    k = base.itemsize
    if view.itemsize != k or base.size == 0:
        return None
    lo, hi = _bounds(base)
    vlo, vhi = _bounds(view)
    if view.size and not (lo <= vlo and vhi <= hi):
        return None
    if any(s % k for s in base.strides + view.strides) or (_ptr(view) - lo) % k:
        return None
    if (view.size == base.size and _ptr(view) == _ptr(base) and view.flags.c_contiguous
            and base.flags.c_contiguous):
        # A reshape of the whole base (a norm's rows viewed as N, C, H, W, then ReLU(inplace=True)): the
        # positions are 0..n-1; one pass instead of the three below over a buffer as large as base.
        return xp.arange(base.size, dtype=np.int64).reshape(view.shape)
    as_strided = np.lib.stride_tricks.as_strided if xp is np else _cupy_as_strided()
    # A buffer with one int64 per element-sized slot of base's memory: write each base element's flat
    # index where that element lives, then read them back through the view's strides.
    buf = xp.full((hi - lo) // k, -1, dtype=np.int64)
    e = buf.itemsize

    def through(a):
        start = buf[(_ptr(a) - lo) // k:]
        return as_strided(start, a.shape, tuple(s // k * e for s in a.strides))

    through(base)[...] = xp.arange(base.size, dtype=np.int64).reshape(base.shape)
    pos = through(view).copy()
    if view.size and int(pos.min()) < 0:
        return None
    return pos


def _cupy_as_strided():
    import cupy

    return cupy.lib.stride_tricks.as_strided


def refresh_view(t):
    """Bring view ``t``'s history up to date after an in-place change of its storage; returns
    ``t.requires_grad``. Cheap when nothing changed (one comparison)."""
    ver = getattr(t, "_view_ver", None)
    now = version_of(t)
    if ver is None or ver == now:
        return t.requires_grad
    t._view_ver = now
    base = t._base
    if base.requires_grad:
        pos = view_positions(base._data, t._data)
        if pos is not None:  # base's storage was replaced (``.data = ...``): keep the old history
            from .view_nodes import AsStridedView, edge

            t._ctx = AsStridedView(base, edge(base), pos)
            t._out_index = 0
            t.requires_grad = True
    return t.requires_grad


def follow_retained_grad(t, old_node, old_index):
    """After an in-place op gave ``t`` a new node: ``retain_grad()`` now keeps the gradient of the new
    value, as in PyTorch (hooks from ``register_hook`` stay with the old value)."""
    if not t._retains_grad or old_node is None or old_node is t._ctx or not old_node.retain_hooks:
        return
    keep = old_node.retain_hooks.pop(old_index, None)
    if keep is not None:
        node = t._ctx
        if node.retain_hooks is None:
            node.retain_hooks = {}
        node.retain_hooks[t._out_index] = keep


def no_grad_view_error():
    raise RuntimeError(_NO_GRAD_VIEW_MSG)


def rebase_checks(view):
    """Raise PyTorch's errors for an in-place op on ``view`` that would have to rebase its base."""
    if view._view_ver is None:
        no_grad_view_error()
    d = view._data
    if any(s == 0 and n > 1 for n, s in zip(d.shape, d.strides)):
        raise RuntimeError(_OVERLAP_MSG)


def rebase(view, result):
    """Record that ``result`` (which requires grad) was just written into ``view``'s storage: the base
    gets a ``CopySlices`` node and the view an ``AsStridedBackward0`` node on the new base."""
    from .view_nodes import AsStridedView, CopySlices, edge

    base = view._base
    pos = view_positions(base._data, view._data)
    if pos is None:
        raise RuntimeError(
            "in-place operation on a view whose base no longer shares its storage (was the base's "
            "`.data` replaced?); clone the view before modifying it in place"
        )
    node = CopySlices(base, edge(base), result, pos)
    old = base._ctx, base._out_index
    base._ctx = node
    base._out_index = 0
    base.requires_grad = True
    follow_retained_grad(base, *old)
    old = view._ctx, view._out_index
    view._ctx = AsStridedView(base, (node, 0), pos)
    view._out_index = 0
    view.requires_grad = True
    view._view_ver = version_of(view)
    follow_retained_grad(view, *old)
