"""Storages named by torch checkpoints, the tensors viewing them, and where loaded tensors are placed.

Unpickling a torch checkpoint meets each tensor before the bytes of its storage (the legacy format
stores them after the pickle), so tensors are first created empty and listed on their storage; once
every storage is read, ``materialize`` fills each tensor from it and moves it to its device.

Memory stays bounded by the file: a tensor that is its storage whole reuses the storage's array; other
views are copied out (owned and contiguous, as before) only while all copies add up to at most the bytes
of the file's storages (or 1 MiB); past that budget the tensors viewing a storage share it, as torch's
loaded tensors do (one choice per storage: its tensors all own their data or all share it). A view that
may overlap itself (``torch.zeros(1).expand(20000, 20000)``: 4 bytes in the file, 1.6 GB as a copy) stays
a read-only numpy view over the storage, as torch keeps it a view: reading it costs nothing, ``x[i] = v``
copies it first, in-place arithmetic raises (torch refuses writes to self-overlapping tensors too).
"""
import warnings

import numpy as np

from .. import dtypes as _dt
from ..backend import CPU, Device, to_device
from ..tensor import Tensor
from .errors import CheckpointError, corrupt


class StorageRef:
    """A flat storage of ``numel`` elements of numpy dtype ``np_dtype``, saved at ``location``.

    ``views`` lists ``(tensor, offset, size, stride, view_dtype)`` for the tensors built on it;
    ``array`` is set by the format reader once the bytes are read.
    """

    __slots__ = ("key", "np_dtype", "numel", "location", "views", "array", "bf16_as_uint16")

    def __init__(self, key, np_dtype, numel, location, bf16_as_uint16=False):
        self.key, self.np_dtype, self.numel, self.location = key, np_dtype, numel, location
        self.bf16_as_uint16 = bf16_as_uint16
        self.views = []
        self.array = None

    @property
    def nbytes(self):
        return self.numel * self.np_dtype.itemsize


def location_resolver(map_location):
    """``map_location`` (None, str, device, dict or callable) -> ``fn(storage_tensor, location) -> Device``.

    None keeps everything on the CPU. A dict maps saved location strings (``'cuda:0'``) to targets;
    unmapped locations go to the CPU. A callable receives the storage as a flat CPU tensor and the saved
    location, and returns a tensor (whose device is used), a device, a string or None (the CPU).
    """
    if map_location is None:
        return lambda storage, location: CPU
    if isinstance(map_location, (str, Device)):
        target = Device(map_location)
        return lambda storage, location: target
    if isinstance(map_location, dict):
        table = {k: Device(v) for k, v in map_location.items()}
        return lambda storage, location: table.get(location, CPU)
    if callable(map_location):
        def resolve(storage, location):
            result = map_location(storage, location)
            if result is None:
                return CPU
            if isinstance(result, Tensor):
                return result.device
            try:
                return Device(result)
            except (TypeError, ValueError) as e:
                raise CheckpointError(f"map_location({location!r}) returned {result!r}: {e}") from None
        return resolve
    raise TypeError(f"map_location must be None, a string, a device, a dict or a callable, "
                    f"got {type(map_location).__name__}")


