"""Image transforms, as ``torchvision.transforms``: classes here, stateless functions in ``functional``."""
from . import functional
from .functional import InterpolationMode

__all__ = ["functional", "InterpolationMode"]
