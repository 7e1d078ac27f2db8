"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, ``step`` and
checkpoints through ``state_dict`` / ``load_state_dict`` in PyTorch's layout.

Algorithms subclass it and define ``_step_group(group)``, which updates the raw arrays of the group's
parameters in place (numpy or cupy, through ``xp = array_module(array)``) with the helpers in
``_functional``.
"""
import copy
from collections import defaultdict
from itertools import chain

import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.versions import bump_version
from ..backend import CPU, to_device
from ..tensor import Tensor
from . import _functional as F

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks an option that every parameter group must set itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers, as ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter groups), each
            with a ``"params"`` entry and any options that should differ from ``defaults``.
        defaults: the options of the algorithm (``lr``, ...), filled into every group that lacks them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got {type(params).__name__}; wrap it in a list: [tensor]")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a dict ``{"params": tensors, **options}`` as a new parameter group (e.g. when unfreezing
        layers during fine-tuning); options it lacks come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list "
                            "instead.")
        else:
            params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. "
                                 "Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaf it was computed from, "
                                 "or a detached copy: t.detach().requires_grad_()")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)

        if len({id(p) for p in params}) != len(params):
            import warnings

            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in group) != ("param_names" in param_group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. cannot add param "
                                 f"group {kind} to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set every ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g._ctx is not None:
                    g.detach_()
                else:
                    g.requires_grad = False
                if not getattr(g._data.flags, "writeable", True):  # e.g. a broadcast view: give it storage
                    g._data = g._data.copy()
                g._data[...] = 0
                bump_version(g)

    def step(self, closure=None):
        """Update every parameter that has a ``.grad``. ``closure`` (optional) re-evaluates the model with
        gradients enabled and returns the loss, which ``step`` returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group):
        raise NotImplementedError(f"{type(self).__name__} must define step(closure=None) or "
                                  "_step_group(group)")

    # ------------------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``, where parameters
        are numbered in group order. As in PyTorch the state tensors are the live ones: save the dict, or
        ``copy.deepcopy`` it, to keep a snapshot."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what ``state_dict`` returned (possibly from another optimizer of the same kind and layout).

        State tensors are copied, cast to their parameter's dtype (except ``step``) and moved to its device.
        Group options are replaced by the saved ones; build LR schedulers before loading, as they set ``lr``.
        """
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer ({len(self.param_groups)})")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size "
                                 f"of optimizer's group: group {i} has {len(s['params'])} saved parameters, "
                                 f"the optimizer has {len(g['params'])}")
        params_of = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                             chain.from_iterable(g["params"] for g in self.param_groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in params_of:
                p = params_of[key]
                state[p] = _cast_state(p, value)
            else:
                state[key] = copy.deepcopy(value)
        for g, s in zip(self.param_groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for group in self.param_groups:  # checkpoints from older versions may lack newer options
            for name, default in self.defaults.items():
                if default is not required:
                    group.setdefault(name, default)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _cast_state(param, value, key=None):
    """A deep copy of ``value`` whose tensors sit on param's device, floats in param's dtype; ``step``
    stays a CPU tensor of its own dtype (a float32 step count must not become float16 with the parameter)."""
    if isinstance(value, np.ndarray):
        value = Tensor._wrap(value)
    if key == "step" and isinstance(value, (int, float)):  # older checkpoints count steps in plain numbers
        value = Tensor._wrap(np.asarray(value, dtype=F.scalar_dtype()))
    if isinstance(value, Tensor):
        data = to_device(value._data, CPU if key == "step" else param.device)
        if data is value._data:
            data = data.copy()
        if key != "step" and param.is_floating_point() and data.dtype.kind == "f":
            data = data.astype(param._data.dtype, copy=False)
        return Tensor._wrap(data)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v) for v in value)
    return copy.deepcopy(value)
