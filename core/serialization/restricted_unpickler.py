"""A weights-only unpickler: it builds tensors and plain containers, and nothing else.

A pickle is a small program that may import and call anything it names, so loading an untrusted
checkpoint with ``pickle`` can run arbitrary code. Here every global a pickle names is looked up in an
explicit allowlist that maps it to visionlite's own stand-in (``torch_objects``); nothing is ever
imported. The opcodes that call or mutate objects are checked too: REDUCE may only call allowlisted
callables, BUILD may only set the ``_metadata`` attribute of an OrderedDict (any other key is
refused), and SETITEM(S)/APPEND(S)/ADDITEMS may only fill dicts, lists and sets. This mirrors
``torch.load(weights_only=True)``.

It extends the pure-Python ``pickle._Unpickler`` (the reference implementation of the C one) because
only that one lets each opcode be replaced or refused; checkpoint pickles are small, so speed is moot.
"""
import pickle
import struct
from collections import Counter, OrderedDict

from ..tensor import Size
from . import torch_objects as T
from .errors import CheckpointError, UnsafeCheckpointError


def _allowlist():
    table = {
        ("collections", "OrderedDict"): OrderedDict,
        ("collections", "Counter"): Counter,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "complex"): complex,
        ("_codecs", "encode"): T.encode_latin1,
        ("torch", "Size"): Size,
        ("torch", "device"): T.make_device,
        ("torch", "Tensor"): T.TypeMarker("Tensor"),
        ("torch.nn.parameter", "Parameter"): T.TypeMarker("Parameter"),
        ("torch._utils", "_rebuild_tensor"): T.rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): T.rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): T.rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): T.rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): T.rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): T.rebuild_from_type_v2,
    }
    for name in T.STORAGE_NAMES:
        storage_type = T.StorageType(name)
        for module in ("torch", "torch.cuda", "torch.storage"):
            table[(module, name)] = storage_type
    return table


ALLOWED = _allowlist()
_CALLABLE = tuple(v for v in ALLOWED.values() if callable(v))
# names older pickles use for the same things
_MODULE_ALIASES = {"__builtin__": "builtins", "torch.tensor": "torch._tensor"}

# Opcodes that construct arbitrary classes, or use the extension registry or out-of-band buffers
_REFUSED_OPCODES = (pickle.INST, pickle.OBJ, pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2,
                    pickle.EXT4, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER)


class _Dispatch(dict):
    def __missing__(self, code):
        raise UnsafeCheckpointError(f"pickle opcode {bytes([code])!r} is not allowed in a weights-only "
                                    "checkpoint: the file may be malicious")


def _check_bytearray_args(args, checkpoint):
    """Pickles build bytearrays from their content (``bytearray(b'..')``, ``bytearray('..', 'latin-1')``);
    ``bytearray(n)`` would turn a few bytes of file into n bytes of memory, so it is refused."""
    if isinstance(args, tuple) and (args == () or (len(args) == 1 and isinstance(args[0], (bytes, bytearray)))
                                    or (len(args) == 2 and isinstance(args[0], str)
                                        and args[1] in ("latin1", "latin-1"))):
        return
    shown = ", ".join(type(a).__name__ if not isinstance(a, int) else f"{a:,}" for a in args) \
        if isinstance(args, tuple) else type(args).__name__
    raise UnsafeCheckpointError(f"{checkpoint}: pickle calls bytearray({shown}); a checkpoint stores a "
                                "bytearray's content, never a size to allocate (a memory bomb): the file "
                                "may be malicious")


