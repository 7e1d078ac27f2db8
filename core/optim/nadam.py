"""NAdam (Dozat, 2016, "Incorporating Nesterov Momentum into Adam"), as ``torch.optim.NAdam``, with the
momentum-decay schedule and optional decoupled weight decay (Loshchilov & Hutter, 2019)."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum under a warming-up momentum schedule.

    Per step ``t``: ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``, the running product
    ``P *= mu_t``; the moments as Adam; then with ``denom = sqrt(v / (1 - beta2**t)) + eps``:
    ``p -= lr * (1 - mu_t) / (1 - P) * g / denom + lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / denom``.
    The product ``P`` is kept as the state ``mu_product`` (a 0-d tensor of the scalar dtype, as PyTorch).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the averages of the gradient and of its square (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: weight decay (default 0).
        momentum_decay: momentum decay ``psi`` of the schedule (default 4e-3).
        decoupled_weight_decay: scale ``p`` by ``1 - lr * weight_decay`` instead of adding an L2 gradient
            (NAdamW; default False).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        F.check_number("learning rate", lr)
        F.check_number("epsilon value", eps)
        F.check_betas(betas)
        F.check_number("weight_decay value", weight_decay)
        F.check_number("momentum_decay value", momentum_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        beta1, beta2 = (F.as_float(b) for b in group["betas"])
        weight_decay = F.as_float(group["weight_decay"])
        psi = group["momentum_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["mu_product"] = F.new_scalar(1.0)
                state["exp_avg"] = F.zeros_like(p)
                state["exp_avg_sq"] = F.zeros_like(p)
            step = F.advance(state["step"])
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
            mu_product = F.scale_scalar(state["mu_product"], mu)  # rounded to the state's dtype, as torch
            _nadam(F.writable(p), F.grad_of(p), state["exp_avg"]._data, state["exp_avg_sq"]._data,
                   lr=lr, beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=weight_decay,
                   decoupled=group["decoupled_weight_decay"], maximize=group["maximize"],
                   bias_correction2=1 - beta2**step,
                   grad_coef=-lr * (1.0 - mu) / (1.0 - mu_product),
                   avg_coef=(-lr * mu_next) / (1.0 - mu_product * mu_next))
            bump_version(p)


def _nadam(param, grad, exp_avg, exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled, maximize,
           bias_correction2, grad_coef, avg_coef):
    """One NAdam update in place; ``grad_coef`` and ``avg_coef`` are the step's signed coefficients."""
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
    denom = xp.sqrt(exp_avg_sq / bias_correction2)
    denom += eps
    for value, coef in ((grad, grad_coef), (exp_avg, avg_coef)):
        update = value * coef  # PyTorch's addcdiv order: (coef * x) / denom
        update /= denom
        param += update
