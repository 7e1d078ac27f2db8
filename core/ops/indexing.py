"""Indexing: ``__getitem__``/``__setitem__`` (basic and advanced), gather, scatter, index_select,
masked_fill, nonzero, take_along_dim, sort/topk."""

import numpy as np

from ..amp_state import autocast_op
from ..autograd.function import Op
from ..autograd.node_names import presents_as
from ..autograd.versions import bump_version
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from ._util import normalize_dim
from .movement import Slice


def _is_basic(index):
    return all(
        i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) and not isinstance(i, bool)
        for i in index
    )


def _raw_index(index, xp):
    """Translate an index with Tensors inside into one numpy/cupy understands.

    Index tensors may live on the CPU while the indexed tensor is on a GPU, as PyTorch allows.
    """
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i._data if array_module(i._data) is xp else xp.asarray(i.__array__())
            if i.dtype.kind not in "biu":
                raise IndexError(
                    f"tensors used as indices must be long, int, byte or bool tensors, got {i.dtype}"
                )
        elif isinstance(i, (list, tuple)):
            i = xp.asarray([x.item() if isinstance(x, Tensor) else x for x in i])
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        out.append(i)
    return tuple(out)


class AdvancedIndex(Op):
    """Advanced indexing copies; its gradient accumulates into repeated indices (np.add.at)."""

    def forward(self, a, index=()):
        self.in_shape, self.index = a.shape, index
        return a[index]

    def backward(self, g):
        return IndexAdd.apply(g, in_shape=self.in_shape, index=self.index)


class IndexAdd(Op):
    """zeros(in_shape) with ``g`` added at ``index`` (duplicates accumulate): AdvancedIndex's gradient."""

    def forward(self, g, in_shape=(), index=()):
        self.index = index
        xp = array_module(g)
        out = xp.zeros(in_shape, dtype=g.dtype)
        if xp is np:
            np.add.at(out, index, g)
        else:
            import cupyx

            cupyx.scatter_add(out, index, g)
        return out

    def backward(self, gg):
        return gg[self.index]


def _check_bounds(a, index):
    dim = 0
    for i in index:
        if i is None:
            continue
        if i is Ellipsis:
            dim = a.ndim - sum(1 for j in index if j is not None and j is not Ellipsis)
            dim = max(dim, 0) + sum(1 for j in index[: index.index(Ellipsis)] if j is not None)
            continue
        if isinstance(i, (int, np.integer)) and dim < a.ndim:
            n = a.shape[dim]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {n}")
        dim += 1


def _index_steps(index):
    """``index`` as a list of indexing steps applied one after another, in PyTorch's dim order.

    numpy treats an int next to an array index as advanced and moves the result dims first; PyTorch
    selects with ints first. Such an index becomes two steps: the ints (a basic view), then the rest.
    """
    index = tuple(
        int(i) if isinstance(i, Tensor) and i._data.ndim == 0 and i._data.dtype.kind in "iu" else i
        for i in index
    )
    if _is_basic(index) or not any(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index
    ):
        return [index]
    first, rest = [], []
    for i in index:
        if i is None:
            first.append(None)
            rest.append(slice(None))
        elif i is Ellipsis:
            first.append(Ellipsis)
            rest.append(Ellipsis)
        elif isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            first.append(i)
        elif isinstance(i, slice):
            first.append(i)
            rest.append(slice(None))
        else:
            first.append(slice(None))
            rest.append(i)
    return [tuple(first), tuple(rest)]


def getitem(a, index):
    """``a[index]``: basic indexing gives a view, advanced indexing (tensors, lists, masks) a copy."""
    if not isinstance(index, tuple):
        index = (index,)
    steps = _index_steps(index)
    if len(steps) > 1:
        return getitem(getitem(a, steps[0]), steps[1])
    index = steps[0]
    xp = array_module(a._data)
    if _is_basic(index):
        _check_bounds(a._data, index)
        return Slice.apply(a, index=index)
    raw = _raw_index(index, xp)
    try:
        return AdvancedIndex.apply(a, index=raw)
    except IndexError as e:
        raise IndexError(f"index out of range for tensor of shape {list(a._data.shape)}: {e}") from None


class SetItem(Op):
    """``out = a.clone(); out[index] = value``: the out-of-place form of ``__setitem__``.

    ``steps`` are the raw indexing steps of ``_index_steps``: all but the last select a view.
    """

    def forward(self, a, v, steps=()):
        self.steps = steps
        out = a.copy()
        _target(out, steps)[steps[-1]] = v
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = g.clone()
            _target(ga, self.steps)[self.steps[-1]] = 0.0
        if self.needs_input_grad[1]:
            gv = g
            for step in self.steps:
                gv = getitem(gv, step)
        return ga, gv


def _target(x, steps):
    for step in steps[:-1]:
        x = x[step]
    return x


