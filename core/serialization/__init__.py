"""``visionlite.save`` and ``visionlite.load``: checkpoints in the safetensors format, and torch's files.

``save`` writes safetensors (tensors as safetensors tensors, the rest of the object as JSON metadata)
atomically, or torch's zip format with ``format="torch"``. ``load`` reads either, and both of torch's
formats (zip, and the legacy pre-1.6 one), telling them apart by their content. torch files are
unpickled weights-only: only tensors and plain containers are rebuilt, nothing named in the file is
imported or run.
"""
import io
import os
import pickle
import struct
import zipfile
import zlib

from .errors import CheckpointError, UnsafeCheckpointError, corrupt
from .user_allowlist import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals

__all__ = ["save", "load", "CheckpointError", "UnsafeCheckpointError", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "safe_globals", "get_unsafe_globals_in_checkpoint"]

_FORMATS = ("safetensors", "torch")


def save(obj, f, format="safetensors", *, pickle_module=None, pickle_protocol=2,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False):
    """Save ``obj`` (a tensor, a state dict, or nested dicts/lists/tuples of tensors, numpy arrays, numbers,
    strings, bytes and None) to ``f``, a path or a writable binary file.

    ``format="safetensors"`` (the default) writes visionlite's format; ``format="torch"`` writes torch's zip
    format, which ``torch.load(f, weights_only=True)`` reads. A path is written to a temporary file in the
    same folder, fsync'ed and renamed over ``f``, so a crash never leaves a half-written checkpoint.
    Tensors on a GPU are written from host memory; Parameters are saved as plain tensors; a tensor
    appearing twice is stored once.

    Any other picklable object (a whole ``nn.Module``, an ``argparse.Namespace`` in a checkpoint dict) is
    saved as ``torch.save`` saves it: torch's zip format with a pickle, whatever ``format`` says. Loading
    such a file needs ``load(f, weights_only=False)`` (or ``add_safe_globals`` for its classes).

    ``torch.save``'s other arguments are accepted so calls carry over: a pickle module passed third (its
    position there) or as ``pickle_module``, ``pickle_protocol`` and ``_use_new_zipfile_serialization``
    change nothing (visionlite always writes the zip layout, with protocol 2 as torch does).
    """
    if not isinstance(format, str) and hasattr(format, "Pickler"):  # torch.save(obj, f, pickle)
        format = "safetensors"
    from .atomic import write_atomically

    if format not in _FORMATS:
        raise ValueError(f"unknown checkpoint format {format!r}; expected one of {', '.join(_FORMATS)}")
    if format == "safetensors":
        from .safe_format import to_bytes

        data = _or_pickled(to_bytes, obj)  # encode fully before touching the disk: bad input leaves no file

        def write(out):
            out.write(data)
    else:
        from .torch_writer import write_torch_zip

        def encode(o):
            buf = io.BytesIO()
            write_torch_zip(o, buf)
            return buf.getvalue()

        data = _or_pickled(encode, obj)

        def write(out):
            out.write(data)

    if hasattr(f, "write"):
        write(f)
    elif isinstance(f, (str, bytes, os.PathLike)):
        write_atomically(f, write)
    else:
        raise TypeError(f"save() expects a path or a writable binary file, got {type(f).__name__}")


def _or_pickled(encode, obj):
    """``encode(obj)``, or, for objects the weights-only formats cannot hold, torch's pickled zip format."""
    try:
        return encode(obj)
    except TypeError:
        from .pickle_writer import pickle_to_bytes

        return pickle_to_bytes(obj)


