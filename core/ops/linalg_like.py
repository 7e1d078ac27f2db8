"""Shape and small linear-algebra helpers: meshgrid, cartesian_prod, diag, diag_embed, rot90, diff, kron,
trace, tensordot, take, cdist.

All but ``cdist`` are composites of movement, indexing and elementwise ops, so their gradients come from
those. ``cdist`` is a primitive: PyTorch defines its gradient as zero where a distance is zero and, for
p = inf, gives every tied coordinate the full gradient, which a composite of norms cannot reproduce.
"""

import math

import numpy as np

from .. import dtypes
from ..amp_state import autocast_op
from ..autograd.function import Op
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from ._util import normalize_dim
from .extra import diagonal as _diagonal
from .matmul import matmul
from .movement import cat, flip, movedim, pad, reshape, stack, transpose


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors of sizes ``n0, n1, ...``: each output has shape ``(n0, n1, ...)``
    for ``indexing='ij'`` (the default) or ``(n1, n0, ...)`` for ``'xy'`` (Cartesian, as numpy)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t._data.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, but tensor {i} is {t._data.ndim}-D")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(
                "meshgrid expects all tensors to have the same dtype; convert them with .to(dtype)"
            )
        if t.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to be on the same device")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        axes[0], axes[1] = 1, 0  # x varies along columns, y along rows
    shape = [0] * len(tensors)
    for ax, n in zip(axes, sizes):
        shape[ax] = n
    out = []
    for t, ax, n in zip(tensors, axes, sizes):
        view = [1] * len(tensors)
        view[ax] = n
        out.append(reshape(t, *view).expand(*shape))
    return tuple(out)


def cartesian_prod(*tensors):
    """All combinations of the elements of 1-D tensors, as rows of an ``(N, len(tensors))`` tensor."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def _zero_of(a):
    return Tensor._wrap(array_module(a._data).zeros((), dtype=a._data.dtype))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Tensor whose (dim1, dim2) planes have the last dim of ``input`` on their ``offset`` diagonal.

    input ``(*, n)`` -> output with one more dim, the planes being ``(n + |offset|, n + |offset|)``.
    """
    nd = input._data.ndim + 1
    d1 = normalize_dim(dim1, nd, "diag_embed")
    d2 = normalize_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input.unsqueeze(-1) if input._data.ndim else input.reshape(1, 1)
    n = x.shape[-2]
    eye = Tensor._wrap(array_module(input._data).eye(n, dtype=bool))
    square = ew.Where.apply(eye, x, _zero_of(input))  # (*, n, n) with the values on the main diagonal
    k = abs(offset)
    if k:
        square = pad(square, (k, 0, 0, k) if offset > 0 else (0, k, k, 0))
    return movedim(square, (nd - 2, nd - 1), (d1, d2))


def diag(input, diagonal=0):
    """1-D input -> the square matrix with it on the ``diagonal``; 2-D input -> that diagonal (1-D)."""
    if input._data.ndim == 1:
        return diag_embed(input, diagonal)
    if input._data.ndim == 2:
        return _diagonal(input, diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane ``dims``, from the first axis towards the second."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = (normalize_dim(d, nd, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(
            f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (bool tensors: ``!=`` of neighbours), after joining
    ``prepend`` and ``append`` (tensors of the same number of dims) to ``input`` along ``dim``."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n}")
    axis = normalize_dim(dim, input._data.ndim, "diff")
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if not isinstance(extra, Tensor) or extra._data.ndim != input._data.ndim:
            raise RuntimeError(
                "diff expects prepend or append to be the same dimension as input; reshape it to "
                f"{input._data.ndim} dims"
            )
        parts.append(extra)
    x = cat(parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[axis]
        if m == 0:
            break
        hi, lo = x.narrow(axis, 1, m - 1), x.narrow(axis, 0, m - 1)
        x = (hi != lo) if x._data.dtype == np.bool_ else hi - lo
    return x if n else x.clone()


def kron(input, other):
    """Kronecker product: shapes ``(a0, a1, ...)`` and ``(b0, b1, ...)`` give ``(a0*b0, a1*b1, ...)``."""
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + tuple(input._data.shape)
    sb = (1,) * (nd - other._data.ndim) + tuple(other._data.shape)
    a = reshape(input, *[s for n in sa for s in (n, 1)])  # interleave: (a0, 1, a1, 1, ...)
    b = reshape(other, *[s for n in sb for s in (1, n)])  # (1, b0, 1, b1, ...)
    return reshape(a * b, *[x * y for x, y in zip(sa, sb)])


@autocast_op("trace")
def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integer inputs sum to int64)."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return _diagonal(input).sum()


