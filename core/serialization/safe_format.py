"""visionlite's native checkpoint format: a safetensors file.

Tensors are stored as safetensors tensors, named by their path in the saved object (``model.conv.weight``),
so a flat state dict reads as-is in any safetensors tool. The rest of the object (dicts, lists, tuples,
numbers, strings, None, bools, bytes) is kept as JSON in the header's ``__metadata__`` under
``visionlite.structure``; tensors appear there as ``{"tensor": name}``. Nothing is pickled, so loading
cannot run code.
"""
import base64
import json
from collections import OrderedDict

import numpy as np

from .. import dtypes as _dt
from ..backend import CPU, Device, to_device
from ..tensor import Tensor
from .errors import CheckpointError, corrupt
from .storage import (
    bf16_bits_to_float32,
    check_supported,
    host_contiguous,
    location_resolver,
    read_array,
    warn_bf16_as_float32,
)

STRUCTURE_KEY = "visionlite.structure"
FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000  # the safetensors library's own limit
MAX_DEPTH = 100  # containers nested in the structure, saved or loaded (deeper JSON is refused, not recursed)
ALLOWED_ATTRS = ("_metadata",)  # the one attribute an OrderedDict may carry, as in torch's pickles

# safetensors dtype codes -> numpy dtypes (BF16 is added when ml_dtypes is installed)
_CODES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
          "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16,
          "F32": np.float32, "F64": np.float64}


class _Encoder:
    """Walks an object, collecting arrays under unique path names and returning its JSON structure."""

    def __init__(self):
        self.arrays = {}
        self._names = {}  # id(tensor or array) -> name, so an object saved twice is stored once
        self._keep = []  # keeps those objects alive so their ids stay unique while encoding

    def _name(self, path):
        name = ".".join(path) or "tensor"
        if name == "__metadata__":
            name = "_metadata_"
        unique, n = name, 1
        while unique in self.arrays:
            unique, n = f"{name}#{n}", n + 1
        return unique

    def _array(self, obj, kind, path):
        name = self._names.get(id(obj))
        if name is None:
            data = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
            data = host_contiguous(data)  # CUDA tensors are written from host memory
            if data.dtype.kind not in "biuf" and data.dtype != getattr(_dt.bfloat16, "np", None):
                raise TypeError(f"visionlite.save: cannot store the {data.dtype} array at "
                                f"'{'.'.join(path)}' (only bool, integer and floating arrays)")
            name = self._names[id(obj)] = self._name(path)
            self.arrays[name] = data
            self._keep.append(obj)
        return {kind: name}

    def encode(self, obj, path=()):
        if len(path) > MAX_DEPTH and isinstance(obj, (dict, list, tuple)):
            raise ValueError(f"visionlite.save: the object nests containers more than {MAX_DEPTH} levels "
                             f"deep (at {'.'.join(path[:8])}...); loading refuses deeper files, so saving "
                             "does too")
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
            return self._array(obj, "npscalar", path)
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, Tensor):
            return self._array(obj, "tensor", path)
        if isinstance(obj, np.ndarray):
            return self._array(obj, "ndarray", path)
        if isinstance(obj, (bytes, bytearray)):
            return {"bytes": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, _dt.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, Device):
            return {"device": str(obj)}
        if isinstance(obj, dict):
            items = [[self.encode(k, path + ("key",)), self.encode(v, path + (str(k),))]
                     for k, v in obj.items()]
            node = {"odict" if isinstance(obj, OrderedDict) else "dict": items}
            attrs = getattr(obj, "__dict__", None)
            if isinstance(obj, OrderedDict) and attrs:  # a state dict's _metadata (version numbers)
                extra = sorted(set(attrs) - set(ALLOWED_ATTRS))
                if extra:
                    where = ".".join(path) or "the top level"
                    raise TypeError(f"visionlite.save: the OrderedDict at {where} carries the attribute(s) "
                                    f"{', '.join(extra)}; only "
                                    f"{', '.join(ALLOWED_ATTRS)} (a state dict's module versions) is stored")
                node["attrs"] = {k: self.encode(v, path + (k,)) for k, v in attrs.items()}
            return node
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        where = ".".join(path) or "the top level"
        raise TypeError(f"visionlite.save cannot store a {type(obj).__module__}.{type(obj).__name__} at "
                        f"{where}: it stores tensors, numpy arrays, numbers, strings, bytes, None and "
                        "dicts/lists/tuples of them")


