"""Shape and movement ops: reshape/view, permute/transpose, expand, repeat, cat/stack, split/chunk,
flip, roll, narrow, squeeze/unsqueeze, pad, copies across devices."""

import numpy as np

from ..amp_state import autocast_op
from ..autograd.function import Op
from ..autograd.node_names import label, presents_as
from ..autograd.versions import share_version
from ..backend import array_module, device_of, to_device
from ..memory_format import check_format, contiguous_format, is_in_format, preserve_format, relayout
from ..tensor import Tensor
from ._util import normalize_dim, normalize_dims


class ToDevice(Op):
    def forward(self, a, device=None):
        self.src = device_of(a)
        return to_device(a, device)

    def backward(self, g):
        return g.to(self.src)


class Clone(Op):
    def forward(self, a, fmt=None):  # fmt: a memory format for the copy (None: row-major)
        return a.copy() if fmt is None else relayout(a, fmt)

    def backward(self, g):
        return g


class Reshape(Op):
    is_view = True

    def forward(self, a, shape=()):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Op):
    is_view = True

    def forward(self, a, axes=()):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        return g.permute(*np.argsort(self.axes).tolist())


class Expand(Op):
    is_view = True

    def forward(self, a, shape=()):
        return array_module(a).broadcast_to(a, shape)

    def backward(self, g):
        return g  # the engine sums it back to the input's shape


class Repeat(Op):
    def forward(self, a, reps=()):
        self.in_shape, self.reps = a.shape, reps
        return array_module(a).tile(a, reps)

    def backward(self, g):
        lead = len(self.reps) - len(self.in_shape)
        shape = (1,) * lead + tuple(self.in_shape)
        split = []
        for r, s in zip(self.reps, shape):
            split += [r, s]
        g = g.reshape(tuple(split)).sum(tuple(range(0, len(split), 2)))
        return g.reshape(self.in_shape)


class Cat(Op):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return array_module(arrays[0]).concatenate(arrays, axis=axis)

    def backward(self, g):
        out, start = [], 0
        for n, size in zip(self.needs_input_grad, self.sizes):
            out.append(g.narrow(self.axis, start, size) if n else None)
            start += size
        return tuple(out)


class Flip(Op):
    def forward(self, a, axes=()):
        self.axes = axes
        return array_module(a).flip(a, axes).copy()

    def backward(self, g):
        return g.flip(self.axes)


class Roll(Op):
    def forward(self, a, shifts=(), axes=None):
        self.shifts, self.axes = shifts, axes
        return array_module(a).roll(a, shifts, axes)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return g.roll(neg, self.axes)


class Slice(Op):
    """Basic indexing (ints, slices, None, Ellipsis): a view; the gradient is scattered into zeros."""

    is_view = True

    def forward(self, a, index=()):
        self.in_shape, self.index = a.shape, index
        out = a[index]
        if isinstance(out, np.generic):  # numpy copies a single element out: index it as a 0-d view
            out = a[index + (Ellipsis,)]
        return out

    def backward(self, g):
        out = g.new_zeros(self.in_shape)
        out[self.index] = g
        return out


class PadConstant(Op):
    def forward(self, a, widths=(), value=0.0):
        self.widths = widths
        return array_module(a).pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))]


# ------------------------------------------------------------------------------------- functions
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape, numel, op):
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {list(shape)}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: invalid shape dimension {s} in {list(shape)}")
        n *= s
    if n != numel:
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel}")
    return shape


def reshape(a, *shape):
    """The same elements in a new shape (one dim may be -1); a view where possible."""
    shape = _infer_shape(_shape_arg(shape), a._data.size, "reshape")
    if shape == a._data.shape:
        return Reshape.apply(a, shape=shape) if a.requires_grad else _alias(a)
    return Reshape.apply(a, shape=shape)


def _alias(a):
    t = Tensor._wrap(a._data)
    share_version(t, a)
    return t


