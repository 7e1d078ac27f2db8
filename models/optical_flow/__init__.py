"""visionlite.models.optical_flow: TorchVision's RAFT optical-flow models (``raft_large``, ``raft_small``) and
their weights. Imported on first use: ``import visionlite.models`` does not load it."""
from .raft import *  # noqa: F401,F403
from .raft import __all__ as _raft_all

__all__ = [*_raft_all]
