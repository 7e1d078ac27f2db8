"""Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization"), as ``torch.optim.Adam``, with
the AMSGrad variant and optional decoupled weight decay (which makes it AdamW)."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: per-parameter steps scaled by running averages of the gradient and its square.

    Per step ``t``: ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g * g``, then
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``; with ``amsgrad`` the running
    maximum of ``v`` replaces ``v`` in the denominator. Weight decay adds ``weight_decay * p`` to ``g``, or,
    when ``decoupled_weight_decay``, scales ``p`` by ``1 - lr * weight_decay`` first (AdamW).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the averages of the gradient and of its square (default (0.9, 0.999)).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: weight decay (default 0).
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly, as AdamW (default False).
        foreach, fused, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        F.check_number("learning rate", lr)
        F.check_number("epsilon value", eps)
        betas = tuple(F.as_float(b) for b in betas)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        beta1, beta2 = (F.as_float(b) for b in group["betas"])
        weight_decay = F.as_float(group["weight_decay"])
        amsgrad = group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["exp_avg"] = F.zeros_like(p)
                state["exp_avg_sq"] = F.zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = F.zeros_like(p)
            step = F.advance(state["step"])
            param, grad = F.writable(p), F.grad_of(p)
            moments = (state["exp_avg"]._data, state["exp_avg_sq"]._data,
                       F.buffer(state, "max_exp_avg_sq", p) if amsgrad else None)
            update = _adam_fused if F.fused(param, grad) else _adam_arrays
            update(param, grad, *moments, lr=lr, beta1=beta1, beta2=beta2, eps=group["eps"],
                   weight_decay=weight_decay, decoupled=group["decoupled_weight_decay"],
                   maximize=group["maximize"], step_size=lr / (1 - beta1**step),
                   bias_correction2_sqrt=(1 - beta2**step) ** 0.5)
            bump_version(p)


def _adam_arrays(param, grad, exp_avg, exp_avg_sq, max_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled,
                 maximize, step_size, bias_correction2_sqrt):
    """One Adam update of ``param`` and its moments, in place, with array operations."""
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
    xp = array_module(param)
    if max_sq is not None:
        xp.maximum(max_sq, exp_avg_sq, out=max_sq)
        denom = xp.sqrt(max_sq)
    else:
        denom = xp.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    update = exp_avg * -step_size  # PyTorch's addcdiv order: (value * m) / denom
    update /= denom
    param += update


def _adam_fused(param, grad, exp_avg, exp_avg_sq, max_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled,
                maximize, step_size, bias_correction2_sqrt):
    """The GPU twin of ``_adam_arrays``: the same operations in one kernel."""
    code = "T d = -g;" if maximize else "T d = g;"
    if weight_decay != 0:
        code += " p = p * decay;" if decoupled else " d = d + p * wd;"
    code += F.lerp_expr("m", "d", 1 - beta1)
    code += " v = v * beta2 + (d * one_minus_beta2) * d;"
    code += " mx = max(mx, v); T denom = sqrt(mx);" if max_sq is not None else " T denom = sqrt(v);"
    code += " denom = denom / bc2 + eps; p = p + (m * neg_step) / denom;"
    outs = "T p, T m, T v" + (", T mx" if max_sq is not None else "")
    k = F.kernel("visionlite_adam", "T g, T decay, T wd, T w, T w1, T beta2, T one_minus_beta2, T bc2, "
                 "T eps, T neg_step", outs, code)
    arrays = (param, exp_avg, exp_avg_sq) + ((max_sq,) if max_sq is not None else ())
    w = 1 - beta1
    k(grad, 1 - lr * weight_decay, weight_decay, w, 1 - w, beta2, 1 - beta2, bias_correction2_sqrt, eps,
      -step_size, *arrays)
