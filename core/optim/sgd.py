"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""
from ..tensor import Tensor
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent.

    Per step, with ``g`` the gradient: ``g += weight_decay * p``; with momentum, ``b = g`` on the first step
    and ``b = momentum * b + (1 - dampening) * g`` after, then ``g = g + momentum * b`` (Nesterov) or
    ``g = b``; finally ``p -= lr * g`` (``+=`` when ``maximize``).

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the gradient added to the momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        F.check_number("learning rate", lr)
        F.check_number("momentum value", momentum)
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        weight_decay = F.as_float(group["weight_decay"])
        momentum = group["momentum"]
        dampening = group["dampening"]
        for p in group["params"]:
            if p.grad is None:
                continue
            param = F.writable(p)
            grad = F.grad_of(p, group["maximize"])
            if weight_decay != 0:
                grad = grad + param * weight_decay
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor._wrap(grad.copy())
                else:
                    b = buf._data
                    b *= momentum
                    F.add_scaled(b, grad, 1 - dampening)
                if group["nesterov"]:
                    grad = grad + buf._data * momentum
                else:
                    grad = buf._data
            F.add_scaled(param, grad, -lr)
            p._version[0] += 1
