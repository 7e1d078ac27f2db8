"""``nn.modules.instancenorm``, as in PyTorch: the instance-norm layers (defined in ``normalization.py``)."""
from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm  # noqa: F401

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
