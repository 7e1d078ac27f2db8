"""``nn.modules.batchnorm``, as in PyTorch: the batch-norm layers (defined in ``normalization.py``)."""
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase  # noqa: F401

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
