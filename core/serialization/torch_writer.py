"""Writing ``torch.save``'s zip format, readable by ``torch.load(weights_only=True)``, without torch.

The pickle is emitted opcode by opcode rather than with ``pickle.Pickler``: the objects it must name
(``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``) do not exist without torch, and the
pickler insists on importing what it names. Only what weights-only loading accepts is written: tensors,
dicts (OrderedDict with ``_metadata`` too), lists, tuples, numbers, strings, bytes and None.
"""
import secrets
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np

from .. import dtypes as _dt
from ..backend import Device
from ..tensor import Tensor
from .storage import host_contiguous

_STORAGE_NAMES = {"float64": "DoubleStorage", "float32": "FloatStorage", "float16": "HalfStorage",
                  "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage",
                  "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
                  "bool": "BoolStorage"}
_ALIGN = 64  # torch aligns storage records so that torch.load(mmap=True) can map them


class _PickleWriter:
    """Emits a protocol-2 pickle of an object whose tensors become persistent storage ids."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.storages = []  # (key, contiguous host array)
        self._keys = {}  # id(tensor) -> key: a tensor saved twice shares one storage
        self._keep = []

    def _global(self, module, name):
        self.out += b"c" + f"{module}\n{name}\n".encode("ascii")

    def _str(self, s):
        raw = s.encode("utf-8")
        self.out += b"X" + struct.pack("<I", len(raw)) + raw

    def _int(self, n):
        if -(2 ** 31) <= n < 2 ** 31:
            self.out += b"J" + struct.pack("<i", n)
        else:
            raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(raw)]) + raw  # LONG1

    def _tuple(self, items):
        self.out += b"("
        for v in items:
            self.emit(v)
        self.out += b"t"

    def _empty_ordered_dict(self):
        self._global("collections", "OrderedDict")
        self.out += b")R"

    def _tensor(self, obj):
        key = self._keys.get(id(obj))
        data = obj._data if isinstance(obj, Tensor) else obj
        data = host_contiguous(data)
        dtype = _dt.from_numpy_dtype(data.dtype)
        if key is None:
            key = self._keys[id(obj)] = str(len(self.storages))
            self.storages.append((key, data))
            self._keep.append(obj)
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("
        self._str("storage")
        self._global("torch", _STORAGE_NAMES[dtype.name])
        self._str(key)
        self._str("cpu")
        self._int(int(data.size))
        self.out += b"tQ"  # the storage id tuple, then BINPERSID
        self._int(0)
        self._tuple(data.shape)
        self._tuple(_contiguous(data.shape))
        self.out += b"\x89"  # requires_grad=False
        self._empty_ordered_dict()  # backward hooks
        self.out += b"tR"

    def emit(self, obj):
        if obj is None:
            self.out += b"N"
        elif obj is True or obj is False:
            self.out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            self._int(int(obj))
        elif isinstance(obj, float):
            self.out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            self._str(str(obj))
        elif isinstance(obj, (Tensor, np.ndarray)):
            self._tensor(obj)
        elif isinstance(obj, np.generic):
            self.emit(obj.item())
        elif isinstance(obj, (bytes, bytearray)):
            self._global("_codecs", "encode")  # how protocol 2 stores bytes
            self._tuple((bytes(obj).decode("latin1"), "latin1"))
            self.out += b"R"
        elif isinstance(obj, _dt.dtype):
            self._global("torch", obj.name)
        elif isinstance(obj, Device):
            self._global("torch", "device")
            self._tuple((str(obj),))
            self.out += b"R"
        elif isinstance(obj, dict):
            self._dict(obj)
        elif isinstance(obj, list):
            self.out += b"]("
            for v in obj:
                self.emit(v)
            self.out += b"e"
        elif isinstance(obj, tuple):
            self._tuple(obj)
        else:
            raise TypeError(f"visionlite.save(format='torch') cannot store a {type(obj).__name__}: it "
                            "stores tensors, numpy arrays, numbers, strings, bytes, None and "
                            "dicts/lists/tuples of them")

    def _dict(self, obj):
        ordered = isinstance(obj, OrderedDict)
        if ordered:
            self._empty_ordered_dict()
        else:
            self.out += b"}"
        if obj:
            self.out += b"("
            for k, v in obj.items():
                self.emit(k)
                self.emit(v)
            self.out += b"u"
        attrs = getattr(obj, "__dict__", None)
        if ordered and attrs:  # a state dict's _metadata, restored by BUILD as torch does
            self.out += b"}("
            for k, v in attrs.items():
                self._str(k)
                self.emit(v)
            self.out += b"ub"


def _contiguous(shape):
    # torch's contiguous strides (a zero-length dimension counts as 1)
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _record(zf, f, start, name, data, align=False):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    if align:  # pad the local header's extra field so the data starts on a 64-byte boundary
        header = 30 + len(name.encode("utf-8"))
        pad = -(f.tell() - start + header + 4) % _ALIGN
        info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    zf.writestr(info, data)


def write_torch_zip(obj, f, prefix="archive"):
    """Write ``obj`` to binary file ``f`` in torch's zip checkpoint format."""
    writer = _PickleWriter()
    writer.emit(obj)
    writer.out += b"."
    start = f.tell()
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        _record(zf, f, start, f"{prefix}/data.pkl", bytes(writer.out))
        _record(zf, f, start, f"{prefix}/.format_version", b"1")
        _record(zf, f, start, f"{prefix}/.storage_alignment", str(_ALIGN).encode())
        _record(zf, f, start, f"{prefix}/byteorder", b"little")
        for key, data in writer.storages:
            # torch stores storages little-endian
            raw = (data.byteswap() if sys.byteorder == "big" else data).tobytes()
            _record(zf, f, start, f"{prefix}/data/{key}", raw, align=True)
        _record(zf, f, start, f"{prefix}/version", b"3\n")
        serialization_id = str(secrets.randbits(128)).zfill(40).encode()
        _record(zf, f, start, f"{prefix}/.data/serialization_id", serialization_id)
