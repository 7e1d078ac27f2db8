"""``visionlite.nn.parallel``, as ``torch.nn.parallel``: ``DataParallel`` (one device per process, so a
pass-through wrapper) and ``DistributedDataParallel`` (needs a process group, which visionlite lacks)."""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
