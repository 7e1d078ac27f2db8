"""``visionlite.nn.parallel``, as ``torch.nn.parallel``: ``DataParallel`` (one device per process, so a
pass-through wrapper) and ``DistributedDataParallel`` (one replica per process of a
``visionlite.distributed`` group)."""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