def _require(target, kinds, opcode):
    if type(target) not in kinds:
        raise UnsafeCheckpointError(f"pickle opcode {opcode} applied to {type(target).__name__}: not allowed "
                                    "in a weights-only checkpoint, the file may be malicious")


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickle ``file`` allowing only the globals in ``ALLOWED``; ``persistent_load`` resolves storages.

    ``checkpoint`` names the file in error messages.
    """

    def __init__(self, file, checkpoint, persistent_load=None):
        super().__init__(file, encoding="utf-8")
        self.checkpoint = checkpoint
        self._persistent = persistent_load

    def find_class(self, module, name):
        module = _MODULE_ALIASES.get(module, module)
        obj = ALLOWED.get((module, name))
        if obj is None and module == "torch" and name in T.DTYPE_NAMES:
            obj = T.torch_dtype(name)
        if obj is None:
            raise UnsafeCheckpointError(
                f"{self.checkpoint}: refusing to load the global '{module}.{name}'. visionlite.load only "
                "rebuilds tensors and plain containers (weights_only=True); importing or calling anything "
                "else could run arbitrary code, so the file may be malicious. If it is a checkpoint you "
                "trust that holds other Python objects, load it with torch.load(..., weights_only=False) "
                "and save just its tensors (e.g. model.state_dict()) again.")
        return obj

    def persistent_load(self, pid):
        if self._persistent is None:
            raise CheckpointError(f"{self.checkpoint}: unexpected storage reference in a plain pickle")
        return self._persistent(pid)

    def load_reduce(self):
        func = self.stack[-2]
        if not any(func is f for f in _CALLABLE):
            raise UnsafeCheckpointError(f"{self.checkpoint}: pickle calls {func!r}, which is not an allowed "
                                        "tensor or container constructor; the file may be malicious")
        if func is bytearray:
            _check_bytearray_args(self.stack[-1], self.checkpoint)
        super().load_reduce()

    def load_bytearray8(self):
        # pickle's own version allocates the declared length before reading: a few bytes could ask for
        # terabytes. Reading first bounds it by what the file really holds.
        (length,) = struct.unpack("<Q", self.read(8))
        data = self.read(length)
        if len(data) != length:
            raise CheckpointError(f"{self.checkpoint}: a pickled bytearray claims {length:,} bytes but the "
                                  f"data ends after {len(data):,}: truncated or crafted file")
        self.append(bytearray(data))

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        _require(inst, (OrderedDict,), "BUILD")
        if not isinstance(state, dict):
            raise UnsafeCheckpointError(f"{self.checkpoint}: pickle opcode BUILD gives an OrderedDict the "
                                        f"state {type(state).__name__}, not a dict of attributes: refused "
                                        "in a weights-only checkpoint, the file may be malicious")
        # A state dict carries only _metadata (module versions); any other attribute, e.g. a dunder that
        # shadows a method, has no business in a weights-only file.
        for key in state:
            if key != "_metadata":
                raise UnsafeCheckpointError(f"{self.checkpoint}: pickle opcode BUILD sets the attribute "
                                            f"{key!r} on an OrderedDict; only '_metadata' is allowed in a "
                                            "weights-only checkpoint, the file may be malicious")
        inst.__dict__.update(state)

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        _require(self.stack[-1], (dict, OrderedDict, Counter), "SETITEM")
        self.stack[-1][key] = value

    def load_setitems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        _require(target, (dict, OrderedDict, Counter), "SETITEMS")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def load_append(self):
        value = self.stack.pop()
        _require(self.stack[-1], (list,), "APPEND")
        self.stack[-1].append(value)

    def load_appends(self):
        items = self.pop_mark()
        _require(self.stack[-1], (list,), "APPENDS")
        self.stack[-1].extend(items)

    def load_additems(self):
        items = self.pop_mark()
        _require(self.stack[-1], (set,), "ADDITEMS")
        self.stack[-1].update(items)

    dispatch = _Dispatch(pickle._Unpickler.dispatch)
    for _code in _REFUSED_OPCODES:
        del dispatch[_code[0]]
    for _op, _fn in ((pickle.REDUCE, load_reduce), (pickle.BYTEARRAY8, load_bytearray8),
                     (pickle.BUILD, load_build), (pickle.SETITEM, load_setitem),
                     (pickle.SETITEMS, load_setitems), (pickle.APPEND, load_append),
                     (pickle.APPENDS, load_appends), (pickle.ADDITEMS, load_additems)):
        dispatch[_op[0]] = _fn
    del _code, _op, _fn


def restricted_load(file, checkpoint, persistent_load=None):
    """One object from ``file`` through the restricted unpickler (or the one ``load`` chose, see
    ``unpicklers.use``: the user's safe globals, or ``weights_only=False``)."""
    from .unpicklers import chosen

    return chosen(RestrictedUnpickler)(file, checkpoint, persistent_load).load()
