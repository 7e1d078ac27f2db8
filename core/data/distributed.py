"""``visionlite.data.distributed``, as ``torch.utils.data.distributed``: the ``DistributedSampler``."""
from .sampler import DistributedSampler

__all__ = ["DistributedSampler"]
