"""Stateless v2 transforms, as ``torchvision.transforms.v2.functional``: each op dispatches on its input's
kind (plain Tensor or ``Image``, PIL image, ``Video``, ``Mask``, ``BoundingBoxes``, ``KeyPoints``), and each
kind's kernel is public too (``resize_image``, ``resize_bounding_boxes``, ``resize_keypoints``, ...)."""
from ...functional import InterpolationMode
from ._color import *  # noqa: F401,F403
from ._color import __all__ as _color_all
from ._geometry import *  # noqa: F401,F403
from ._geometry import __all__ as _geometry_all
from ._misc import *  # noqa: F401,F403
from ._misc import __all__ as _misc_all
from ._utils import is_pure_tensor, register_kernel

__all__ = ["InterpolationMode", "is_pure_tensor", "register_kernel", *_color_all, *_geometry_all, *_misc_all]