@autocast_op("tensordot")
def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` axes: an int (last ``dims`` of ``a`` with first ``dims`` of ``b``) or a pair of
    lists ``(dims_a, dims_b)``. The result has ``a``'s free dims followed by ``b``'s."""
    if out is not None:
        raise NotImplementedError("tensordot: out= is not supported; assign the result instead")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a._data.ndim, b._data.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a._data.ndim - dims, a._data.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got {da} and {db}")
    da = [normalize_dim(d, a._data.ndim, "tensordot") for d in da]
    db = [normalize_dim(d, b._data.ndim, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a._data.shape[x] != b._data.shape[y]:
            raise RuntimeError(
                f"tensordot: contracted dimensions need to match, but first has size {a._data.shape[x]} "
                f"in dim {x} and second has size {b._data.shape[y]} in dim {y}"
            )
    free_a = [d for d in range(a._data.ndim) if d not in da]
    free_b = [d for d in range(b._data.ndim) if d not in db]
    size_a = [a._data.shape[d] for d in free_a]
    size_b = [b._data.shape[d] for d in free_b]
    k = math.prod(a._data.shape[d] for d in da)
    left = reshape(a.permute(*free_a, *da), math.prod(size_a), k)
    right = reshape(b.permute(*db, *free_b), k, math.prod(size_b))
    return reshape(matmul(left, right), *size_a, *size_b)


def take(input, index):
    """Elements of ``input`` read as 1-D at ``index`` (an integer tensor; the result has its shape)."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index; convert it with .long()")
    n = input.numel()
    idx = index._data
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"take(): out of range: tried to access index {bad} on a tensor of {n} elements.")
    return reshape(input, -1)[index]


class Cdist(Op):
    """Pairwise p-norm distances between the rows of ``x1 (*, P, M)`` and ``x2 (*, R, M)``."""

    saves_output = True

    def forward(self, x1, x2, p=2.0, use_mm=False):
        xp = array_module(x1)
        self.p = p
        if self.recording:
            self.save(*self.inputs)
        if p == 2 and use_mm:
            # |x|^2 + |y|^2 - 2 x.y: one matrix product instead of a (P, R, M) difference tensor.
            n1 = (x1 * x1).sum(-1)[..., :, None]
            n2 = (x2 * x2).sum(-1)[..., None, :]
            d2 = n1 + n2 - 2 * xp.matmul(x1, xp.swapaxes(x2, -1, -2))
            return xp.sqrt(xp.maximum(d2, 0)).astype(x1.dtype, copy=False)
        diff = xp.abs(x1[..., :, None, :] - x2[..., None, :, :])
        if diff.shape[-1] == 0:
            out = xp.zeros(diff.shape[:-1], dtype=x1.dtype)
        elif p == 0:
            out = (diff != 0).sum(-1)
        elif p == 1:
            out = diff.sum(-1)
        elif p == 2:
            out = xp.sqrt((diff * diff).sum(-1))
        elif p == math.inf:
            out = diff.max(-1)
        else:
            out = (diff**p).sum(-1) ** (1.0 / p)
        return out.astype(x1.dtype, copy=False)

    def backward(self, g):
        x1, x2 = self.saved_values()
        p = self.p
        if p == 0:
            return x1.new_zeros(x1.shape), x2.new_zeros(x2.shape)
        dist = self.output()
        zero = dist == 0
        if p == 2:
            ratio = ew.where(zero, 0.0, g / ew.where(zero, 1.0, dist))  # (*, P, R)
            g1 = x1 * ratio.sum(-1, keepdim=True) - ratio @ x2
            g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1
            return g1, g2
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (*, P, R, M)
        d, zd = dist.unsqueeze(-1), zero.unsqueeze(-1)
        if p == 1:
            term = ew.sign(diff)
        elif p == math.inf:
            term = ew.sign(diff) * (ew.abs(diff) == d)  # every coordinate reaching the max, as PyTorch
        else:
            ratio = ew.abs(diff) / ew.where(zd, 1.0, d)
            term = ew.where(diff == 0, 0.0, ew.sign(diff) * ratio ** (p - 1))
        gdiff = ew.where(zd, 0.0, g.unsqueeze(-1) * term)
        return gdiff.sum(-2), -gdiff.sum(-3)


_CDIST_MODES = (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
)


@autocast_op("cdist")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distance between each row of ``x1 (*, P, M)`` and each row of ``x2 (*, R, M)`` -> ``(*, P, R)``
    (batch dims broadcast). For p = 2 a matrix-product formula is used when P or R exceeds 25 (as PyTorch's
    default ``compute_mode``), which is faster but less exact for nearly equal rows."""
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D, X2 got: {x2._data.ndim}D"
        )
    if not dtypes.is_float(x1._data.dtype) or not dtypes.is_float(x2._data.dtype):
        raise RuntimeError(
            f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}, X2 got: {x2.dtype}; "
            "convert with .float()"
        )
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(
            "X1 and X2 must have the same number of columns. "
            f"X1: {x1._data.shape[-1]} X2: {x2._data.shape[-1]}"
        )
    if not p >= 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(
            f"cdist: {compute_mode!r} is not a valid value for compute_mode; use one of {_CDIST_MODES}"
        )
    if x1._data.dtype != x2._data.dtype:
        rt = dtypes.result_type(x1, x2)
        x1, x2 = x1.to(rt), x2.to(rt)
    big = x1._data.shape[-2] > 25 or x2._data.shape[-2] > 25
    use_mm = compute_mode == "use_mm_for_euclid_dist" or (compute_mode == _CDIST_MODES[0] and big)
    return Cdist.apply(x1, x2, p=float(p), use_mm=use_mm)
