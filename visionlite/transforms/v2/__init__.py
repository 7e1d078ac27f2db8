"""Joint transforms for detection and segmentation, after ``torchvision.transforms.v2``: an image and its
``BoundingBoxes`` and ``Mask`` go through one call and stay aligned. The tensor kinds live in
``visionlite.transforms.v2.tv_tensors``.
"""
from . import tv_tensors
from ._transforms import *  # noqa: F401,F403
from ._transforms import __all__ as _all
from .tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, Mask

__all__ = ["tv_tensors", "BoundingBoxes", "BoundingBoxFormat", "Image", "Mask", *_all]