def encode(obj):
    """``(arrays by name, metadata dict)`` for ``obj``."""
    enc = _Encoder()
    structure = enc.encode(obj)
    metadata = {STRUCTURE_KEY: json.dumps(structure), "visionlite.format": FORMAT_VERSION}
    if isinstance(obj, dict) and all(isinstance(v, Tensor) for v in obj.values()) and \
            all(isinstance(k, str) for k in obj) and len(enc.arrays) == len(obj):
        metadata["format"] = "pt"  # a flat state dict: what other safetensors readers expect
    return enc.arrays, metadata


def to_bytes(obj):
    """The safetensors file content for ``obj``."""
    from safetensors.numpy import save

    arrays, metadata = encode(obj)
    return save(arrays, metadata=metadata)


# ----------------------------------------------------------------------------------------------- loading
def read_header(file, checkpoint):
    """``(header dict, header length)`` of the safetensors file ``file`` (read from its current position)."""
    start = file.tell()
    size = file.seek(0, 2) - start
    file.seek(start)
    n = int.from_bytes(file.read(8), "little")
    if n > _MAX_HEADER or 8 + n > size:
        raise corrupt(checkpoint, f"the safetensors header claims {n} bytes but the file has {size - 8}")
    try:
        header = json.loads(file.read(n))
    except ValueError as e:
        raise corrupt(checkpoint, f"bad safetensors header ({e})") from None
    except RecursionError:
        raise corrupt(checkpoint, "the safetensors header nests JSON too deeply") from None
    file.seek(start)
    if not isinstance(header, dict):
        raise corrupt(checkpoint, "the safetensors header is not a JSON object")
    return header, n


def _dtype_of(code, name, checkpoint):
    """The numpy dtype for safetensors dtype ``code``; None for bfloat16 without ml_dtypes."""
    if code == "BF16":
        return None if _dt.bfloat16 is None else _dt.bfloat16.np
    if code not in _CODES:
        raise CheckpointError(f"{checkpoint}: tensor {name!r} has dtype {code}, which visionlite does not "
                              "support")
    return np.dtype(_CODES[code])