def view(a, *shape):
    """As ``reshape``, but (as in PyTorch) only for shapes that need no copy."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)):
        return a.to(shape[0])
    shape = _infer_shape(_shape_arg(shape), a._data.size, "view")
    try:
        a._data.view().shape = shape  # probes whether a view is possible without copying
    except AttributeError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{list(a._data.shape)} -> {list(shape)}); use .reshape(...) instead."
        ) from None
    return Reshape.apply(a, shape=shape)


def flatten(a, start_dim=0, end_dim=-1):
    """Dims ``start_dim..end_dim`` merged into one (a 0-d tensor becomes 1-d), as ``torch.flatten``."""
    nd = a._data.ndim
    if nd == 0:
        return reshape(a, 1)
    s, e = normalize_dim(start_dim, nd, "flatten"), normalize_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = a._data.shape
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(a, shape[:s] + (n,) + shape[e + 1 :])


def unflatten(a, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one entry may be -1), as ``torch.unflatten``."""
    dim = normalize_dim(dim, a._data.ndim, "unflatten")
    shape = a._data.shape
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(shape[dim] // known if s == -1 else s for s in sizes)
    n = 1
    for s in sizes:
        n *= s
    if n != shape[dim]:
        raise RuntimeError(
            f"unflatten: provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({shape[dim]}) in the input tensor"
        )
    return reshape(a, shape[:dim] + sizes + shape[dim + 1 :])


def squeeze(a, dim=None):
    """Size-1 dims removed: all of them, or only those among ``dim`` (an int or a tuple)."""
    shape = a._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        axes = normalize_dims(dim, a._data.ndim, "squeeze")
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    out = reshape(a, new) if new != shape else _alias_or_view(a)
    kind = 0 if dim is None else 1 if isinstance(dim, int) else 2
    return label(out, f"SqueezeBackward{kind}", a)


def _alias_or_view(a):
    return Reshape.apply(a, shape=a._data.shape) if a.requires_grad else _alias(a)


def unsqueeze(a, dim):
    """A size-1 dim inserted at position ``dim`` (negative counts from the end of the result)."""
    dim = normalize_dim(dim, a._data.ndim + 1, "unsqueeze")
    shape = a._data.shape
    return label(reshape(a, shape[:dim] + (1,) + shape[dim:]), "UnsqueezeBackward0", a)


def permute(a, *dims):
    """The dims reordered so that output dim ``i`` is input dim ``dims[i]``, as ``torch.permute``."""
    dims = _shape_arg(dims)
    nd = a._data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    axes = tuple(normalize_dim(d, nd, "permute") for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError(f"permute(): duplicate dims are not allowed, got {list(dims)}")
    return Permute.apply(a, axes=axes)


def transpose(a, dim0, dim1):
    """Dims ``dim0`` and ``dim1`` swapped (``swapaxes`` is the same op), as ``torch.transpose``."""
    nd = a._data.ndim
    if nd == 0:
        return _alias_or_view(a)
    d0, d1 = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    axes = list(range(nd))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return label(Permute.apply(a, axes=tuple(axes)), "TransposeBackward0", a)


swapaxes = transpose


def t(a):
    """The transpose of a tensor with at most 2 dims (0-d and 1-d come back as they are)."""
    if a._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a._data.ndim}D")
    return label(transpose(a, 0, 1) if a._data.ndim == 2 else _alias_or_view(a), "TBackward0", a)


def movedim(a, source, destination):
    """Dims at ``source`` moved to ``destination`` (ints or sequences), the others kept in order."""
    nd = a._data.ndim
    src = [normalize_dim(s, nd, "movedim") for s in ((source,) if isinstance(source, int) else source)]
    dst = [
        normalize_dim(d, nd, "movedim")
        for d in ((destination,) if isinstance(destination, int) else destination)
    ]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(a, axes=tuple(order))


def expand(a, *sizes):
    """``a`` broadcast to ``sizes`` (-1 keeps a dim; only size-1 dims grow; new dims go in front)."""
    sizes = _shape_arg(sizes)
    shape = a._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        cur = shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(shape)}"
            )
        target.append(s)
    target = tuple(target)
    if target == shape:
        return _alias_or_view(a)
    return Expand.apply(a, shape=target)


def broadcast_to(a, shape):
    """``a`` broadcast to ``shape``, as ``torch.broadcast_to`` (``expand`` with a shape)."""
    return expand(a, *shape)


def broadcast_tensors(*tensors):
    """A tuple of the tensors, each expanded to their common broadcast shape."""
    shape = np.broadcast_shapes(*[t._data.shape for t in tensors])
    return tuple(expand(t, *shape) for t in tensors)


