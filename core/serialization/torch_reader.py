"""Reading ``torch.save``'s zip format (the default since PyTorch 1.6).

The archive holds ``<prefix>/data.pkl`` (the object, protocol-2 pickle whose tensors name their storages
through persistent ids ``('storage', StorageType, key, location, numel)``), one record
``<prefix>/data/<key>`` of raw bytes per storage, ``<prefix>/byteorder`` and ``<prefix>/version``.
"""
import io
import zipfile

import numpy as np

from .errors import CheckpointError, corrupt
from .restricted_unpickler import restricted_load
from .storage import materialize
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
        obj = restricted_load(io.BytesIO(zf.read(f"{prefix}/data.pkl")), checkpoint,
                              storage_loader(checkpoint, storages, 5))
        for key, ref in storages.items():
            record = f"{prefix}/data/{key}"
            if record not in names:
                raise corrupt(checkpoint, f"the record for storage {key} is missing")
            data = zf.read(record)
            if len(data) < ref.nbytes:
                raise corrupt(checkpoint, f"storage {key} holds {len(data)} bytes, expected {ref.nbytes}")
            dtype = ref.np_dtype.newbyteorder("<" if order == "little" else ">")
            ref.array = np.frombuffer(data, dtype=dtype, count=ref.numel).astype(ref.np_dtype, copy=False)
    materialize(storages, checkpoint, map_location)
    return obj
