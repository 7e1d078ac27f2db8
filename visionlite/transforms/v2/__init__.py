"""Joint transforms for detection and segmentation, after ``torchvision.transforms.v2``: an image (or
video) and its ``BoundingBoxes``, ``Mask`` and ``KeyPoints`` go through one call and stay aligned. The tensor
kinds live in ``visionlite.transforms.v2.tv_tensors``; the stateless ops in ``.functional``.
"""
from . import functional, tv_tensors
from ._augment import *  # noqa: F401,F403
from ._augment import __all__ as _augment_all
from ._auto_augment import *  # noqa: F401,F403
from ._auto_augment import __all__ as _auto_augment_all
from ._color import *  # noqa: F401,F403
from ._color import __all__ as _color_all
from ._container import *  # noqa: F401,F403
from ._container import __all__ as _container_all
from ._detection import *  # noqa: F401,F403
from ._detection import __all__ as _detection_all
from ._geometry_extra import *  # noqa: F401,F403
from ._geometry_extra import __all__ as _geometry_extra_all
from ._meta import *  # noqa: F401,F403
from ._meta import __all__ as _meta_all
from ._misc import *  # noqa: F401,F403
from ._misc import __all__ as _misc_all
from ._transform import Transform
from ._transforms import *  # noqa: F401,F403
from ._transforms import __all__ as _transforms_all
from ._type_conversion import *  # noqa: F401,F403
from ._type_conversion import __all__ as _type_conversion_all
from ._utils import *  # noqa: F401,F403
from ._utils import __all__ as _utils_all
from .functional import InterpolationMode
from .tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, KeyPoints, Mask, Video

__all__ = ["functional", "tv_tensors", "Transform", "InterpolationMode", "BoundingBoxes", "BoundingBoxFormat",
           "Image", "Video", "Mask", "KeyPoints", *_transforms_all, *_color_all, *_container_all,
           *_detection_all, *_misc_all, *_augment_all, *_auto_augment_all, *_geometry_extra_all, *_meta_all,
           *_type_conversion_all, *_utils_all]


def _share_v1_get_params():
    """TorchVision's v2 classes answer ``get_params`` with their v1 twin's (for v1-style code that draws
    parameters itself, e.g. ``v2.RandomResizedCrop.get_params(img, scale, ratio)``)."""
    from .. import autoaugment as _aa
    from .. import transforms as _v1

    for name in ("ColorJitter", "ElasticTransform", "GaussianBlur", "RandomAffine", "RandomCrop",
                 "RandomErasing", "RandomPerspective", "RandomResizedCrop", "RandomRotation"):
        globals()[name].get_params = staticmethod(getattr(_v1, name).get_params)
    AutoAugment.get_params = staticmethod(_aa.AutoAugment.get_params)  # noqa: F405


_share_v1_get_params()
