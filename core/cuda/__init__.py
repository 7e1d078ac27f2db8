"""``visionlite.cuda``: GPU queries, as ``torch.cuda``."""

from ..backend import cuda_available, cupy
from . import amp  # noqa: F401  (torch.cuda.amp; its names load visionlite.amp on first use)


def is_available():
    """True when cupy imports and sees a GPU."""
    return cuda_available()


def device_count():
    return cupy().cuda.runtime.getDeviceCount() if cuda_available() else 0


def synchronize(device=None):
    if cuda_available():
        cupy().cuda.Device(_index(device)).synchronize()


def _index(device):
    """The GPU index named by ``device`` (None: the current one; an int, 'cuda:1' or a device)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ..backend import Device

    index = Device(device).index
    return current_device() if index is None else index


def current_device():
    """Index of the current GPU (0 where none is usable, as visionlite then never selects one)."""
    return cupy().cuda.runtime.getDevice() if cuda_available() else 0


def set_device(device):
    """Make ``device`` (an index, 'cuda:N' or a device) the current GPU."""
    if cuda_available():
        cupy().cuda.runtime.setDevice(_index(device))


def _require(what):
    if not cuda_available():
        raise RuntimeError(f"torch.cuda.{what}: no CUDA GPU is available (cupy is missing or sees no GPU); "
                           "check visionlite.cuda.is_available() first")


def get_device_name(device=None):
    """The GPU's name, e.g. 'NVIDIA H100'."""
    _require("get_device_name")
    name = cupy().cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else name


def get_device_capability(device=None):
    """(major, minor) compute capability."""
    _require("get_device_capability")
    cc = cupy().cuda.Device(_index(device)).compute_capability
    return int(cc[:-1]), int(cc[-1])


def is_bf16_supported(including_emulation=True):
    """True on GPUs with compute capability 8.0 or newer."""
    return cuda_available() and get_device_capability()[0] >= 8


def empty_cache():
    """Return the memory cupy's pool caches to the GPU (a no-op without one)."""
    if cuda_available():
        cupy().get_default_memory_pool().free_all_blocks()


_peak = {}


def memory_allocated(device=None):
    """Bytes held by tensors on the GPU (cupy's memory pool in use); 0 without a GPU."""
    if not cuda_available():
        return 0
    used = cupy().get_default_memory_pool().used_bytes()
    index = _index(device)
    _peak[index] = max(_peak.get(index, 0), used)
    return used


def max_memory_allocated(device=None):
    """The largest ``memory_allocated`` seen since the last ``reset_peak_memory_stats`` (sampled when
    queried: visionlite does not hook every allocation)."""
    if not cuda_available():
        return 0
    memory_allocated(device)
    return _peak.get(_index(device), 0)


def reset_peak_memory_stats(device=None):
    if cuda_available():
        _peak.pop(_index(device), None)


def memory_reserved(device=None):
    """Bytes cupy's pool holds (in use or cached); 0 without a GPU."""
    return cupy().get_default_memory_pool().total_bytes() if cuda_available() else 0


def manual_seed(seed):
    from ..random import manual_seed as _seed

    _seed(seed)


manual_seed_all = manual_seed
