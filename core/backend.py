"""Array backends: numpy on the CPU, cupy on NVIDIA GPUs.

cupy is imported the first time a GPU is asked for, so a CPU-only install never pays for it
and never fails to import. Code that must work on both writes ``xp = array_module(x)``.
"""

import numpy as np

_cupy = None
_cupy_error = None


def cupy():
    """Return the cupy module, importing it on first use; raise a clear error where it is missing."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy as cp

            cp.cuda.runtime.getDeviceCount()
            _cupy = cp
        except ImportError as e:
            _cupy_error = f"cupy is not installed ({e}); install it with `pip install visionlite[cuda]`"
        except Exception as e:  # cupy present, but no driver or no GPU
            _cupy_error = f"cupy is installed but no CUDA GPU is usable ({type(e).__name__}: {e})"
    if _cupy is None:
        raise RuntimeError(f"CUDA is not available: {_cupy_error}")
    return _cupy


def cuda_available():
    """True when cupy imports and sees at least one GPU."""
    try:
        return cupy().cuda.runtime.getDeviceCount() > 0
    except RuntimeError:
        return False


def is_cupy_array(a):
    return type(a).__module__.startswith("cupy")


def array_module(a):
    """numpy or cupy, whichever owns array ``a`` (a Tensor's array or a raw array)."""
    if type(a) is np.ndarray or not is_cupy_array(a):
        return np
    return _cupy


class Device:
    """A place where tensors live: ``Device('cpu')``, ``Device('cuda')``, ``Device('cuda:1')``."""

    __slots__ = ("type", "index")

    def __init__(self, spec, index=None):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if isinstance(spec, int):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {type(spec).__name__}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        if idx:
            if not idx.isdigit():
                raise ValueError(f"bad device index in {spec!r}: expected 'cuda:N' with N >= 0")
            index = int(idx)
        if kind == "cpu":
            index = None
        self.type, self.index = kind, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        if not isinstance(other, Device):
            return NotImplemented
        if self.type != other.type:
            return False
        return self.type == "cpu" or (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"


CPU = Device("cpu")
_cuda_devices = {}


def device_of(a):
    """The Device holding raw array ``a``."""
    if type(a) is np.ndarray:
        return CPU
    if is_cupy_array(a):
        i = a.device.id
        d = _cuda_devices.get(i)
        if d is None:
            d = _cuda_devices[i] = Device("cuda", i)
        return d
    return CPU


def module_for(device):
    """numpy or cupy for a Device."""
    return np if device.type == "cpu" else cupy()


def to_device(a, device):
    """Copy raw array ``a`` to ``device`` (no copy when it is already there)."""
    src = device_of(a)
    if src == device:
        return a
    if device.type == "cpu":
        return a.get()
    cp = cupy()
    with cp.cuda.Device(device.index or 0):
        return cp.asarray(a)
