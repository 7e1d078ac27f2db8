"""Reading ``torch.save``'s zip format (the default since PyTorch 1.6).

The archive holds ``<prefix>/data.pkl`` (the object, protocol-2 pickle whose tensors name their storages
through persistent ids ``('storage', StorageType, key, location, numel)``), one record
``<prefix>/data/<key>`` of raw bytes per storage, ``<prefix>/byteorder`` and ``<prefix>/version``.
"""
import io
import struct
import sys
import zipfile
import zlib

import numpy as np

from .errors import CheckpointError, corrupt
from .restricted_unpickler import restricted_load
from .storage import allocate, materialize, read_array
from .torch_objects import StorageType


def storage_loader(checkpoint, storages, expected_len):
    """A ``persistent_load`` that turns storage ids into StorageRefs (one per key) in ``storages``."""
    types = {}

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == expected_len and _ascii(pid[0]) == "storage"):
            raise corrupt(checkpoint, f"unexpected persistent id {pid!r}")
        storage_type, key, location, numel = pid[1:5]
        if expected_len == 6 and pid[5] is not None:
            raise CheckpointError(f"{checkpoint}: storage views (pre-1.0 legacy files) are not supported")
        key, location = _ascii(key), _ascii(location)
        if not isinstance(storage_type, StorageType) or type(numel) is not int or numel < 0 \
                or not isinstance(key, str) or not isinstance(location, str):
            raise corrupt(checkpoint, f"bad storage id {pid!r}")
        ref = storages.get(key)
        if ref is None:
            ref = storages[key] = storage_type.storage(key, numel, location, checkpoint)
            types[key] = storage_type
        elif ref.numel != numel or types[key] is not storage_type:
            raise corrupt(checkpoint, f"storage {key} is named with two different types or sizes")
        return ref

    return persistent_load


def _ascii(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def _archive_prefix(zf, checkpoint):
    names = zf.namelist()
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise CheckpointError(f"{checkpoint} is a TorchScript archive (torch.jit.save), not a checkpoint: "
                              "load it with torch.jit.load and save its state_dict()")
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) == 1:
        return pickles[0][: -len("/data.pkl")]
    raise CheckpointError(f"{checkpoint} is a zip archive but not a torch checkpoint (no <name>/data.pkl)")


def _read_record(zf, file, info, ref, checkpoint):
    """Storage ``ref``'s record as a new array, read straight from ``file`` and CRC-checked."""
    what = f"storage {ref.key}"
    if info.file_size != ref.nbytes:
        raise corrupt(checkpoint, f"{what} holds {info.file_size} bytes, expected {ref.nbytes}")
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
        file.seek(info.header_offset)
        local = file.read(30)
        if len(local) == 30 and local[:4] == b"PK\x03\x04":
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            end = file.seek(0, 2)
            if start + ref.nbytes > end:  # checked before allocating: the size comes from the file
                raise corrupt(checkpoint, f"{what} claims {ref.nbytes:,} bytes but the file ends "
                                          f"{max(end - start, 0):,} bytes after its start")
            file.seek(start)
            array = read_array(file, ref.np_dtype, ref.numel, checkpoint, what)
            if zlib.crc32(array.view(np.uint8)) != info.CRC:
                raise corrupt(checkpoint, f"{what} fails its CRC-32 check")
            return array
    # compressed or unusual records: zipfile unpacks and checks them, into an array of the checked size
    _check_inflation(info, checkpoint, what)
    array = allocate(ref.numel, ref.np_dtype, checkpoint, what)
    view = memoryview(array.view(np.uint8))
    done = 0
    with zf.open(info) as record:
        while done < len(view):
            n = record.readinto(view[done:])
            if not n:
                raise corrupt(checkpoint, f"{what} ends after {done} of {ref.nbytes} bytes")
            done += n
    return array


# torch.save stores records uncompressed; a compressed one may inflate at most this much (zeros compress
# about 1000:1 with deflate, so a larger declared size from a small record is a decompression bomb)
MAX_INFLATION = 100
_SMALL_RECORD = 1 << 20  # records up to this size are not held to the ratio


def _check_inflation(info, checkpoint, what):
    if info.file_size > max(_SMALL_RECORD, MAX_INFLATION * info.compress_size):
        raise CheckpointError(
            f"{checkpoint}: {what} is a compressed zip record of {info.compress_size:,} bytes that claims "
            f"{info.file_size:,} bytes once inflated (over {MAX_INFLATION}:1): refusing a possible "
            "decompression bomb. torch.save never compresses records; re-save the checkpoint with it.")


def load_zip(file, checkpoint, map_location=None):
    """The object saved in torch zip-format ``file`` (a seekable binary file), with visionlite Tensors."""
    with zipfile.ZipFile(file) as zf:
        prefix = _archive_prefix(zf, checkpoint)
        names = set(zf.namelist())
        order = "little"
        if f"{prefix}/byteorder" in names:
            order = zf.read(f"{prefix}/byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise corrupt(checkpoint, f"unknown byte order {order!r}")
        storages = {}
        pickle_info = zf.getinfo(f"{prefix}/data.pkl")
        if pickle_info.compress_type != zipfile.ZIP_STORED:
            _check_inflation(pickle_info, checkpoint, "the pickle data.pkl")
        obj = restricted_load(io.BytesIO(zf.read(pickle_info)), checkpoint,
                              storage_loader(checkpoint, storages, 5))
        for key, ref in storages.items():
            record = f"{prefix}/data/{key}"
            if record not in names:
                raise corrupt(checkpoint, f"the record for storage {key} is missing")
            ref.array = _read_record(zf, file, zf.getinfo(record), ref, checkpoint)
            if order != sys.byteorder:
                ref.array.byteswap(inplace=True)
    materialize(storages, checkpoint, map_location, obj)
    return obj
