"""``visionlite.cuda``: GPU queries, as ``torch.cuda``."""

from ..backend import cuda_available, cupy
from . import amp  # noqa: F401  (torch.cuda.amp; its names load visionlite.amp on first use)


def is_available():
    """True when cupy imports and sees a GPU."""
    return cuda_available()


def device_count():
    return cupy().cuda.runtime.getDeviceCount() if cuda_available() else 0


def synchronize():
    if cuda_available():
        cupy().cuda.Device().synchronize()


def manual_seed(seed):
    from ..random import manual_seed as _seed

    _seed(seed)


manual_seed_all = manual_seed
