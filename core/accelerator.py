"""``visionlite.accelerator``, as ``torch.accelerator``: the one accelerator visionlite drives (a CUDA GPU
through cupy), so ``device = torch.accelerator.current_accelerator().type if
torch.accelerator.is_available() else "cpu"`` carries over."""
from . import cuda as _cuda
from .backend import Device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize", "empty_cache", "memory_allocated", "max_memory_allocated",
           "reset_peak_memory_stats"]


def is_available():
    """True when a CUDA GPU is usable (cupy imports and sees one)."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """``device('cuda')`` where cupy can drive a GPU, else None."""
    return Device("cuda") if _cuda.is_available() else None


def device_count():
    return _cuda.device_count()


def current_device_index():
    return _cuda.current_device() if _cuda.is_available() else -1


current_device_idx = current_device_index


def set_device_index(device):
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None):
    _cuda.synchronize(device)


def empty_cache():
    _cuda.empty_cache()


def memory_allocated(device_index=None):
    return _cuda.memory_allocated(device_index)


def max_memory_allocated(device_index=None):
    return _cuda.max_memory_allocated(device_index)


def reset_peak_memory_stats(device_index=None):
    _cuda.reset_peak_memory_stats(device_index)
