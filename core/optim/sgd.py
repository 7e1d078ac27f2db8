"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""
from ..autograd.versions import bump_version
from ..backend import array_module
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
        for p in group["params"]:
            if p.grad is None:
                continue
            param, grad = F.writable(p), F.grad_of(p)
            buf = first = None
            if momentum != 0:
                state = self.state[p]
                first = state.get("momentum_buffer") is None
                if first:
                    state["momentum_buffer"] = Tensor._wrap(array_module(param).empty_like(param))
                buf = state["momentum_buffer"]._data
            update = _sgd_fused if F.fused(param, grad) else _sgd_arrays
            update(param, grad, buf, first, lr=lr, momentum=momentum, dampening=group["dampening"],
                   weight_decay=weight_decay, nesterov=group["nesterov"], maximize=group["maximize"])
            bump_version(p)


def _sgd_arrays(param, grad, buf, first, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD update of ``param`` (and of the momentum buffer ``buf``, filled on the ``first`` step)."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    if buf is not None:
        if first:
            buf[...] = grad
        else:
            buf *= momentum
            F.add_scaled(buf, grad, 1 - dampening)
        grad = grad + buf * momentum if nesterov else buf
    F.add_scaled(param, grad, -lr)


def _sgd_fused(param, grad, buf, first, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """The GPU twin of ``_sgd_arrays``: the same operations in one kernel."""
    code = F.grad_expr(maximize, weight_decay)
    outs = "T p"
    if buf is not None:
        outs += ", T b"
        code += " b = d;" if first else " b = b * mom + d * damp;"
        code += " d = d + b * mom;" if nesterov else " d = b;"
    code += " p = p + d * neg_lr;"
    k = F.kernel("visionlite_sgd", "T g, T wd, T mom, T damp, T neg_lr", outs, code)
    k(grad, weight_decay, momentum, 1 - dampening, -lr, param, *(() if buf is None else (buf,)))
