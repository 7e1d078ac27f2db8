"""The two unpicklers ``visionlite.load`` chooses between, on top of the weights-only one.

- ``SafeGlobalsUnpickler`` (``weights_only=True``, the default): the restricted unpickler, extended with
  the globals the user trusted through ``add_safe_globals``; an unknown global fails with PyTorch's
  message, which names both ways out (``weights_only=False``, ``add_safe_globals``).
- ``FullUnpickler`` (``weights_only=False``): ordinary unpickling, which imports and calls what the file
  names, as ``torch.load(weights_only=False)``. torch's tensor and storage globals still map to
  visionlite's stand-ins, so tensors come back as visionlite Tensors (Parameters as Parameters).

``load`` picks one for the duration of a call through ``use``; the readers' ``restricted_load`` asks
``chosen``.
"""
import contextlib
import contextvars
import pickle

from . import torch_objects as T
from . import user_allowlist as _safe
from .errors import CheckpointError, UnsafeCheckpointError
from .restricted_unpickler import ALLOWED, RestrictedUnpickler

_choice = contextvars.ContextVar("visionlite_unpickler", default=None)


@contextlib.contextmanager
def use(unpickler_class):
    """Make ``restricted_load`` use ``unpickler_class`` inside the block."""
    token = _choice.set(unpickler_class)
    try:
        yield
    finally:
        _choice.reset(token)


def chosen(default):
    """The unpickler class ``use`` selected, else ``default``."""
    return _choice.get() or default


def _weights_only_message(module, name, checkpoint):
    qual = f"{module}.{name}"
    return (
        "Weights only load failed. This file can still be loaded, to do so you have two options, do those "
        "steps only if you trust the source of the checkpoint.\n"
        "\t(1) Re-running `visionlite.load` with `weights_only` set to `False` will likely succeed, but it "
        "can result in arbitrary code execution. Do it only if you got the file from a trusted source.\n"
        "\t(2) Alternatively, to load with `weights_only=True` please check the recommended steps in the "
        "following error message.\n"
        f"\tWeightsUnpickler error: Unsupported global: GLOBAL {qual} was not an allowed global by default. "
        f"Please use `visionlite.serialization.add_safe_globals([{qual}])` or the "
        f"`visionlite.serialization.safe_globals([{qual}])` context manager to allowlist this global if you "
        f"trust this class/function.\n\n{checkpoint}: refusing the global '{qual}' in a weights-only load; a "
        "file naming it may be malicious, so load it only if you trust where it came from.")


def _refuse(self, opcode, what):
    raise UnsafeCheckpointError(f"{self.checkpoint}: pickle opcode {opcode} on {what}, which is not an "
                                "allowed global; the file may be malicious (add_safe_globals trusts a class)")


def _load_newobj(self):
    args = self.stack.pop()
    cls = self.stack.pop()
    if not (isinstance(cls, type) and _safe.is_safe(cls)):
        _refuse(self, "NEWOBJ", repr(cls))
    if not isinstance(args, tuple):
        raise UnsafeCheckpointError(f"{self.checkpoint}: NEWOBJ with {type(args).__name__} arguments")
    self.append(cls.__new__(cls, *args))


def _load_reduce(self):
    if _safe.is_safe(self.stack[-2]):
        return pickle._Unpickler.load_reduce(self)
    return RestrictedUnpickler.load_reduce(self)


def _load_build(self):
    if _safe.is_safe(type(self.stack[-2])):
        return pickle._Unpickler.load_build(self)
    return RestrictedUnpickler.load_build(self)


def _container_op(plain, restricted, depth):
    # dict/list subclasses the user trusted are filled as pickle fills them; the rest as the restricted
    # unpickler allows. The target sits ``depth`` from the top, or (depth 0) just below the mark.
    def op(self):
        if depth:
            target = self.stack[-depth] if len(self.stack) >= depth else None
        else:
            target = self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None
        if target is not None and _safe.is_safe(type(target)):
            return plain(self)
        return restricted(self)

    return op


class SafeGlobalsUnpickler(RestrictedUnpickler):
    """The weights-only unpickler plus the user's ``add_safe_globals`` entries."""

    def find_class(self, module, name):
        allowed = _safe.lookup(module, name)
        if allowed is not None:
            return allowed
        try:
            return super().find_class(module, name)
        except UnsafeCheckpointError:
            raise UnsafeCheckpointError(_weights_only_message(module, name, self.checkpoint)) from None

    dispatch = type(RestrictedUnpickler.dispatch)(RestrictedUnpickler.dispatch)
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.SETITEM[0]] = _container_op(pickle._Unpickler.load_setitem,
                                                RestrictedUnpickler.load_setitem, 3)
    dispatch[pickle.SETITEMS[0]] = _container_op(pickle._Unpickler.load_setitems,
                                                 RestrictedUnpickler.load_setitems, 0)
    dispatch[pickle.APPEND[0]] = _container_op(pickle._Unpickler.load_append,
                                               RestrictedUnpickler.load_append, 2)
    dispatch[pickle.APPENDS[0]] = _container_op(pickle._Unpickler.load_appends,
                                                RestrictedUnpickler.load_appends, 0)


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    from ..nn.parameter import Parameter

    tensor = T.rebuild_parameter(data, requires_grad, backward_hooks)
    tensor.__class__ = Parameter  # same slots; the storage fills it in once read
    return tensor


def _rebuild_from_type_v2(func, new_type, args, state):
    tensor = func(*args)
    if isinstance(state, dict):
        for key, value in state.items():
            setattr(tensor, key, value)
    return tensor


_FULL_OVERRIDES = {
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
}
_MODULE_ALIASES = {"__builtin__": "builtins", "torch.tensor": "torch._tensor"}


class FullUnpickler(pickle.Unpickler):
    """Unpickles anything (``weights_only=False``); torch's tensor globals become visionlite's."""

    def __init__(self, file, checkpoint, persistent_load=None):
        super().__init__(file, encoding="utf-8")
        self.checkpoint = checkpoint
        self._persistent = persistent_load

    def find_class(self, module, name):
        module = _MODULE_ALIASES.get(module, module)
        key = (module, name)
        if key in _FULL_OVERRIDES:
            return _FULL_OVERRIDES[key]
        if key in ALLOWED:
            return ALLOWED[key]
        if module == "torch" and name in T.DTYPE_NAMES:
            return T.torch_dtype(name)
        if module == "torch" or module.startswith(("torch.", "torchvision")):
            raise CheckpointError(f"{self.checkpoint} pickles the PyTorch object {module}.{name} (e.g. a "
                                  "whole model saved with torch.save(model)), which visionlite cannot "
                                  "rebuild: load it with torch and save its state_dict() instead")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if self._persistent is None:
            raise CheckpointError(f"{self.checkpoint}: unexpected storage reference in a plain pickle")
        return self._persistent(pid)