def get_unsafe_globals_in_checkpoint(f):
    """Sorted ``"module.name"`` globals in torch zip checkpoint ``f`` that a weights-only ``load`` refuses
    (read from the pickle's opcodes; nothing is unpickled)."""
    from .checkpoint_globals import get_unsafe_globals_in_checkpoint as scan

    return scan(f)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``visionlite.save`` or ``torch.save`` from ``f`` (a path or a binary file).

    The format is detected from the content: safetensors, torch's zip format or its legacy format.
    Tensors load as visionlite Tensors on the CPU; ``map_location`` moves them: ``'cuda'``, a device, a dict
    from saved locations to devices (``{'cuda:1': 'cuda:0'}``, unmapped locations load on the CPU) or a
    callable ``fn(storage, location)`` returning a tensor, device or None. A plain safetensors file loads as
    a dict of tensors.

    ``weights_only=True`` (the default, as in PyTorch 2.6+): torch files are rebuilt from an allowlist of
    tensor and container types plus the globals trusted with ``add_safe_globals``; any other global raises
    ``UnsafeCheckpointError`` (a ``pickle.UnpicklingError``) naming both ways out. ``weights_only=False``
    unpickles anything, importing and running what the file names: only for files you trust. As in
    PyTorch, ``weights_only=None`` means True unless a ``pickle_module`` is given. ``mmap`` is accepted
    (storages are read into memory); ``pickle_load_args`` take only ``encoding``/``errors``, which
    visionlite's unpicklers fix at UTF-8 as PyTorch's default.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    unknown = set(pickle_load_args) - {"encoding", "errors"}
    if unknown:
        raise TypeError(f"load() got unexpected keyword argument(s) {sorted(unknown)}")
    if not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be True or False, got {weights_only!r}")
    from .storage import location_resolver
    from .unpicklers import FullUnpickler, SafeGlobalsUnpickler, use

    location_resolver(map_location)  # a bad map_location fails here, not as a "corrupt file" later
    file, name, close = _open(f)
    try:
        with use(SafeGlobalsUnpickler if weights_only else FullUnpickler):
            return _load(file, name, map_location, path=name if close else None)
    finally:
        if close:
            file.close()


def _open(f):
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fsdecode(f)
        return open(path, "rb"), path, True
    if not hasattr(f, "read"):
        raise TypeError(f"load() expects a path or a readable binary file, got {type(f).__name__}")
    name = getattr(f, "name", None)
    name = os.fsdecode(name) if isinstance(name, (str, bytes)) else "<file object>"
    seekable = getattr(f, "seekable", lambda: False)()
    return (f if seekable else io.BytesIO(f.read())), name, False


_TAR_MAGIC = b"ustar"


def detect_format(head):
    """``'torch_zip'``, ``'torch_legacy'``, ``'safetensors'``, ``'tar'``, ``'pickle'`` or None for the first
    512 bytes of a file."""
    from .safe_format import _MAX_HEADER
    from .torch_legacy import MAGIC_NUMBER

    if head[:4] == b"PK\x03\x04":
        return "torch_zip"
    # PROTO n, a FRAME from protocol 4 on, LONG1 of 10 bytes holding the magic: torch.save's legacy header
    body = head[11:] if head[2:3] == b"\x95" else head[2:]
    if head[:1] == b"\x80" and body[:12] == b"\x8a\x0a" + MAGIC_NUMBER.to_bytes(10, "little"):
        return "torch_legacy"
    if len(head) >= 10 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= _MAX_HEADER:
        return "safetensors"
    if head[257:262] == _TAR_MAGIC:
        return "tar"
    if head[:1] == b"\x80":
        return "pickle"
    return None


def _load(file, name, map_location, path=None):
    start = file.tell()
    head = file.read(512)
    file.seek(start)
    kind = detect_format(head)
    if kind is None:
        what = "is empty" if not head else f"is not a checkpoint (it starts with {head[:16]!r})"
        raise CheckpointError(f"{name} {what}: visionlite.load reads safetensors files and files written by "
                              "torch.save")
    if kind == "tar":
        raise CheckpointError(f"{name} is in torch's tar format (PyTorch < 0.4), which visionlite cannot "
                              "read: re-save it with a recent torch.save")
    if kind == "pickle":
        raise CheckpointError(f"{name} is a plain pickle, not a torch checkpoint; visionlite.load does not "
                              "unpickle arbitrary objects")
    try:
        if kind == "safetensors":
            from .safe_format import load_safetensors

            return load_safetensors(file, name, map_location, path)
        if kind == "torch_zip":
            from .torch_reader import load_zip

            return load_zip(file, name, map_location)
        from .torch_legacy import load_legacy

        return load_legacy(file, name, map_location)
    except CheckpointError:
        raise
    except (EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error,
            pickle.UnpicklingError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            OverflowError) as e:
        raise corrupt(name, f"{type(e).__name__}: {e}") from e
    except MemoryError:
        # the readers name the tensor or storage where they allocate; this is the net under the rest
        raise CheckpointError(f"{name}: this machine ran out of memory while loading it (the file holds "
                              f"{_size_of(file)} bytes)") from None


def _size_of(file):
    try:
        here = file.tell()
        size = file.seek(0, 2)
        file.seek(here)
        return f"{size:,}"
    except (OSError, ValueError):
        return "an unknown number of"
