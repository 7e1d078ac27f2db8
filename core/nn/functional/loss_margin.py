"""Margin, ranking and embedding losses, as in ``torch.nn.functional``: hinge-type losses over scores
(``margin_ranking``, ``hinge_embedding``, ``soft_margin``, ``multi_margin``, ``multilabel_margin``,
``multilabel_soft_margin``) and over embeddings (``cosine_embedding``, ``triplet_margin``,
``triplet_margin_with_distance``). Composites of Tensor ops; their gradients come from those, and
PyTorch's formulas (its ``Loss.cpp``) are followed term by term, epsilons included."""
import numpy as np

from ...amp_state import autocast_op
from ...ops import elementwise as ew
from ...tensor import Tensor
from .activation import logsigmoid
from .distance import pairwise_distance
from .loss import _check_reduction, _legacy_reduction, _reduce

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "multi_margin_loss", "multilabel_margin_loss"]


def _red(loss, size_average, reduce, reduction):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(loss, reduction)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """``max(0, -target * (input1 - input2) + margin)``; target is 1 or -1, shapes broadcast."""
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got "
                           f"sizes: input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
                           f"{tuple(target.shape)} ")
    return _red((-target * (input1 - input2) + margin).clamp(min=0), size_average, reduce, reduction)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``input`` where target is 1, ``max(0, margin - input)`` where it is -1."""
    hinge = ew.where(target != 1, (margin - input).clamp(min=0), 0.0)
    own = ew.where(target != -1, input, 0.0)
    return _red(hinge + own, size_average, reduce, reduction)


@autocast_op("soft_margin_loss")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-target * input))`` elementwise (target 1 or -1)."""
    return _red(-logsigmoid(target * input), size_average, reduce, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per-sample mean over the C classes of the binary logistic loss; ``input, target (N, C)``."""
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1]
    return _red(loss, size_average, reduce, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for -1; ``(N, D)`` or ``(D,)``."""
    if input1.ndim not in (1, 2) or input1.ndim != input2.ndim or target.ndim != input1.ndim - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of the same dims and a target "
                           f"with one dim less, got {tuple(input1.shape)}, {tuple(input2.shape)}, "
                           f"{tuple(target.shape)}")
    d = input1.ndim - 1
    eps = 1e-12  # PyTorch's EPSILON on each squared magnitude
    prod = (input1 * input2).sum(d)
    mag = ((input1 * input1).sum(d) + eps) * ((input2 * input2).sum(d) + eps)
    cos = prod / mag.sqrt()
    loss = ew.where(target == 1, 1 - cos, 0.0) + ew.where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _red(loss, size_average, reduce, reduction)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """``max(0, d(a, p) - d(a, n) + margin)`` with the p-norm ``pairwise_distance``; ``swap`` also uses
    ``d(p, n)`` when that is smaller."""
    for x, name in ((positive, "positive"), (negative, "negative")):
        if x.ndim != anchor.ndim:
            raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same "
                               f"number of dimensions, but got: anchor {anchor.ndim}D, {name} {x.ndim}D")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _red((margin + d_pos - d_neg).clamp(min=0), size_average, reduce, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """Triplet loss with any ``distance_function(x, y) -> (N,)`` (default ``pairwise_distance``)."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                         "instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = ew.minimum(d_neg, dist(positive, negative))
    return _red((margin + d_pos - d_neg).clamp(min=0), None, None, reduction)


def _targets_np(target):
    return np.asarray(target.detach().cpu().numpy(), dtype=np.int64)


@autocast_op("multi_margin_loss")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge: ``sum_{j != y} max(0, margin - x[y] + x[j])^p / C`` (times ``weight[y]``);
    ``input (N, C)`` or ``(C,)``, ``target (N,)`` or ``()``."""
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = _targets_np(target).reshape(-1)
    n, c = x.shape
    if y.size != n or (y.size and (y.min() < 0 or y.max() >= c)):
        raise RuntimeError(f"multi_margin_loss: target {tuple(target.shape)} must hold {n} class indices in "
                           f"[0, {c})")
    rows = Tensor._wrap(np.arange(n)).to(input.device)
    cols = Tensor._wrap(y).to(input.device)
    picked = x[rows, cols].unsqueeze(1)
    z = (margin - picked + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[cols].unsqueeze(1)
    not_target = np.ones((n, c), dtype=bool)
    not_target[np.arange(n), y] = False
    loss = ew.where(Tensor._wrap(not_target).to(input.device), z, 0.0).sum(1) / c
    if input.ndim != 2:
        loss = loss.reshape(())
    return _red(loss, size_average, reduce, reduction)


@autocast_op("multilabel_margin_loss")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge: ``target (N, C)`` lists class indices, ended by the first -1; each listed class j
    and each unlisted i add ``max(0, 1 - (x[j] - x[i])) / C``."""
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = _targets_np(target).reshape(x.shape)
    n, c = x.shape
    count = np.zeros((n, c), dtype=np.float64)  # how often class j is listed (PyTorch counts repeats)
    for row in range(n):
        for j in t[row]:
            if j < 0:
                break
            if j >= c:
                raise RuntimeError(f"multilabel_margin_loss: target index {j} out of range for {c} classes")
            count[row, j] += 1
    others = (count == 0).astype(np.float64)
    pair = Tensor._wrap((count[:, :, None] * others[:, None, :]).astype(x._data.dtype)).to(input.device)
    hinge = (1 - (x.unsqueeze(2) - x.unsqueeze(1))).clamp(min=0)  # [n, j, i]
    loss = (hinge * pair).sum((1, 2)) / c
    if input.ndim != 2:
        loss = loss.reshape(())
    return _red(loss, size_average, reduce, reduction)
