"""Loss functions, as in ``torch.nn.functional``, composed from Tensor primitives (log_softmax has a fused
backward; the rest need none of their own).

Shapes: classification losses take ``input (N, C)`` or ``(N, C, d1, ...)`` (or ``(C,)`` unbatched) and
``target`` as class indices ``(N, d1, ...)`` or, for ``cross_entropy``, probabilities shaped like ``input``.
Regression losses take matching ``input`` and ``target`` of any shape.
"""
import math
import warnings

import numpy as np

from ...amp_state import autocast_op
from ...autograd.node_names import presents_as
from ...backend import array_module
from ...ops import activation as _act
from ...ops import elementwise as _ew
from ...ops import loss as _loss_ops
from ...ops import reduce as _red
from ...tensor import Tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce, reduction):
    """The ``reduction`` string, honouring the deprecated ``size_average``/``reduce`` flags."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction (expected one of "
                         f"{', '.join(allowed)})")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(x, what, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): {what} must be a visionlite Tensor, not {type(x).__name__}")


# --------------------------------------------------------------------------------- classification
def _class_targets(input, target, weight, ignore_index, fn):
    """Validate index targets; returns (class count, raw bool mask of counted targets, raw safe targets)."""
    if input.ndim == 0:
        raise ValueError(f"{fn}(): input must have at least 1 dimension (the classes), got a 0-d tensor")
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    expected = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim > 1 else ()
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}(): target must hold class indices as an integer (int64) tensor, got "
                           f"{target.dtype}; for class probabilities use cross_entropy with a float target "
                           f"shaped like input {list(input.shape)}")
    if tuple(target.shape) != expected:
        raise ValueError(f"{fn}(): expected target of shape {list(expected)} for input of shape "
                         f"{list(input.shape)}, got {list(target.shape)}")
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise RuntimeError(f"{fn}(): weight must have one entry per class, shape [{n_classes}], got "
                           f"{list(weight.shape)}")
    t = target._data
    xp = array_module(t)
    counted = t != ignore_index
    if t.size:
        bad = counted & ((t < 0) | (t >= n_classes))
        if bool(bad.any()):
            value = int(t[bad].reshape(-1)[0])
            raise IndexError(f"{fn}(): Target {value} is out of bounds: class indices must be in "
                             f"[0, {n_classes - 1}] for {n_classes} classes (or equal "
                             f"ignore_index={ignore_index})")
    safe = xp.where(counted, t, 0).astype(np.int64, copy=False)
    return n_classes, counted, safe


def _pick(logp, safe):
    """logp[n, target[n, ...], ...] for each position: ``(N, d1, ...)``."""
    if logp.ndim == 1:
        return logp.gather(0, Tensor._wrap(safe.reshape(1))).reshape(())
    return logp.gather(1, Tensor._wrap(safe[:, None])).squeeze(1)


def _target_weights(weight, counted, safe, dtype):
    """Per-position weights: weight[target] (1 without weight), 0 where the target is ignored."""
    w = counted.astype(dtype) if weight is None else weight._data[safe] * counted
    return Tensor._wrap(w.astype(dtype, copy=False))


@autocast_op("nll_loss")
@presents_as("NllLossBackward0", "input")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log likelihood of log-probabilities ``input (N, C, ...)`` at class indices
    ``target (N, ...)``.

    ``weight (C,)`` rescales classes; ``ignore_index`` targets count for nothing. ``'mean'`` divides by the
    summed weights of the counted targets (NaN when none is counted, as in PyTorch).
    """
    _check_tensor(input, "input", "nll_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _, counted, safe = _class_targets(input, target, weight, ignore_index, "nll_loss")
    w = _target_weights(weight, counted, safe, input._data.dtype)
    loss = -_pick(input, safe) * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore"):  # every target ignored: 0 / 0 = NaN, as in PyTorch
        return loss.sum() / w.sum()


@autocast_op("cross_entropy_loss")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``input (N, C, ...)`` against class indices ``(N, ...)`` or class
    probabilities shaped like ``input``; ``label_smoothing`` mixes the target with the uniform distribution.
    """
    _check_tensor(input, "input", "cross_entropy")
    _check_tensor(target, "target", "cross_entropy")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("cross_entropy(): label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy(): input must have at least 1 dimension (the classes), got a 0-d "
                         "tensor")
    class_dim = 1 if input.ndim > 1 else 0
    logp = _red.log_softmax(input, class_dim)
    if target.is_floating_point():
        # PyTorch refuses only non-negative indices here, so the default -100 (and any negative) passes.
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target: a float target "
                               "holds class probabilities; pass class indices (int64) to ignore a class, "
                               "or leave ignore_index at its default")
        return _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    n_classes, counted, safe = _class_targets(input, target, weight, ignore_index, "cross_entropy")
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = n_classes
        smooth = -(logp * weight.reshape(*shape)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth * Tensor._wrap(counted.astype(input._data.dtype))
    if reduction == "mean":
        denom = _target_weights(weight, counted, safe, input._data.dtype).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim):
    if tuple(target.shape) != tuple(logp.shape):
        raise ValueError("cross_entropy(): a float target holds class probabilities and must have the "
                         f"input's shape {list(logp.shape)}, got {list(target.shape)}; class indices must "
                         "be int64")
    n_classes = logp.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        if tuple(weight.shape) != (n_classes,):
            raise RuntimeError(f"cross_entropy(): weight must have shape [{n_classes}], got "
                               f"{list(weight.shape)}")
        shape = [1] * logp.ndim
        shape[class_dim] = n_classes
        prod = prod * weight.reshape(*shape)
    loss = -prod.sum(class_dim)
    if reduction == "mean":
        # Averaged over positions, whatever the class weights (PyTorch's convention for soft targets).
        return loss.sum() / (logp.numel() // n_classes if n_classes else 1)
    return _reduce(loss, reduction)


@autocast_op("binary_cross_entropy")
@presents_as("BinaryCrossEntropyBackward0", "input", "target")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w * (t log(x) + (1 - t) log(1 - x)) for probabilities ``input`` in [0, 1]; logs clamped at -100."""
    _check_tensor(input, "input", "binary_cross_entropy")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")
    x = input._data
    if x.size and bool(((x < 0) | (x > 1)).any()):
        raise RuntimeError("binary_cross_entropy(): all elements of input should be between 0 and 1 (apply "
                           "sigmoid first, or use binary_cross_entropy_with_logits on the logits)")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    loss = _loss_ops.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op("binary_cross_entropy_with_logits")
@presents_as("BinaryCrossEntropyWithLogitsBackward0", "input", "target")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target) computed stably from the logits; ``pos_weight``
    (broadcast over the last dim, one per class) weighs the positive term."""
    _check_tensor(input, "input", "binary_cross_entropy_with_logits")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({list(target.shape)}) must be the same as input size "
                         f"({list(input.shape)})")
    # -log(sigmoid(-x)) = softplus(x), whose primitive is exact for any x (no threshold).
    softplus_neg = _act.softplus(-input, 1.0, math.inf)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@autocast_op("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: ``target * (log(target) - input)`` for log-probabilities
    ``input``; ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence)."""
    _check_tensor(input, "input", "kl_div")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math "
                      "definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if log_target:
        loss = _ew.exp(target) * (target - input)
    else:
        # 0 * log(0) is 0 here; the 'safe' target keeps log's gradient finite where target == 0.
        positive = target > 0
        safe = _ew.where(positive, target, 1.0)
        loss = target * _ew.log(safe) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------- regression
