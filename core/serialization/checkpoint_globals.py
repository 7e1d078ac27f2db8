"""``get_unsafe_globals_in_checkpoint``, as ``torch.serialization``: the globals a checkpoint's pickle names
that a weights-only load would refuse, found by reading its opcodes (nothing is unpickled or imported)."""
import pickletools
import zipfile

from . import torch_objects as T
from . import user_allowlist
from .errors import CheckpointError
from .restricted_unpickler import _MODULE_ALIASES, ALLOWED

__all__ = ["get_unsafe_globals_in_checkpoint"]

_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING",
               "STRING"}


def _named_globals(data):
    names, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            names.append(tuple(arg.split(" ", 1)))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            names.append((strings[-2], strings[-1]))
        elif op.name in _STRING_OPS:
            strings.append(arg if isinstance(arg, str) else arg.decode("latin-1"))
    return names


def get_unsafe_globals_in_checkpoint(f):
    """Sorted ``"module.name"`` strings of the globals in torch zip checkpoint ``f`` (a path or binary file)
    that ``visionlite.load(f)`` would refuse: neither tensor machinery nor added with ``add_safe_globals``."""
    try:
        with zipfile.ZipFile(f) as zf:
            pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise CheckpointError(f"{f} is a zip archive but not a torch checkpoint (no <name>/data.pkl)")
            data = zf.read(pickles[0])
    except zipfile.BadZipFile:
        raise CheckpointError(f"{f}: get_unsafe_globals_in_checkpoint reads torch's zip checkpoints only "
                              "(safetensors files name no globals)") from None
    unsafe = set()
    for module, name in _named_globals(data):
        module = _MODULE_ALIASES.get(module, module)
        if (module, name) in ALLOWED or (module == "torch" and name in T.DTYPE_NAMES):
            continue
        if user_allowlist.lookup(module, name) is None:
            unsafe.add(f"{module}.{name}")
    return sorted(unsafe)
