"""Averaged SGD (Polyak & Juditsky, 1992, "Acceleration of Stochastic Approximation by Averaging"), as
``torch.optim.ASGD``."""
from ..autograd.versions import bump_version
from . import _functional as F
from .optimizer import Optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged stochastic gradient descent: SGD with a decaying step ``eta`` plus a running average ``ax``
    of the iterates (the averaged parameters live in ``optimizer.state[p]["ax"]``).

    Per step ``t``: ``p *= 1 - lambd * eta``, ``p -= eta * g``; ``ax += mu * (p - ax)`` (a copy while
    ``mu == 1``); then ``eta = lr / (1 + lambd * lr * t) ** alpha`` and ``mu = 1 / max(1, t - t0)``.
    ``eta`` and ``mu`` are 0-d tensors of the scalar dtype, as in PyTorch.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the ``eta`` decay (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; visionlite has one implementation.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        F.check_number("learning rate", lr)
        F.check_number("weight_decay value", weight_decay)
        F.check_differentiable(differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr = F.as_float(group["lr"])
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        weight_decay = F.as_float(group["weight_decay"])
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = F.new_step()
                state["eta"] = F.new_scalar(lr)
                state["mu"] = F.new_scalar(1.0)
                state["ax"] = F.zeros_like(p)
            step = F.advance(state["step"])
            eta, mu = state["eta"], state["mu"]
            _asgd(F.writable(p), F.grad_of(p), state["ax"]._data, eta=float(eta._data), mu=float(mu._data),
                  lambd=lambd, weight_decay=weight_decay, maximize=group["maximize"])
            # PyTorch makes the new values tensors of the default dtype before copying them into the state, so
            # they carry its rounding even where the state is float64 (after loading a checkpoint)
            F.set_scalar(eta, F.default_float(lr / ((1 + lambd * lr * step) ** alpha)))
            F.set_scalar(mu, F.default_float(1 / max(1, step - t0)))
            bump_version(p)


def _asgd(param, grad, ax, *, eta, mu, lambd, weight_decay, maximize):
    """One ASGD update of ``param`` and its average ``ax`` in place (``eta``, ``mu``: the state values)."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + param * weight_decay
    param *= 1 - lambd * eta
    F.add_scaled(param, grad, -eta)
    if mu != 1:
        diff = param - ax
        diff *= mu
        ax += diff
    else:
        ax[...] = param
