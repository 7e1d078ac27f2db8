"""Rprop (Riedmiller & Braun, 1993, "A Direct Adaptive Method for Faster Backpropagation Learning: The
RPROP Algorithm"), as ``torch.optim.Rprop``."""
from ..autograd.versions import bump_version
from ..backend import array_module
from ..tensor import Tensor
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation: per-element step sizes that grow while the gradient keeps its sign and
    shrink when it flips; only the sign of the gradient is used.

    Per step: ``s = sign(g * g_prev)``; the step size is multiplied by ``etaplus`` where ``s > 0``, by
    ``etaminus`` where ``s < 0`` (and the gradient there is zeroed), and clamped to ``step_sizes``; then
    ``p -= sign(g) * step_size`` and ``g_prev = g``.

    Args:
        params: tensors or parameter groups to optimize.
        lr: initial step size (default 1e-2).
        etas: ``(etaminus, etaplus)`` factors (default (0.5, 1.2)).
        step_sizes: ``(min, max)`` allowed step sizes (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        F.check_number("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = F.grad_of(p)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["prev"] = F.zeros_like(p)
                state["step_size"] = Tensor._wrap(array_module(grad).full_like(grad, F.as_float(group["lr"])))
            F.advance(state["step"])
            _rprop(F.writable(p), grad, state["prev"]._data, state["step_size"]._data, etaminus=etaminus,
                   etaplus=etaplus, step_min=lo, step_max=hi, maximize=group["maximize"])
            bump_version(p)


def _rprop(param, grad, prev, step_size, *, etaminus, etaplus, step_min, step_max, maximize):
    """One Rprop update of ``param``, its step sizes and the remembered gradient ``prev``, in place."""
    xp = array_module(param)
    if maximize:
        grad = -grad
    agreement = grad * prev
    flipped = agreement < 0
    factor = xp.ones_like(step_size)
    factor[agreement > 0] = etaplus
    factor[flipped] = etaminus
    step_size *= factor
    xp.clip(step_size, step_min, step_max, out=step_size)
    grad = grad.copy()
    grad[flipped] = 0  # no step where the sign flipped, and no flip counted at the next step
    F.addcmul(param, xp.sign(grad), step_size, -1)
    prev[...] = grad
