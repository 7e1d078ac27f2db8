"""``DistributedDataParallel``: the name exists so imports carry over; building one explains what to do."""
from ..module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Multi-process data parallelism. Without an initialised ``visionlite.distributed`` process group this
    raises PyTorch's error; with one, the wrapper itself is not implemented yet: average gradients with
    ``visionlite.distributed.all_reduce`` after ``backward()`` instead."""

    def __init__(self, module, *args, **kwargs):
        from ... import distributed

        if not distributed.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure to call "
                             "init_process_group. (DistributedDataParallel needs visionlite.distributed.)")
        raise NotImplementedError("visionlite has no DistributedDataParallel wrapper yet: use the module "
                                  "itself and average its gradients with visionlite.distributed.all_reduce "
                                  "(op=ReduceOp.SUM, then divide by get_world_size()) after backward()")
