"""Joint transforms for detection and segmentation, after ``torchvision.transforms.v2``: an image and its
``BoundingBoxes`` and ``Mask`` go through one call and stay aligned. The tensor kinds live in
``visionlite.transforms.v2.tv_tensors``.
"""
from . import tv_tensors
from ._color import *  # noqa: F401,F403
from ._color import __all__ as _color_all
from ._container import *  # noqa: F401,F403
from ._container import __all__ as _container_all
from ._detection import *  # noqa: F401,F403
from ._detection import __all__ as _detection_all
from ._misc import *  # noqa: F401,F403
from ._misc import __all__ as _misc_all
from ._transform import Transform
from ._transforms import *  # noqa: F401,F403
from ._transforms import __all__ as _transforms_all
from .tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, Mask

__all__ = ["tv_tensors", "Transform", "BoundingBoxes", "BoundingBoxFormat", "Image", "Mask", *_transforms_all,
           *_color_all, *_container_all, *_detection_all, *_misc_all]