def _regression_operands(input, target, fn):
    _check_tensor(input, "input", fn)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({list(target.shape)}) that is different to the input size "
                      f"({list(input.shape)}). This will likely lead to incorrect results due to "
                      "broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)
    return input, target


def _weighted(loss, weight, input, reduction, mean_by_weight):
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


@autocast_op("mse_loss")
@presents_as("MseLossBackward0", "input", "target")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2, reduced; ``weight`` (input's shape) makes 'mean' a weighted mean."""
    input, target = _regression_operands(input, target, "mse_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    d = input - target
    return _weighted(d * d, weight, input, reduction, True)


@autocast_op("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``|input - target|``, reduced (gradient 0 where they are equal)."""
    input, target = _regression_operands(input, target, "l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _weighted(_ew.abs(input - target), weight, input, reduction, True)


@autocast_op("smooth_l1_loss")
@presents_as("SmoothL1LossBackward0", "input", "target")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``); beta=0 is
    l1_loss."""
    input, target = _regression_operands(input, target, "smooth_l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    ad = _ew.abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    loss = _ew.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


@autocast_op("huber_loss")
@presents_as("HuberLossBackward0", "input", "target")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (``d = input - target``)."""
    input, target = _regression_operands(input, target, "huber_loss")
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - target
    ad = _ew.abs(d)
    loss = _ew.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted(loss, weight, input, reduction, False)
