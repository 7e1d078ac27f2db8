"""The eval transforms that pretrained weights carry (``weights.transforms()``), as TorchVision's presets.

Each accepts a PIL image, a ``C,H,W`` tensor or a batched ``N,C,H,W`` tensor and returns a float tensor.
"""
from visionlite.core import dtypes as _dt
from visionlite.core.nn.module import Module
from visionlite.core.tensor import Tensor

from . import functional as F
from .functional import InterpolationMode, interpolation_mode

__all__ = ["ImageClassification", "ObjectDetection", "SemanticSegmentation", "VideoClassification",
           "OpticalFlow"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _to_float_tensor(img):
    if not isinstance(img, Tensor):
        img = F.pil_to_tensor(img)
    return F.convert_image_dtype(img, _dt.float32)


def _describe_input():
    return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``Tensor`` "
            "objects. ")


class ImageClassification(Module):
    """Resize the shorter side to ``resize_size``, crop the centre ``crop_size``, scale to [0, 1] and
    normalize with ``mean``/``std``."""

    def __init__(self, *, crop_size, resize_size=256, mean=_IMAGENET_MEAN, std=_IMAGENET_STD,
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def forward(self, img):
        from_pil = not isinstance(img, Tensor)  # a float tensor already at size may come back as the input
        img = F.resize(img, self.resize_size, interpolation=self.interpolation, antialias=self.antialias)
        img = F.center_crop(img, self.crop_size)
        return F.normalize(_to_float_tensor(img), mean=self.mean, std=self.std, inplace=from_pil)

    def __repr__(self):
        return (f"{type(self).__name__}(\n    crop_size={self.crop_size}\n    "
                f"resize_size={self.resize_size}\n"
                f"    mean={self.mean}\n    std={self.std}\n    interpolation={self.interpolation}\n)")

    def describe(self):
        return (_describe_input() + f"The images are resized to ``resize_size={self.resize_size}`` using "
                f"``interpolation={self.interpolation}``, followed by a central crop of "
                f"``crop_size={self.crop_size}``. Finally the values are first rescaled to ``[0.0, 1.0]`` "
                f"and then normalized using ``mean={self.mean}`` and ``std={self.std}``.")


class ObjectDetection(Module):
    """Scale to float [0, 1]; detection models normalize and resize inside."""

    def forward(self, img):
        return _to_float_tensor(img)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def describe(self):
        return _describe_input() + "The images are rescaled to ``[0.0, 1.0]``."


class SemanticSegmentation(Module):
    """Optionally resize the shorter side, then scale to [0, 1] and normalize."""

    def __init__(self, *, resize_size, mean=_IMAGENET_MEAN, std=_IMAGENET_STD,
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.resize_size = [resize_size] if resize_size is not None else None
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def forward(self, img):
        """PIL image or ``(C, H, W)`` / ``(B, C, H, W)`` tensor -> float tensor, normalized."""
        from_pil = not isinstance(img, Tensor)
        if self.resize_size is not None:
            img = F.resize(img, self.resize_size, interpolation=self.interpolation, antialias=self.antialias)
        # In place only on a tensor made here from a PIL image: a float tensor that needs no resizing may
        # come back as the caller's own data.
        return F.normalize(_to_float_tensor(img), mean=self.mean, std=self.std, inplace=from_pil)

    def __repr__(self):
        return (f"{type(self).__name__}(\n    resize_size={self.resize_size}\n    mean={self.mean}\n"
                f"    std={self.std}\n    interpolation={self.interpolation}\n)")

    def describe(self):
        return (_describe_input() + f"The images are resized to ``resize_size={self.resize_size}`` using "
                f"``interpolation={self.interpolation}``. Finally the values are first rescaled to "
                f"``[0.0, 1.0]`` and then normalized using ``mean={self.mean}`` and ``std={self.std}``.")


class VideoClassification(Module):
    """Frames ``(..., T, C, H, W)``: resize, centre crop, scale, normalize, then lay out as
    ``(..., C, T, H, W)``."""

    def __init__(self, *, crop_size, resize_size, mean=(0.43216, 0.394666, 0.37645),
                 std=(0.22803, 0.22145, 0.216989), interpolation=InterpolationMode.BILINEAR):
        super().__init__()
        self.crop_size = list(crop_size)
        self.resize_size = list(resize_size)
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation_mode(interpolation)

    def forward(self, vid):
        squeeze = vid.ndim < 5
        if squeeze:
            vid = vid.unsqueeze(0)
        n, t, c, h, w = vid.shape
        vid = vid.reshape(-1, c, h, w)
        vid = F.resize(vid, self.resize_size, interpolation=self.interpolation, antialias=False)
        vid = F.center_crop(vid, self.crop_size)
        vid = F.normalize(F.convert_image_dtype(vid, _dt.float32), mean=self.mean, std=self.std, inplace=True)
        vid = vid.reshape(n, t, c, *self.crop_size).permute(0, 2, 1, 3, 4)
        return vid.squeeze(0) if squeeze else vid

    def __repr__(self):
        return (f"{type(self).__name__}(\n    crop_size={self.crop_size}\n    "
                f"resize_size={self.resize_size}\n"
                f"    mean={self.mean}\n    std={self.std}\n    interpolation={self.interpolation}\n)")


class OpticalFlow(Module):
    """Both frames scaled to [-1, 1]."""

    def forward(self, img1, img2):
        out = []
        for img in (img1, img2):
            img = F.normalize(_to_float_tensor(img), mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], inplace=True)
            out.append(img.contiguous())
        return tuple(out)

    def __repr__(self):
        return f"{type(self).__name__}()"
