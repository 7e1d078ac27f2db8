"""``nn.modules.module``, as in PyTorch: the ``Module`` base class (defined in ``nn/module.py``)."""
from ..module import Module

__all__ = ["Module"]
