"""Weight averaging, as ``torch.optim.swa_utils``: ``AveragedModel`` keeps a running average (SWA, equal
weights: Izmailov et al., 2018, "Averaging Weights Leads to Wider Optima and Better Generalization"; or EMA)
of a model's parameters, ``SWALR`` anneals the learning rate to a constant SWA rate, and ``update_bn``
recomputes BatchNorm statistics for the averaged weights.

The averaging functions come in two forms, as in PyTorch: ``avg_fn(averaged, current, n)`` returns the new
value of one tensor; ``multi_avg_fn(averaged_list, current_list, n)`` updates a list in place.
"""
import copy
import itertools
import math

from .. import creation, dtypes
from ..autograd.grad_mode import no_grad
from ..autograd.versions import bump_version
from ..backend import to_device
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from . import _functional as F
from ._lr_base import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _store(t, value):
    """Write the array ``value`` into tensor ``t`` in place, cast to its dtype (``t.copy_(value)``)."""
    data = t._data
    if not getattr(data.flags, "writeable", True):
        data = t._data = data.copy()
    data[...] = value.astype(data.dtype, copy=False) if value.dtype != data.dtype else value
    bump_version(t)


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA over lists of tensors: ``ema = lerp(ema, current, 1 - decay)`` (integer tensors:
    ``ema * decay + current * (1 - decay)``, truncated)."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        for ema, cur in zip(ema_param_list, current_param_list):
            if ema.dtype.is_floating_point:
                F.lerp(F.writable(ema), cur._data, 1 - decay)
                bump_version(ema)
            else:
                _store(ema, ema._data * decay + cur._data * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place equal-weight running average over lists of tensors: ``avg = lerp(avg, current, 1/(n+1))``.

    With a tensor ``n`` the weight is computed as a tensor of the default dtype, as PyTorch does."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if not averaged_param_list[0].dtype.is_floating_point:
            raise RuntimeError("get_swa_multi_avg_fn averages floating-point tensors only (PyTorch refuses "
                               "integer ones too); use AveragedModel without multi_avg_fn for integer "
                               "buffers")
        if isinstance(num_averaged, Tensor):
            weight = F.default_float(1 / (int(num_averaged.item()) + 1))
        else:
            weight = 1 / (num_averaged + 1)
        for avg, cur in zip(averaged_param_list, current_param_list):
            F.lerp(F.writable(avg), cur._data, weight)
            bump_version(avg)

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """``avg_fn`` of an EMA: returns ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """``avg_fn`` of an equal-weight running average: returns ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _default_swa(averaged, current, n):
    """PyTorch's CPU default: ``avg + (current - avg) / (n + 1)``, a true division, the result cast back
    to ``avg``'s dtype (integer buffers truncate)."""
    for avg, cur in zip(averaged, current):
        _store(avg, avg._data + (cur._data - avg._data) / (n + 1))


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are running averages of
    the model's, updated by ``update_parameters(model)``. Its state dict holds ``n_averaged`` and the copy's
    entries under ``module.``.

    Args:
        model: the module to average (deep-copied).
        device: where the copy lives (default: where the model is).
        avg_fn: ``avg_fn(averaged, current, n) -> new averaged`` for one tensor; default equal weights.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, n)`` updating in place (e.g.
            ``get_ema_multi_avg_fn(0.999)``); give at most one of the two.
        use_buffers: average buffers too (else they are copied from the model at each update).
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        with no_grad():
            self._update(model)

    def _update(self, model):
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        pairs = [(a.detach(), Tensor._wrap(to_device(b._data, a.device))) for a, b in zip(mine, theirs)]
        n = int(self.n_averaged.item())
        if n == 0:
            for a, b in pairs:
                _store(a, b._data)
        elif self.avg_fn is not None:
            for a, b in pairs:
                _store(a, self.avg_fn(a, b, self.n_averaged.to(a.device))._data)
        else:
            groups = {}  # the list form runs per (device, dtype) group, as PyTorch's foreach grouping
            for a, b in pairs:
                groups.setdefault((str(a.device), a.dtype.name), []).append((a, b))
            for group in groups.values():
                averaged, current = [a for a, _ in group], [b for _, b in group]
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(averaged, current, self.n_averaged.to(averaged[0].device))
                else:
                    _default_swa(averaged, current, n)
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                _store(b_avg, to_device(b_model._data, b_avg.device))
        self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """Recompute the running statistics of every BatchNorm layer of ``model`` with one pass over
    ``loader`` (batches are tensors, or lists/tuples whose first item is the input), as cumulative averages.

    Args:
        loader: an iterable of batches.
        model: the module to update (its training mode is restored afterwards).
        device: if given, inputs are moved there first.
    """
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
    was_training = model.training
    model.train()
    for m in norms:
        m.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its current value to ``swa_lr`` over ``anneal_epochs``
    steps (``"cos"``ine or ``"linear"``), then holds it there; the schedule of SWA's last phase.

    Args:
        optimizer: the optimizer whose rates are set.
        swa_lr: the final rate, one for all groups or a list with one per group.
        anneal_epochs: steps of the annealing phase (default 10; 0 jumps at once).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        last_epoch: index of the last epoch (default -1).
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for value, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t):
        """The fraction of the way to ``swa_lr`` at progress ``t`` in [0, 1]."""
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    def get_lr(self):
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        # undo the previous step's interpolation to recover the rate annealing started from (the group's lr
        # may have been changed by another scheduler meanwhile), then interpolate to this step's point
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        alpha = self.anneal_func(max(0, min(1, step / span)))
        out = []
        for group in self.optimizer.param_groups:
            lr, swa_lr = group["lr"], group["swa_lr"]
            start = swa_lr if prev_alpha == 1 else (lr - prev_alpha * swa_lr) / (1 - prev_alpha)
            out.append(swa_lr * alpha + start * (1 - alpha))
        return out