def _arrays_from_path(path, header, header_len, checkpoint):
    # safe_open validates the header and maps the file: the fast path for files on disk
    from safetensors import SafetensorError, safe_open

    arrays, warned = {}, False
    try:
        with safe_open(path, framework="numpy") as f:
            for name in f.keys():
                info = header[name]
                if _dtype_of(info["dtype"], name, checkpoint) is not None:
                    arrays[name] = f.get_tensor(name)
                    continue
                if not warned:
                    warn_bf16_as_float32(checkpoint)
                    warned = True
                begin, end = info["data_offsets"]
                with open(path, "rb") as raw:
                    raw.seek(8 + header_len + begin)
                    bits = read_array(raw, np.uint16, (end - begin) // 2, checkpoint, f"tensor {name!r}")
                arrays[name] = bf16_bits_to_float32(bits).reshape(info["shape"])
    except SafetensorError as e:
        raise corrupt(checkpoint, str(e)) from None
    return arrays


def _arrays_from_bytes(data, checkpoint):
    from safetensors import SafetensorError, deserialize

    try:
        entries = deserialize(data)
    except SafetensorError as e:
        raise corrupt(checkpoint, str(e)) from None
    arrays, warned = {}, False
    for name, info in entries:
        dtype = _dtype_of(info["dtype"], name, checkpoint)
        # deserialize hands out one bytearray per tensor: the array owns it, no further copy
        if dtype is None:
            if not warned:
                warn_bf16_as_float32(checkpoint)
                warned = True
            arrays[name] = bf16_bits_to_float32(np.frombuffer(info["data"], np.uint16)).reshape(info["shape"])
        else:
            arrays[name] = np.frombuffer(info["data"], dtype=dtype).reshape(info["shape"])
    return arrays


class _Decoder:
    def __init__(self, arrays, checkpoint, map_location):
        self.arrays, self.checkpoint = arrays, checkpoint
        self._resolve = location_resolver(map_location)
        self._tensors = {}  # name -> Tensor, so a tensor saved once and referenced twice loads once

    def _array(self, name):
        if name not in self.arrays:
            raise corrupt(self.checkpoint, f"the structure names a missing tensor {name!r}")
        return self.arrays[name]

    def tensor(self, name):
        t = self._tensors.get(name)
        if t is None:
            array = self._array(name)
            check_supported(array.dtype, f"{self.checkpoint}: tensor {name!r}")
            t = Tensor._wrap(array)
            device = self._resolve(t, "cpu")
            if device != CPU:
                t = Tensor._wrap(to_device(array, device))
            self._tensors[name] = t
        return t

    def decode(self, node, depth=0):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth > MAX_DEPTH:
            raise CheckpointError(f"{self.checkpoint}: the {STRUCTURE_KEY} metadata nests containers more "
                                  f"than {MAX_DEPTH} levels deep; visionlite.save never writes that, so the "
                                  "file is corrupt or crafted")
        depth += 1
        if isinstance(node, dict) and len(node) >= 1:
            kind = next(iter(node))
            value = node[kind]
            if kind == "tensor":
                return self.tensor(value)
            if kind == "ndarray":
                return self._array(value)
            if kind == "npscalar":
                return self._array(value)[()]
            if kind == "list":
                return [self.decode(v, depth) for v in value]
            if kind == "tuple":
                return tuple(self.decode(v, depth) for v in value)
            if kind in ("dict", "odict"):
                pairs = ((self.decode(k, depth), self.decode(v, depth)) for k, v in value)
                out = OrderedDict(pairs) if kind == "odict" else dict(pairs)
                self._set_attrs(out, node, depth)
                return out
            if kind == "bytes":
                return base64.b64decode(value)
            if kind == "dtype":
                return _dt.get_dtype(value)
            if kind == "device":
                return Device(value)
        raise corrupt(self.checkpoint, f"unknown structure node {str(node)[:80]!r}")

    def _set_attrs(self, out, node, depth):
        """Restore a state dict's ``_metadata``: the only attribute the writer stores. Any other name
        (``keys``, ``items``, ``__dict__``...) would shadow the dict's own behaviour, so it is refused."""
        attrs = node.get("attrs")
        if attrs is None:
            return
        if set(node) - {next(iter(node)), "attrs"} or not isinstance(attrs, dict):
            raise corrupt(self.checkpoint, f"bad dict node {str(node)[:80]!r}")
        for attr, v in attrs.items():
            if attr not in ALLOWED_ATTRS or not isinstance(out, OrderedDict):
                raise CheckpointError(f"{self.checkpoint}: the {STRUCTURE_KEY} metadata sets the attribute "
                                      f"{attr!r} on a {type(out).__name__}; only an OrderedDict's "
                                      f"{', '.join(ALLOWED_ATTRS)} is allowed: the file may be crafted")
            value = self.decode(v, depth)
            if not isinstance(value, dict):
                raise corrupt(self.checkpoint, f"{attr} must be a dict, got {type(value).__name__}")
            setattr(out, attr, value)


def load_safetensors(file, checkpoint, map_location=None, path=None):
    """The object stored in safetensors ``file`` (a seekable binary file; ``path`` when it is one on disk).

    A plain safetensors file (not written by visionlite) loads as a dict of tensors.
    """
    header, header_len = read_header(file, checkpoint)
    if path is not None and file.tell() == 0:
        arrays = _arrays_from_path(path, header, header_len, checkpoint)
    else:
        arrays = _arrays_from_bytes(file.read(), checkpoint)
    metadata = header.get("__metadata__") or {}
    decoder = _Decoder(arrays, checkpoint, map_location)
    if STRUCTURE_KEY not in metadata:
        # sorted, as safetensors' own load_file returns them
        return {name: decoder.tensor(name) for name in sorted(header) if name != "__metadata__"}
    try:
        structure = json.loads(metadata[STRUCTURE_KEY])
    except (TypeError, ValueError) as e:
        raise corrupt(checkpoint, f"bad {STRUCTURE_KEY} metadata ({e})") from None
    except RecursionError:
        raise CheckpointError(f"{checkpoint}: the {STRUCTURE_KEY} metadata nests JSON too deeply (more than "
                              f"{MAX_DEPTH} containers); the file is corrupt or crafted") from None
    return decoder.decode(structure)
