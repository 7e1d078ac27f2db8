"""Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization"), as ``torch.optim.Adagrad``."""
from ..autograd.versions import bump_version
from ..backend import array_module
from ..tensor import Tensor
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: steps divided by the root of the sum of all past squared gradients.

    Per step ``t``: ``s += g * g``, ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)``.
    Its state (``sum`` and ``step``) is created for every parameter at construction, as in PyTorch.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning rate decay per step (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        initial_accumulator_value: starting value of the sums (default 0).
        eps: added to the denominator for stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        F.check_number("learning rate", lr)
        F.check_number("lr_decay value", lr_decay)
        F.check_number("weight_decay value", weight_decay)
        F.check_number("initial_accumulator_value value", initial_accumulator_value)
        F.check_number("epsilon value", eps)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = F.new_step()
        xp = array_module(p._data)
        state["sum"] = Tensor._wrap(xp.full_like(p._data, group["initial_accumulator_value"]))
        return state

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        weight_decay = F.as_float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:  # a group added after construction
                state = self._init_state(p, group)
            step = F.advance(state["step"])
            param, grad = F.writable(p), F.grad_of(p)
            update = _adagrad_fused if F.fused(param, grad) else _adagrad_arrays
            update(param, grad, state["sum"]._data, clr=lr / (1 + (step - 1) * group["lr_decay"]),
                   eps=group["eps"], weight_decay=weight_decay, maximize=group["maximize"])
            bump_version(p)


def _adagrad_arrays(param, grad, state_sum, *, clr, eps, weight_decay, maximize):
    """One Adagrad update in place, at the step's decayed learning rate ``clr``."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    state_sum += grad * grad
    std = array_module(param).sqrt(state_sum)
    std += eps
    update = grad * -clr  # PyTorch's addcdiv order: (value * g) / std
    update /= std
    param += update


def _adagrad_fused(param, grad, state_sum, *, clr, eps, weight_decay, maximize):
    """The GPU twin of ``_adagrad_arrays``: the same operations in one kernel."""
    code = F.grad_expr(maximize, weight_decay) + " s = s + d * d; p = p + (d * neg_lr) / (sqrt(s) + eps);"
    F.kernel("visionlite_adagrad", "T g, T wd, T eps, T neg_lr", "T p, T s", code)(
        grad, weight_decay, eps, -clr, param, state_sum)
