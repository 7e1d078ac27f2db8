"""RAdam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), as
``torch.optim.RAdam``, with optional decoupled weight decay."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is switched on, and rectified, once its variance is tractable.

    Per step ``t``: the moments as Adam, ``m_hat = m / (1 - beta1**t)``,
    ``rho_inf = 2 / (1 - beta2) - 1``, ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``. When
    ``rho_t > 5``: ``p -= m_hat * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t`` with the rectification
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``; otherwise
    ``p -= m_hat * lr`` (plain momentum SGD).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the averages of the gradient and of its square (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: weight decay (default 0).
        decoupled_weight_decay: scale ``p`` by ``1 - lr * weight_decay`` instead of adding an L2 gradient
            (RAdamW; default False).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        F.check_number("learning rate", lr)
        F.check_number("epsilon value", eps)
        F.check_betas(betas)
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
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
                state["exp_avg_sq"] = F.zeros_like(p)
            step = F.advance(state["step"])
            bias_correction2 = 1 - beta2**step
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
            rect = None
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            _radam(F.writable(p), F.grad_of(p), state["exp_avg"]._data, state["exp_avg_sq"]._data, lr=lr,
                   beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=weight_decay,
                   decoupled=group["decoupled_weight_decay"], maximize=group["maximize"],
                   bias_correction1=1 - beta1**step, bias_correction2=bias_correction2, rect=rect)
            bump_version(p)


def _radam(param, grad, exp_avg, exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize,
           bias_correction1, bias_correction2, rect):
    """One RAdam update in place; ``rect`` is the rectification term, None while ``rho_t <= 5``."""
    xp = array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + param * weight_decay
    F.lerp(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    F.addcmul(exp_avg_sq, grad, grad, 1 - beta2)
    update = exp_avg / bias_correction1
    update *= lr
    if rect is not None:
        adaptive = xp.sqrt(exp_avg_sq)
        adaptive += eps
        update *= bias_correction2**0.5 / adaptive
        update *= rect
    param -= update
