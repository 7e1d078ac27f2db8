"""Vector norms and distances along a dim: ``normalize``, ``cosine_similarity``, ``pairwise_distance``.

All are composites of reduce/elementwise ops, so autograd (double backward included) comes for free.
"""
import numpy as np

from ...amp_state import autocast_op
from ...ops import elementwise as ew
from ...ops import reduce as red
from ...tensor import Tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pdist"]


def _check(x, name, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): {name} must be a Tensor, got {type(x).__name__}")


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``: unit vectors of any shape ``(*)``."""
    _check(input, "input", "normalize")
    if out is not None:
        raise NotImplementedError("normalize(): out= is not supported; use the returned tensor")
    denom = red.norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / denom


def _clamped_min(norm, eps):
    """``max(norm, eps)`` in value but with ``norm``'s gradient: PyTorch clamps its norms in place under
    no_grad, so a tiny vector still gets the unclamped gradient."""
    floor = norm.detach().clamp(min=eps)
    return norm + (floor - norm.detach())


@autocast_op("cosine_similarity")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` (broadcast together) along ``dim``; ``dim`` is
    removed from the result. Each norm is clamped to at least ``eps``."""
    _check(x1, "x1", "cosine_similarity")
    _check(x2, "x2", "cosine_similarity")
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"cosine_similarity(): x1 {list(x1.shape)} and x2 {list(x2.shape)} do not "
                           "broadcast together") from None
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    # Each vector is divided by its norm before the dot product, keeping the result within [-1, 1].
    n1 = _clamped_min(red.norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamped_min(red.norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim of the broadcast inputs: ``(N, D), (N, D) -> (N)``."""
    _check(x1, "x1", "pairwise_distance")
    _check(x2, "x2", "pairwise_distance")
    diff = ew.add(ew.sub(x1, x2), eps)
    if diff.ndim == 0:  # two scalars: PyTorch measures them as 1-vectors
        return red.norm(diff.reshape(1), p, 0, keepdim=False)
    return red.norm(diff, p, -1, keepdim=keepdim)


@autocast_op("pdist")
def pdist(input, p=2):
    """p-norm distances between the rows of ``input (N, M)``, each pair once (row i before row j):
    ``(N (N-1) / 2,)``."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    i, j = np.triu_indices(input.shape[0], 1)
    dev = input.device
    diff = input[Tensor._wrap(i.astype(np.int64)).to(dev)] - input[Tensor._wrap(j.astype(np.int64)).to(dev)]
    return diff.norm(p, 1)

