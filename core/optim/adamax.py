"""Adamax (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", section 7), as
``torch.optim.Adamax``."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients in the denominator.

    Per step ``t``: ``m = lerp(m, g, 1 - beta1)``, ``u = max(beta2 * u, |g| + eps)``,
    ``p -= lr / (1 - beta1**t) * m / u``.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the gradient average and of the infinity norm (default (0.9, 0.999)).
        eps: added to ``|g|`` for stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        F.check_number("learning rate", lr)
        F.check_number("epsilon value", eps)
        F.check_betas(betas)
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        beta1, beta2 = (F.as_float(b) for b in group["betas"])
        weight_decay = F.as_float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["exp_avg"] = F.zeros_like(p)
                state["exp_inf"] = F.zeros_like(p)
            step = F.advance(state["step"])
            _adamax(F.writable(p), F.grad_of(p), state["exp_avg"]._data, state["exp_inf"]._data,
                    beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=weight_decay,
                    maximize=group["maximize"], clr=lr / (1 - beta1**step))
            bump_version(p)


def _adamax(param, grad, exp_avg, exp_inf, *, beta1, beta2, eps, weight_decay, maximize, clr):
    """One Adamax update in place, at the bias-corrected learning rate ``clr``."""
    xp = array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    F.lerp(exp_avg, grad, 1 - beta1)
    exp_inf *= beta2
    bound = xp.abs(grad)
    bound += eps
    xp.maximum(exp_inf, bound, out=exp_inf)
    update = exp_avg * -clr  # PyTorch's addcdiv order: (value * m) / u
    update /= exp_inf
    param += update
