"""``visionlite.save`` for objects beyond tensors and plain containers: torch's zip format with an
ordinary pickle, as ``torch.save`` writes it.

Tensors inside become torch's ``_rebuild_tensor_v2`` calls on persistent storage ids (Parameters
``_rebuild_parameter``), dtypes ``torch.float32`` and so on, so ``torch.load(weights_only=False)`` reads a
checkpoint dict holding state dicts and an ``argparse.Namespace``; everything else (a whole
``nn.Module``, user classes) is pickled by reference to its class, and loads with
``visionlite.load(..., weights_only=False)``.

The pure-Python ``pickle._Pickler`` is used because it lets a type be written as an arbitrary global
(``torch._utils._rebuild_tensor_v2`` does not exist without torch, and the C pickler would import it to
check); only the small object graph goes through it, the storages are written raw.
"""
import io
import pickle
import secrets
import sys
import zipfile
from collections import OrderedDict

from .. import dtypes as _dt
from ..backend import Device
from ..tensor import Size, Tensor
from .storage import host_contiguous
from .torch_writer import _ALIGN, _STORAGE_NAMES, _contiguous, _record

__all__ = ["pickle_to_bytes"]


class _Global:
    """Written as the pickle GLOBAL ``module.name``, without importing it."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler requires a reduce function to be callable; never called here
        raise TypeError(f"{self.module}.{self.name} is a placeholder for pickling")


class _Storage:
    """One tensor's storage: a persistent id in the pickle, a raw record in the archive."""

    __slots__ = ("key", "data", "location")

    def __init__(self, key, data, location):
        self.key, self.data, self.location = key, data, location


class _TorchPickler(pickle._Pickler):
    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.storages = []
        self._keep = []  # objects made while pickling, alive so that their ids stay unique

    def persistent_id(self, obj):
        if type(obj) is _Storage:
            storage_type = _Global("torch", _STORAGE_NAMES[_dt.from_numpy_dtype(obj.data.dtype).name])
            return ("storage", storage_type, obj.key, obj.location, int(obj.data.size))
        return None

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    def _save_dtype(self, obj):
        self._save_global(_Global("torch", obj.name))

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[_Global] = _save_global
    dispatch[_dt.dtype] = _save_dtype

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Device):
            return _Global("torch", "device"), (str(obj),)
        if isinstance(obj, Size):
            return _Global("torch", "Size"), (tuple(obj),)
        return NotImplemented

    def _reduce_tensor(self, t):
        from ..nn.parameter import Parameter

        if isinstance(t, Parameter):
            plain = Tensor._wrap(t._data)
            plain.requires_grad = t.requires_grad
            self._keep.append(plain)
            return _Global("torch._utils", "_rebuild_parameter"), (plain, t.requires_grad, OrderedDict())
        data = host_contiguous(t._data)
        storage = _Storage(str(len(self.storages)), data, str(t.device))
        self.storages.append(storage)
        self._keep.append(storage)
        args = (storage, 0, tuple(data.shape), _contiguous(data.shape), bool(t.requires_grad), OrderedDict())
        return _Global("torch._utils", "_rebuild_tensor_v2"), args


def pickle_to_bytes(obj, prefix="archive"):
    """The bytes of a torch zip checkpoint holding ``obj`` pickled (``torch.save``'s layout)."""
    pkl = io.BytesIO()
    pickler = _TorchPickler(pkl)
    try:
        pickler.dump(obj)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise TypeError(f"visionlite.save cannot pickle this object: {e}") from e
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        _record(zf, out, 0, f"{prefix}/data.pkl", pkl.getvalue())
        _record(zf, out, 0, f"{prefix}/.format_version", b"1")
        _record(zf, out, 0, f"{prefix}/.storage_alignment", str(_ALIGN).encode())
        _record(zf, out, 0, f"{prefix}/byteorder", b"little")
        for s in pickler.storages:
            raw = (s.data.byteswap() if sys.byteorder == "big" else s.data).tobytes()
            _record(zf, out, 0, f"{prefix}/data/{s.key}", raw, align=True)
        _record(zf, out, 0, f"{prefix}/version", b"3\n")
        _record(zf, out, 0, f"{prefix}/.data/serialization_id", str(secrets.randbits(128)).zfill(40).encode())
    return out.getvalue()