def _checked_view(base, offset, size, stride, name, writeable=False):
    """The view ``(offset, size, stride)`` (in elements) of flat ``base``, without copying (read-only unless
    ``writeable``).

    The view is bounds-checked first: a crafted file must not make ``as_strided`` read outside ``base``.
    """
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
        raise corrupt(name, f"bad tensor geometry size={size!r} stride={stride!r}")
    for v in (offset, *size, *stride):
        if type(v) is not int or v < 0:
            raise corrupt(name, f"bad tensor geometry offset={offset!r} size={size!r} stride={stride!r}")
    if 0 in size:
        return np.empty(size, dtype=base.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= base.size:
        raise corrupt(name, f"a tensor view (offset {offset}, size {size}, stride {stride}) reaches past the "
                            f"end of its storage of {base.size} elements")
    strides = tuple(s * base.itemsize for s in stride)
    return np.lib.stride_tricks.as_strided(base[offset:], shape=size, strides=strides, writeable=writeable)


def _never_overlaps(size, stride):
    """True when no two indices of the view reach the same element (sufficient test: each dimension's
    stride steps over everything the smaller-strided dimensions span)."""
    span = 0  # the largest offset reached by the dimensions seen so far
    for n, s in sorted(((n, s) for n, s in zip(size, stride) if n > 1), key=lambda d: d[1]):
        if s <= span:
            return False
        span += (n - 1) * s
    return True


def _numel(size):
    count = 1
    for n in size:
        count *= n
    return count


def _whole(size, stride, offset, numel):
    """Whether the view is its whole storage in C order (strides of length-1 dimensions do not matter)."""
    if offset != 0 or len(size) != len(stride):  # both are tuples (see torch_objects._empty_view)
        return False
    expected = 1
    for n, s in zip(reversed(size), reversed(stride)):
        if type(n) is not int or (n != 1 and s != expected):
            return False
        expected *= n
    return expected == numel


def read_array(file, np_dtype, numel, checkpoint, what):
    """``numel`` elements of ``np_dtype`` read from ``file`` into a new (owned, writable) array."""
    array = allocate(numel, np_dtype, checkpoint, what)
    view = memoryview(array.view(np.uint8))
    done = 0
    while done < array.nbytes:
        n = file.readinto(view[done:])
        if not n:
            raise corrupt(checkpoint, f"the file ends inside {what} ({done} of {array.nbytes} bytes)")
        done += n
    return array


def allocate(numel, np_dtype, checkpoint, what):
    """``np.empty(numel, np_dtype)``, or a CheckpointError naming ``what`` and its size if memory runs out."""
    try:
        return np.empty(numel, dtype=np_dtype)
    except (MemoryError, ValueError) as e:
        raise CheckpointError(f"{checkpoint}: {what} needs {numel * np.dtype(np_dtype).itemsize:,} bytes "
                              f"({numel:,} x {np.dtype(np_dtype)}), more than this machine can allocate "
                              f"({type(e).__name__})") from None


def warn_bf16_as_float32(checkpoint):
    warnings.warn(f"{checkpoint}: bfloat16 tensors are loaded as float32 because the ml_dtypes package is "
                  "not installed (pip install ml_dtypes to keep bfloat16)", stacklevel=5)


def bf16_bits_to_float32(raw_uint16):
    """float32 values of bfloat16 bit patterns (exact: bfloat16 is the top half of a float32)."""
    return (raw_uint16.astype(np.uint32) << 16).view(np.float32)


_SMALL_COPIES = 1 << 20  # copies always allowed, whatever the file's size


def materialize(storages, name, map_location, obj=None):
    """Fill every tensor listed on ``storages`` (key -> StorageRef with ``array`` set) and place it.

    ``obj`` (the loaded object) is only used to name a tensor in an error message.
    """
    resolve = location_resolver(map_location)
    warned = False
    # bytes of copies the views may still take (see the module docstring): as much as the file's storages
    budget = max(sum(ref.nbytes for ref in storages.values()), _SMALL_COPIES)
    for ref in storages.values():
        base = ref.array
        if ref.bf16_as_uint16:
            if not warned:
                warn_bf16_as_float32(name)
                warned = True
            base = bf16_bits_to_float32(base)
        if not ref.views:
            continue
        device = resolve(Tensor._wrap(base), ref.location)
        views = []  # (tensor, typed storage, offset, size, stride, read-only view, disjoint)
        for tensor, offset, size, stride, view_dtype in ref.views:
            src = base
            if view_dtype is not None and view_dtype != base.dtype:
                if base.nbytes % view_dtype.itemsize:
                    raise corrupt(name, f"storage {ref.key} of {base.nbytes} bytes cannot hold {view_dtype}")
                src = base.view(view_dtype)
            if len(ref.views) == 1 and src is base and _whole(size, stride, offset, base.size):
                tensor._data = base.reshape(size) if device == CPU else to_device(base.reshape(size), device)
                continue
            view = _checked_view(src, offset, size, stride, name)  # bounds-checked before anything else
            views.append((tensor, src, offset, size, stride, view, _never_overlaps(size, stride)))
        # one decision per storage, so its tensors either all own their data or all share it
        wanted = sum(v[5].nbytes for v in views if v[6])
        copy = wanted <= budget
        if copy:
            budget -= wanted
        on_device = {}
        for tensor, src, offset, size, stride, view, disjoint in views:
            if disjoint and copy:
                data = _copy(view, name, ref, tensor, obj)
                tensor._data = to_device(data, device) if device != CPU else data
            elif device == CPU:  # shared with the other tensors viewing the storage, as torch shares it
                tensor._data = _checked_view(src, offset, size, stride, name, writeable=True) \
                    if disjoint else view
            else:  # the storage goes to the device once and the view is made there
                key = src.dtype.str
                if key not in on_device:
                    on_device[key] = to_device(src, device)
                from ..backend import array_module

                xp = array_module(on_device[key])
                tensor._data = xp.lib.stride_tricks.as_strided(
                    on_device[key][offset:], shape=size, strides=tuple(s * src.itemsize for s in stride))
        for tensor, *_ in ref.views:
            if tensor.requires_grad and not tensor.is_floating_point():
                tensor.requires_grad = False


def _copy(view, name, ref, tensor, obj):
    try:
        return np.array(view, order="C", copy=True)
    except MemoryError:
        what = tensor_path(obj, tensor)
        raise CheckpointError(f"{name}: tensor {what} of size {tuple(view.shape)} ({view.nbytes:,} bytes, a "
                              f"view of storage {ref.key}) cannot be allocated") from None


def tensor_path(obj, tensor, limit=100_000):
    """Where ``tensor`` sits in ``obj`` (``'layer1.0.conv1.weight'``, ``"['state'][0]"``), or ``'<unnamed>'``.

    Only used for error messages; walks at most ``limit`` containers, without recursion.
    """
    stack = [(obj, "")]
    seen = set()
    while stack and limit > 0:
        node, path = stack.pop()
        if node is tensor:
            return repr(path or "<the whole object>")
        if id(node) in seen:
            continue
        seen.add(id(node))
        limit -= 1
        if isinstance(node, dict):
            stack.extend((v, (f"{path}.{k}" if path else k) if isinstance(k, str) else f"{path}[{k!r}]")
                         for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return "<unnamed>"


def check_supported(np_dtype, what):
    """Refuse numpy dtypes visionlite tensors cannot hold (e.g. complex, uint16), naming ``what``."""
    try:
        _dt.from_numpy_dtype(np_dtype)
    except TypeError as e:
        raise CheckpointError(f"{what}: {e}") from None


def host_contiguous(data):
    """A C-contiguous host copy of raw array ``data`` (no copy if it already is one; 0-d stays 0-d)."""
    data = to_device(data, CPU)
    return data if data.flags.c_contiguous else np.array(data, order="C")