def repeat(a, *reps):
    """``a`` tiled ``reps[i]`` times along each dim (``len(reps) >= a.dim()``), as ``Tensor.repeat``."""
    reps = _shape_arg(reps)
    if len(reps) < a._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    return Repeat.apply(a, reps=reps)


def tile(a, *reps):
    """``a`` tiled ``reps[i]`` times along each dim; short ``reps`` are padded with 1s in front."""
    reps = _shape_arg(reps)
    reps = (1,) * (a._data.ndim - len(reps)) + reps
    return Repeat.apply(a, reps=reps)


@autocast_op("cat")
def cat(tensors, dim=0):
    """Join tensors along an existing dim (shapes must match elsewhere; dtypes are promoted)."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    # PyTorch skips 1-D empty tensors in cat (legacy behaviour kept for compatibility).
    tensors = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = tensors[0]
    nd = ref._data.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = normalize_dim(dim, nd, "cat")
    from .. import dtypes

    rt = dtypes.result_type(*tensors) if len({t._data.dtype for t in tensors}) > 1 else ref._data.dtype
    dev = device_of(ref._data)
    for i, x in enumerate(tensors):
        if x._data.ndim != nd:
            raise RuntimeError(
                f"cat(): Tensors must have same number of dimensions: got {nd} and "
                f"{x._data.ndim} (tensor {i})"
            )
        for d in range(nd):
            if d != axis and x._data.shape[d] != ref._data.shape[d]:
                raise RuntimeError(
                    f"cat(): Sizes of tensors must match except in dimension {axis}. Expected "
                    f"size {ref._data.shape[d]} but got size {x._data.shape[d]} for tensor number "
                    f"{i} in the list."
                )
        if device_of(x._data) != dev:
            raise RuntimeError(
                f"cat(): all tensors must be on the same device, got {dev} and {device_of(x._data)}"
            )
    tensors = [x if x._data.dtype == rt else x.to(rt) for x in tensors]
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


@autocast_op("stack")
@presents_as("StackBackward0", "tensors")
def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                f"{list(x._data.shape)} at entry {i}"
            )
    dim = normalize_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(x, dim) for x in tensors], dim)


def hstack(tensors):
    """Tensors joined column-wise: along dim 0 for 1-d inputs, else dim 1, as ``torch.hstack``."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """Tensors joined row-wise along dim 0, 1-d inputs taken as rows ``(1, N)``, as ``torch.vstack``."""
    return cat([x if x._data.ndim > 1 else reshape(x, 1, -1) for x in tensors], 0)


def narrow(a, dim, start, length):
    """The slice ``start:start + length`` of dim ``dim`` (negative ``start`` counts from the end)."""
    dim = normalize_dim(dim, a._data.ndim, "narrow")
    size = a._data.shape[dim]
    if start < 0:
        start += size
    if start < 0 or length < 0 or start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}).")
    index = (slice(None),) * dim + (slice(start, start + length),)
    return Slice.apply(a, index=index)


@presents_as("SplitBackward0", "a", each=True)
def split(a, split_size_or_sections, dim=0):
    """Pieces of ``a`` along ``dim``: equal chunks of a given size, or the listed sizes."""
    dim = normalize_dim(dim, a._data.ndim, "split")
    size = a._data.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size "
                f"at dimension {dim}), but got split_sizes={sizes}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(narrow(a, dim, start, s))
        start += s
    return tuple(out)


@presents_as("SplitBackward0", "a", each=True)
def chunk(a, chunks, dim=0):
    """A tuple of at most ``chunks`` pieces along ``dim``, each ``ceil(size / chunks)`` long but the last."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    dim = normalize_dim(dim, a._data.ndim, "chunk")
    size = a._data.shape[dim]
    step = -(-size // chunks) if size else 1
    return split(a, step, dim)


def unbind(a, dim=0):
    """A tuple of the slices along ``dim``, each with that dim removed."""
    dim = normalize_dim(dim, a._data.ndim, "unbind")
    return tuple(squeeze(p, dim) for p in split(a, 1, dim))


def flip(a, *dims):
    """The elements in reverse order along each of ``dims``."""
    dims = _shape_arg(dims)
    return Flip.apply(a, axes=normalize_dims(dims, a._data.ndim, "flip"))


def fliplr(a):
    """The columns (dim 1) in reverse order; needs at least 2 dims."""
    return flip(a, 1)


def flipud(a):
    """The rows (dim 0) in reverse order."""
    return flip(a, 0)


def roll(a, shifts, dims=None):
    """Elements shifted by ``shifts`` along ``dims``, wrapping around (``dims=None``: the flat tensor)."""
    if dims is None:
        flat = reshape(a, -1)
        return reshape(
            Roll.apply(flat, shifts=shifts if isinstance(shifts, int) else tuple(shifts), axes=0),
            *a._data.shape,
        )
    if isinstance(dims, int):
        dims = (dims,)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    axes = tuple(normalize_dim(d, a._data.ndim, "roll") for d in dims)
    return Roll.apply(a, shifts=tuple(shifts), axes=axes)


def clone(a, memory_format=None):
    """A copy of ``a`` with its own data (layout: ``memory_format``, default ``a``'s own); grads flow back.

    ``preserve_format`` (the default) keeps ``a``'s layout, e.g. channels-last."""
    if memory_format is None and a._data.flags.c_contiguous:
        return Clone.apply(a)
    return Clone.apply(a, fmt=preserve_format if memory_format is None else check_format(memory_format))


def contiguous(a, memory_format=None):
    """``a`` itself when already laid out as ``memory_format`` (default row-major), else a copy laid out so.

    ``memory_format`` is ``contiguous_format``, ``channels_last`` or ``channels_last_3d``."""
    if memory_format is None or memory_format is contiguous_format:
        return a if a._data.flags.c_contiguous else Clone.apply(a)
    if memory_format is preserve_format:
        if a._data.flags.c_contiguous:
            return a
        raise RuntimeError("contiguous: preserve memory format is unsupported by the contiguous operator")
    return a if is_in_format(a._data, memory_format) else Clone.apply(a, fmt=memory_format)


def _pad_name(input, pad, mode="constant", value=None):
    """PyTorch's op name for a pad call (autocast lists reflection/replication pads, not the others)."""
    kind = {"reflect": "reflection_pad", "replicate": "replication_pad"}.get(mode)
    return f"{kind}{len(pad) // 2}d" if kind else "constant_pad_nd"


def _pad_node_name(args, kwargs):
    mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
    n = len(args[1] if len(args) > 1 else kwargs["pad"]) // 2
    kinds = {"reflect": "Reflection", "replicate": "Replication"}
    return f"{kinds[mode]}Pad{n}DBackward0" if mode in kinds else None


@autocast_op(_pad_name)
@presents_as(_pad_node_name, "input")
def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad)//2`` dims of ``input``: ``pad = (left, right, top, bottom, ...)`` from the
    last dim backwards; modes 'constant', 'reflect', 'replicate', 'circular'."""
    a = input  # torch's parameter name, so F.pad(input=x, pad=...) works
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    nd = a._data.ndim
    k = len(pad) // 2
    if k > nd:
        raise ValueError(f"pad: padding length {len(pad)} is too large for a {nd}-D input")
    widths = [(0, 0)] * (nd - k) + [(pad[2 * (k - 1 - i)], pad[2 * (k - 1 - i) + 1]) for i in range(k)]
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, a._data.shape))
            a = a[crop]
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return PadConstant.apply(a, widths=tuple(widths), value=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    # Non-constant modes gather from the input with computed indices, so the gradient is a scatter-add.
    from .indexing import index_select

    xp = array_module(a._data)
    out = a
    for axis, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = a._data.shape[axis]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"pad: padding size should be less than the corresponding input dimension, but got "
                f"padding ({lo}, {hi}) at dimension {axis} of input {list(a._data.shape)}"
            )
        idx = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            idx = np.abs(idx) % period
            idx = np.where(idx >= n, period - idx, idx)
        elif mode == "replicate":
            idx = np.clip(idx, 0, n - 1)
        else:
            if lo > n or hi > n:
                raise RuntimeError(
                    "pad: padding value causes wrapping around more than once in circular mode"
                )
            idx = idx % n
        out = index_select(out, axis, Tensor._wrap(xp.asarray(idx)))
    return out
