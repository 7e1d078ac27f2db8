"""``nn.modules.batchnorm``, as in PyTorch: the batch-norm layers (defined in ``normalization.py``)."""
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase  # noqa: F401

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"]  # noqa: F822  (SyncBatchNorm: lazy)


def __getattr__(name):
    if name == "SyncBatchNorm":  # its home is syncbatchnorm.py, with the distributed machinery it needs
        from .syncbatchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
