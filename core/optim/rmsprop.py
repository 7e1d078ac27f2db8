"""RMSprop (Hinton, "Neural Networks for Machine Learning", lecture 6e), as ``torch.optim.RMSprop``."""
from ..autograd.versions import bump_version
from ..backend import array_module
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: steps divided by the root of a running average of the squared gradient.

    Per step: ``v = alpha * v + (1 - alpha) * g * g``; when ``centered``, ``a = lerp(a, g, 1 - alpha)`` and
    the denominator is ``sqrt(v - a * a) + eps``, else ``sqrt(v) + eps``. With momentum,
    ``b = momentum * b + g / denom`` and ``p -= lr * b``; without, ``p -= lr * g / denom``.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead (default False).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        F.check_number("learning rate", lr)
        F.check_number("epsilon value", eps)
        F.check_number("momentum value", momentum)
        F.check_number("weight_decay value", weight_decay)
        F.check_number("alpha value", alpha)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        momentum, centered = group["momentum"], group["centered"]
        weight_decay = F.as_float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["square_avg"] = F.zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = F.zeros_like(p)
                if centered:
                    state["grad_avg"] = F.zeros_like(p)
            F.advance(state["step"])
            param, grad = F.writable(p), F.grad_of(p)
            grad_avg = F.buffer(state, "grad_avg", p) if centered else None
            buf = F.buffer(state, "momentum_buffer", p) if momentum > 0 else None
            update = _rmsprop_fused if F.fused(param, grad) else _rmsprop_arrays
            update(param, grad, state["square_avg"]._data, grad_avg, buf, lr=lr, alpha=group["alpha"],
                   eps=group["eps"], weight_decay=weight_decay, momentum=momentum, maximize=group["maximize"])
            bump_version(p)


def _rmsprop_arrays(param, grad, square_avg, grad_avg, buf, *, lr, alpha, eps, weight_decay, momentum,
                    maximize):
    """One RMSprop update in place; ``grad_avg`` is None unless centered, ``buf`` None without momentum."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    square_avg *= alpha
    F.addcmul(square_avg, grad, grad, 1 - alpha)
    xp = array_module(param)
    if grad_avg is not None:
        F.lerp(grad_avg, grad, 1 - alpha)
        avg = square_avg - grad_avg * grad_avg
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if buf is not None:
        buf *= momentum
        buf += grad / avg
        F.add_scaled(param, buf, -lr)
    else:
        update = grad * -lr  # PyTorch's addcdiv order: (value * g) / avg
        update /= avg
        param += update


def _rmsprop_fused(param, grad, square_avg, grad_avg, buf, *, lr, alpha, eps, weight_decay, momentum,
                   maximize):
    """The GPU twin of ``_rmsprop_arrays``: the same operations in one kernel."""
    code = F.grad_expr(maximize, weight_decay) + " s = s * alpha + (d * w) * d;"
    outs, arrays = "T p, T s", [param, square_avg]
    if grad_avg is not None:
        code += F.lerp_expr("a", "d", 1 - alpha) + " T avg = sqrt(s - a * a);"
        outs += ", T a"
        arrays.append(grad_avg)
    else:
        code += " T avg = sqrt(s);"
    code += " avg = avg + eps;"
    if buf is not None:
        code += " b = b * mom + d / avg; p = p + b * neg_lr;"
        outs += ", T b"
        arrays.append(buf)
    else:
        code += " p = p + (d * neg_lr) / avg;"
    k = F.kernel("visionlite_rmsprop", "T g, T wd, T alpha, T w, T w1, T eps, T mom, T neg_lr", outs, code)
    w = 1 - alpha
    k(grad, weight_decay, alpha, w, 1 - w, eps, momentum, -lr, *arrays)
