"""Reading ``torch.save``'s pre-1.6 format (``_use_new_zipfile_serialization=False``).

The file is a run of pickles followed by raw storages: the magic number, the protocol version (1001),
a dict of system info (byte order, type sizes), the object itself (tensors name storages through
persistent ids ``('storage', StorageType, key, location, numel, view)``), the sorted list of storage
keys; then for each key, an int64 element count and the storage's bytes.
"""
import sys

import numpy as np

from .errors import CheckpointError, corrupt
from .restricted_unpickler import restricted_load
from .storage import materialize, read_array
from .torch_reader import storage_loader

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_NATIVE = "<" if sys.byteorder == "little" else ">"


def _read_exact(file, n, checkpoint, what):
    data = file.read(n)
    if len(data) != n:
        raise corrupt(checkpoint, f"the file ends inside {what} ({len(data)} of {n} bytes)")
    return data


class _Bounded:
    """``file`` whose ``read(n)`` never asks for more than the bytes left: pickle frames and strings carry
    their own lengths, and a buffered file allocates the length asked for before reading, so a crafted
    length would be a memory bomb (``MemoryError``) instead of a clear "truncated" error."""

    def __init__(self, file):
        self._file = file
        here = file.tell()
        self._end = file.seek(0, 2)
        file.seek(here)

    def read(self, n=-1):
        left = max(self._end - self._file.tell(), 0)
        return self._file.read(left if n is None or n < 0 else min(n, left))

    def readinto(self, buffer):
        return self._file.readinto(buffer)

    def readline(self, limit=-1):
        return self._file.readline(limit)

    def tell(self):
        return self._file.tell()

    def seek(self, offset, whence=0):
        return self._file.seek(offset, whence)


def load_legacy(file, checkpoint, map_location=None):
    """The object saved in legacy-format ``file`` (a binary file at offset 0), with visionlite Tensors."""
    file = _Bounded(file)
    if restricted_load(file, checkpoint) != MAGIC_NUMBER:
        raise CheckpointError(f"{checkpoint} is a pickle file but not a torch checkpoint (bad magic number)")
    version = restricted_load(file, checkpoint)
    if version != PROTOCOL_VERSION:
        raise CheckpointError(f"{checkpoint}: unsupported legacy protocol version {version!r}")
    sys_info = restricted_load(file, checkpoint)
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    order = "<" if little else ">"
    storages = {}
    obj = restricted_load(file, checkpoint, storage_loader(checkpoint, storages, 6))
    keys = restricted_load(file, checkpoint)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)
            and sorted(keys) == sorted(storages)):
        raise corrupt(checkpoint, "the list of storage keys does not match the storages the object uses")
    here = file.tell()
    end = file.seek(0, 2)
    file.seek(here)
    for key in keys:
        ref = storages[key]
        if ref.nbytes + 8 > end - file.tell():  # checked before allocating: the size comes from the file
            raise corrupt(checkpoint, f"the file ends inside storage {key}")
        size = _read_exact(file, 8, checkpoint, f"storage {key}'s size")
        count = int(np.frombuffer(size, dtype=order + "i8")[0])
        if count != ref.numel:
            raise corrupt(checkpoint, f"storage {key} records {count} elements, expected {ref.numel}")
        ref.array = read_array(file, ref.np_dtype, ref.numel, checkpoint, f"storage {key}")
        if order != _NATIVE:
            ref.array.byteswap(inplace=True)
    materialize(storages, checkpoint, map_location, obj)
    return obj
