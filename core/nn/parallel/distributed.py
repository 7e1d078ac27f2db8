"""``DistributedDataParallel``: the name exists so imports carry over; building one explains why not."""
from ..module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Multi-process data parallelism. visionlite has no ``visionlite.distributed`` process group, so
    constructing one raises; train in one process (optionally with ``DataParallel``) instead."""

    def __init__(self, module, *args, **kwargs):
        raise RuntimeError("DistributedDataParallel needs visionlite.distributed, which visionlite does not "
                           "provide (as in PyTorch: 'Default process group has not been initialized, please "
                           "make sure to call init_process_group.'). Train in one process: use the module "
                           "itself, or nn.DataParallel(module).")