def setitem(a, index, value):
    """``a[index] = value``, in place, with gradients to both ``a``'s old value and ``value``."""
    if not isinstance(index, tuple):
        index = (index,)
    xp = array_module(a._data)
    steps = [st if _is_basic(st) else _raw_index(st, xp) for st in _index_steps(index)]
    if isinstance(value, Tensor):
        if value.device != a.device:
            raise RuntimeError(f"setitem: value is on {value.device} but the tensor is on {a.device}")
        if value._data.dtype != a._data.dtype:
            value = value.to(a.dtype)
    a._check_inplace()
    from ..autograd.grad_mode import is_grad_enabled

    if is_grad_enabled() and (a.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
        if not isinstance(value, Tensor):
            value = Tensor._wrap(xp.asarray(value, dtype=a._data.dtype))
        a._assign(SetItem.apply(a._snapshot(), value, steps=steps))
        return
    v = value._data if isinstance(value, Tensor) else value
    if not getattr(a._data.flags, "writeable", True):  # cupy arrays are always writable
        a._data = a._data.copy()
    try:
        _target(a._data, steps)[steps[-1]] = v
    except (ValueError, IndexError) as e:
        raise type(e)(f"setitem on tensor of shape {list(a._data.shape)}: {e}") from None
    bump_version(a)


class Gather(Op):
    def forward(self, a, idx, axis=0):
        self.in_shape, self.axis, self.idx = a.shape, axis, idx
        return array_module(a).take_along_axis(a, idx, axis=axis)

    def backward(self, g):
        return g.new_zeros(self.in_shape).scatter_add(self.axis, Tensor._wrap(self.idx), g), None


def _check_in_range(idx, size, axis, name, exc=RuntimeError):
    """PyTorch refuses negative and too-large indices in gather/scatter/index_select (no wrap-around).

    One min/max pass over the index array per call.
    """
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise exc(f"{name}(): index {bad} is out of bounds for dimension {axis} with size {size} "
                      f"(indices must lie in [0, {size}); negative indices do not wrap around here)")


def _check_index_tensor(index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


@presents_as("GatherBackward0", "a")
def gather(a, dim, index):
    """``out[i][j] = a[index[i][j]][j]`` along ``dim`` (index has the output's shape)."""
    _check_index_tensor(index, "gather")
    axis = normalize_dim(dim, a._data.ndim, "gather")
    if index._data.ndim != a._data.ndim:
        raise RuntimeError("gather(): Index tensor must have the same number of dimensions as input tensor")
    idx = index._data
    _check_in_range(idx, a._data.shape[axis], axis, "gather")
    small = tuple(slice(0, s) for s in idx.shape)
    src = (
        a
        if idx.shape == a._data.shape
        else Slice.apply(a, index=small[:axis] + (slice(None),) + small[axis + 1 :])
    )
    return Gather.apply(src, index, axis=axis)


def _scatter_index(idx, axis):
    xp = array_module(idx)
    grids = list(xp.meshgrid(*[xp.arange(s) for s in idx.shape], indexing="ij"))
    grids[axis] = idx
    return tuple(grids)


class Scatter(Op):
    """``out = a.clone(); out[index along axis] = src`` (reduce=None) or ``+= src`` (reduce='add')."""

    def forward(self, a, src, idx, axis=0, reduce=None):
        self.axis, self.idx, self.reduce = axis, idx, reduce
        out = a.copy()
        where = _scatter_index(idx, axis)
        src_part = src[tuple(slice(0, s) for s in idx.shape)]
        xp = array_module(a)
        if reduce == "add":
            if xp is np:
                np.add.at(out, where, src_part)
            else:
                import cupyx

                cupyx.scatter_add(out, where, src_part)
        else:
            out[where] = src_part
        self.src_shape = src.shape
        return out

    def backward(self, g):
        idx = Tensor._wrap(self.idx)
        ga = gs = None
        if self.needs_input_grad[0]:
            ga = g if self.reduce == "add" else g.scatter(self.axis, idx, 0.0)
        if self.needs_input_grad[1]:
            part = gather(g, self.axis, idx)
            if part.shape != self.src_shape:
                full = part.new_zeros(self.src_shape)
                full[tuple(slice(0, s) for s in part.shape)] = part
                part = full
            gs = part
        return ga, gs, None


def scatter(a, dim, index, src=None, value=None, reduce=None):
    """Write ``src`` (a Tensor or a number) into a copy of ``a`` at ``index`` along ``dim``."""
    if src is None:
        src = value
    _check_index_tensor(index, "scatter")
    axis = normalize_dim(dim, a._data.ndim, "scatter")
    if not isinstance(src, Tensor):
        xp = array_module(a._data)
        src = Tensor._wrap(xp.full(index._data.shape, src, dtype=a._data.dtype))
    elif src._data.dtype != a._data.dtype:
        src = src.to(a.dtype)
    if index._data.ndim != a._data.ndim or src._data.ndim != a._data.ndim:
        raise RuntimeError(
            f"scatter(): index (shape {list(index._data.shape)}), src (shape "
            f"{list(src._data.shape)}) and self (shape {list(a._data.shape)}) must have the same "
            "number of dimensions"
        )
    if reduce not in (None, "add"):
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported; use None or 'add'")
    _check_in_range(index._data, a._data.shape[axis], axis, "scatter")
    return Scatter.apply(a, src, index, axis=axis, reduce=reduce)


@autocast_op("scatter_add")
def scatter_add(a, dim, index, src):
    """``a`` with ``src`` values summed into the positions ``index`` gives along ``dim``."""
    return scatter(a, dim, index, src, reduce="add")


def index_select(a, dim, index):
    """The entries of ``a`` at the 1-D ``index`` along ``dim``."""
    axis = normalize_dim(dim, a._data.ndim, "index_select")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    _check_index_tensor(index, "index_select")
    _check_in_range(index._data, a._data.shape[axis], axis, "index_select", IndexError)
    return getitem(a, (slice(None),) * axis + (index.reshape(-1),))


@presents_as("MaskedFillBackward0", "a")
def masked_fill(a, mask, value):
    """``a`` with ``value`` where the boolean ``mask`` (broadcast) is true."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError(
            "masked_fill only supports boolean masks, but got mask with dtype "
            f"{getattr(mask, 'dtype', type(mask).__name__)}"
        )
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor")
        value = value.to(a.dtype)
    else:
        value = Tensor._wrap(array_module(a._data).asarray(value, dtype=a._data.dtype))
    try:
        return ew.Where.apply(mask, value, a)
    except ValueError:
        raise RuntimeError(
            f"masked_fill: the mask of shape {list(mask._data.shape)} does not broadcast to the "
            f"tensor of shape {list(a._data.shape)}"
        ) from None


def masked_select(a, mask):
    """1-D tensor of the elements of ``a`` where the bool ``mask`` (broadcast) is True."""
    a2, m2 = (
        a.expand(*np.broadcast_shapes(a.shape, mask.shape)),
        mask.expand(*np.broadcast_shapes(a.shape, mask.shape)),
    )
    return getitem(a2, (m2,))


def nonzero(a, as_tuple=False):
    """int64 (n, a.dim()) indices of the nonzero elements; a tuple of 1-D ones if ``as_tuple``."""
    xp = array_module(a._data)
    idx = xp.nonzero(a._data)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    if not idx:
        return Tensor._wrap(xp.zeros((int(bool(a._data)), 0), dtype=np.int64))
    return Tensor._wrap(xp.stack(idx, axis=1).astype(np.int64))


def argwhere(a):
    """int64 (n, a.dim()) indices of the nonzero elements, as ``torch.argwhere``."""
    return nonzero(a)


def take_along_dim(a, indices, dim):
    """Values of ``a`` at ``indices`` along ``dim``, as ``torch.take_along_dim`` (``gather``)."""
    return gather(a, dim, indices)


def sort(a, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``."""
    from .reduce import _ValuesIndices

    axis = normalize_dim(dim, a._data.ndim, "sort")
    xp = array_module(a._data)
    key = -a._data if descending and a._data.dtype.kind in "fi" else a._data
    idx = xp.argsort(key, axis=axis, kind="stable")
    if descending and a._data.dtype.kind not in "fi":
        idx = xp.flip(idx, axis)
    idx_t = Tensor._wrap(idx.astype(np.int64))
    return _ValuesIndices((gather(a, axis, idx_t), idx_t))


def argsort(a, dim=-1, descending=False, stable=False):
    """int64 indices that sort ``a`` along ``dim`` (ascending unless ``descending``)."""
    return sort(a, dim, descending, stable)[1]


def topk(a, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` as (values, indices)."""
    from .reduce import _ValuesIndices

    axis = normalize_dim(dim, a._data.ndim, "topk")
    if not 0 <= k <= (a._data.shape[axis] if a._data.ndim else 1):
        raise RuntimeError(
            f"topk(): selected index k={k} out of range for dimension {axis} of size "
            f"{a._data.shape[axis] if a._data.ndim else 1}"
        )
    vals, idx = sort(a, axis, descending=largest)
    return _ValuesIndices((vals.narrow(axis, 0, k), idx.narrow(axis, 0, k)))


def one_hot(index, num_classes=-1):
    """Integer class indices ``(*)`` as int64 one-hot rows ``(*, num_classes)``."""
    if index._data.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of integer dtype")
    xp = array_module(index._data)
    if num_classes == -1:
        num_classes = int(index._data.max()) + 1 if index._data.size else 0
    if index._data.size and (index._data.min() < 0 or index._data.max() >= num_classes):
        raise RuntimeError(
            f"one_hot: class values must be in [0, {num_classes}); got values in "
            f"[{int(index._data.min())}, {int(index._data.max())}]"
        )
    return Tensor._wrap((index._data[..., None] == xp.arange(num_classes)).astype(np.int64))
