"""The device factory functions use when none is given (``set_default_device``/``get_default_device``,
as PyTorch's): one process-wide setting, read only by ``creation``."""
from .backend import CPU, Device

_DEFAULT = [None]  # None: the CPU


def set_default_device(device):
    """Make ``device`` (a string, a ``device``, an index meaning a GPU, or None for the CPU) the device
    that ``zeros``, ``tensor``, ``randn``... allocate on when not told one."""
    if device is None:
        _DEFAULT[0] = None
        return
    if isinstance(device, int):
        device = f"cuda:{device}"
    d = Device(device)
    _DEFAULT[0] = None if d == CPU else d


def get_default_device():
    """The device factory functions allocate on by default (``device(type='cpu')`` unless set)."""
    d = _DEFAULT[0]
    if d is None:
        return CPU
    if d.type == "cuda" and d.index is None:
        return Device("cuda:0")
    return d


def current():
    """The set default, or None for the CPU (the cheap check ``creation`` makes)."""
    return _DEFAULT[0]
