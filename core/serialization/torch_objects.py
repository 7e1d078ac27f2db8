"""visionlite's own stand-ins for the few torch globals a weights-only checkpoint names.

The restricted unpickler maps each allowed ``module.name`` to an object here; nothing from torch is
imported. Tensors are created empty and listed on their storage (see ``storage.materialize``).
"""
import numpy as np

from .. import dtypes as _dt
from ..backend import Device
from ..tensor import Tensor
from .errors import CheckpointError
from .storage import StorageRef

# torch storage class name -> element type; None marks types visionlite cannot hold
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool", "UntypedStorage": "uint8",
    "ComplexFloatStorage": None, "ComplexDoubleStorage": None, "QInt8Storage": None, "QUInt8Storage": None,
    "QInt32Storage": None, "QUInt4x2Storage": None, "QUInt2x4Storage": None,
}
STORAGE_NAMES = tuple(_STORAGE_DTYPES)

# torch dtype attribute name -> visionlite dtype name
_TORCH_DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int8": "int8", "int16": "int16",
    "short": "int16", "int32": "int32", "int": "int32", "int64": "int64", "long": "int64", "uint8": "uint8",
    "bool": "bool",
}
DTYPE_NAMES = tuple(_TORCH_DTYPES)


class StorageType:
    """Stands for ``torch.FloatStorage`` and friends inside a storage's persistent id."""

    __slots__ = ("name", "dtype_name")

    def __init__(self, name):
        self.name, self.dtype_name = name, _STORAGE_DTYPES[name]

    def storage(self, key, numel, location, checkpoint):
        """A StorageRef for this type (bfloat16 read as raw uint16 when ml_dtypes is missing)."""
        if self.dtype_name is None:
            raise CheckpointError(f"{checkpoint}: tensors stored as torch.{self.name} are not supported "
                                  "by visionlite (no complex or quantized dtypes)")
        if self.dtype_name == "bfloat16" and _dt.bfloat16 is None:
            return StorageRef(key, np.dtype(np.uint16), numel, location, bf16_as_uint16=True)
        return StorageRef(key, _dt.get_dtype(self.dtype_name).np, numel, location)

    def __repr__(self):
        return f"torch.{self.name}"


class TypeMarker:
    """Stands for ``torch.Tensor`` / ``torch.nn.Parameter`` where a pickle names the class of a tensor."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def torch_dtype(name):
    """The visionlite dtype for ``torch.<name>``."""
    target = _TORCH_DTYPES[name]
    if target == "bfloat16" and _dt.bfloat16 is None:
        raise CheckpointError("the checkpoint names torch.bfloat16, which needs the ml_dtypes package: "
                              "pip install ml_dtypes")
    return _dt.get_dtype(target)


def _check_storage(storage):
    if not isinstance(storage, StorageRef):
        raise CheckpointError(f"tensor rebuilt from a {type(storage).__name__}, not a storage: corrupt file")


def _empty_view(storage, storage_offset, size, stride, view_dtype=None, requires_grad=False):
    _check_storage(storage)
    t = Tensor._wrap(None)  # filled by storage.materialize once the storage bytes are read
    t.requires_grad = bool(requires_grad)
    storage.views.append((t, storage_offset, tuple(size), tuple(stride), view_dtype))
    return t


def rebuild_tensor(storage, storage_offset, size, stride):
    return _empty_view(storage, storage_offset, size, stride)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                      metadata=None):
    return _empty_view(storage, storage_offset, size, stride, requires_grad=requires_grad)


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                      metadata=None):
    if not isinstance(dtype, _dt.dtype):
        raise CheckpointError(f"tensor rebuilt with dtype {dtype!r}: corrupt checkpoint")
    return _empty_view(storage, storage_offset, size, stride, dtype.np, requires_grad)


def rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """Parameters load as plain tensors keeping ``requires_grad`` (as a torch state dict holds them)."""
    if not isinstance(data, Tensor):
        raise CheckpointError(f"parameter rebuilt from a {type(data).__name__}, not a tensor: corrupt file")
    data.requires_grad = bool(requires_grad)
    return data


def rebuild_from_type_v2(func, new_type, args, state):
    # torch uses this for tensors carrying Python attributes; the attributes are dropped
    if not any(func is f for f in REBUILD_FUNCTIONS) or not isinstance(new_type, TypeMarker):
        raise CheckpointError(f"_rebuild_from_type_v2 called with {func!r}, {new_type!r}: not a plain tensor")
    return func(*args)


REBUILD_FUNCTIONS = (rebuild_tensor, rebuild_tensor_v2, rebuild_tensor_v3, rebuild_parameter)


def encode_latin1(text, encoding="utf-8"):
    """``_codecs.encode`` as protocol-2 pickles use it to store bytes; only latin-1 is needed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not how pickles store "
                              "bytes: refusing it")
    return text.encode("latin1")


def make_device(spec, index=None):
    return Device(spec, index)
