"""visionlite.models.segmentation: TorchVision's semantic segmentation models (FCN, DeepLabV3, Lite R-ASPP)
and their COCO-with-VOC-labels weights. Imported on first use: ``import visionlite.models`` does not load it.
"""
from .deeplabv3 import *  # noqa: F401,F403
from .deeplabv3 import __all__ as _deeplabv3_all
from .fcn import *  # noqa: F401,F403
from .fcn import __all__ as _fcn_all
from .lraspp import *  # noqa: F401,F403
from .lraspp import __all__ as _lraspp_all

__all__ = [*_deeplabv3_all, *_fcn_all, *_lraspp_all]
