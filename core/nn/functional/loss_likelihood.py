"""Likelihood losses, as in ``torch.nn.functional``: Poisson and Gaussian negative log-likelihoods."""
import math

from ...amp_state import autocast_op
from ...ops import elementwise as ew
from .loss import _check_reduction, _legacy_reduction, _reduce

__all__ = ["poisson_nll_loss", "gaussian_nll_loss"]


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """``exp(input) - target * input`` (``log_input``) or ``input - target * log(input + eps)``; ``full``
    adds Stirling's approximation of ``log(target!)`` where target > 1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = ew.exp(input) - target * input
    else:
        loss = input - target * ew.log(input + eps)
    if full:
        safe = ew.where(target > 1, target, 1.0)
        stirling = safe * ew.log(safe) - safe + 0.5 * ew.log(2 * math.pi * safe)
        loss = loss + ew.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``0.5 * (log(var) + (input - target)^2 / var)`` (+ ``0.5 log(2 pi)`` when ``full``). ``var`` is
    shaped like ``input``, or lacks its last dim, or has 1 there (one variance per sample); it is clamped
    to ``eps`` for the value only, the gradient passing as if unclamped (as PyTorch)."""
    if not isinstance(var, type(input)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_ones(tuple(input.shape)) * float(var)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    var = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (ew.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
