"""Adadelta (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method"), as ``torch.optim.Adadelta``."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS values of past updates and of gradients.

    Per step: ``v = rho * v + (1 - rho) * g * g``, ``delta = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho * u + (1 - rho) * delta * delta``, ``p -= lr * delta``.

    Args:
        params: tensors or parameter groups to optimize.
        lr: coefficient that scales delta before it is applied (default 1.0).
        rho: decay rate of the running averages (default 0.9).
        eps: added inside the square roots for stability (default 1e-6).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        F.check_number("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        F.check_number("epsilon value", eps)
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        weight_decay = F.as_float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["square_avg"] = F.zeros_like(p)
                state["acc_delta"] = F.zeros_like(p)
            F.advance(state["step"])
            _adadelta(F.writable(p), F.grad_of(p), state["square_avg"]._data, state["acc_delta"]._data,
                      lr=lr, rho=group["rho"], eps=group["eps"], weight_decay=weight_decay,
                      maximize=group["maximize"])
            bump_version(p)


def _adadelta(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta update of ``param`` and its two running averages, in place (numpy or cupy)."""
    xp = array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    square_avg *= rho
    F.addcmul(square_avg, grad, grad, 1 - rho)
    std = xp.sqrt(square_avg + eps)
    delta = xp.sqrt(acc_delta + eps)
    delta /= std
    delta *= grad
    acc_delta *= rho
    F.addcmul(acc_delta, delta, delta, 1 - rho)
    F.add_scaled(param, delta, -lr)
