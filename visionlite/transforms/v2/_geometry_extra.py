"""More geometric v2 transforms: ``ElasticTransform`` (pixels, masks, boxes and key points displaced
together), ``RandomResize``, and the multi-crops ``FiveCrop``/``TenCrop`` (images and videos only)."""
import numbers
import warnings

import visionlite as vl
from visionlite.core.tensor import Tensor

from .. import _random as R
from .. import functional as F
from ..functional import InterpolationMode, _compute_resized_output_size, interpolation_mode
from . import functional as F2
from ._transform import Transform, setup_fill
from ._transforms import _SIZE_MSG, Resize, _v1
from .tv_tensors import BoundingBoxes, KeyPoints, Mask, wrap

__all__ = ["ElasticTransform", "RandomResize", "FiveCrop", "TenCrop"]


def _number_or_pair(value, name):
    if isinstance(value, numbers.Number):
        return [float(value), float(value)]
    value = list(value)
    if len(value) == 1:
        return [float(value[0])] * 2
    if len(value) != 2:
        raise ValueError(f"If {name} is a sequence its length should be 1 or 2. Got {len(value)}")
    return [float(v) for v in value]


class ElasticTransform(Transform):
    """Displace pixels by a smoothed random field (strength ``alpha``, smoothness ``sigma``), as
    ``torchvision.transforms.v2.ElasticTransform``; masks, boxes and key points move along."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__()
        self.alpha = _number_or_pair(alpha, "alpha")
        self.sigma = _number_or_pair(sigma, "sigma")
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill
        self._fill = setup_fill(fill)

    def _field(self, height, width, axis):
        d = vl.rand(1, 1, height, width) * 2 - 1
        if self.sigma[axis] > 0.0:
            k = int(8 * self.sigma[axis] + 1)
            k += 1 - k % 2  # odd
            d = F.gaussian_blur(d, [k, k], list(self.sigma))
        return d * self.alpha[axis] / (width if axis == 0 else height)

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        dx, dy = self._field(h, w, 0), self._field(h, w, 1)
        displacement = vl.cat([dx, dy], 1).permute(0, 2, 3, 1)
        return {"displacement": displacement, "fill": self._fill}

    def image(self, img, params):
        return F2.elastic_image(img, params["displacement"], self.interpolation, params["fill"])

    def mask(self, mask, params):
        return F2.elastic_mask(mask, params["displacement"], params["fill"])

    def _one(self, x, kind, params):
        disp = params["displacement"]
        if kind == "boxes":
            out = F2.elastic_bounding_boxes(Tensor._wrap(x._data), x.format, x.canvas_size, disp)
            return wrap(out, like=x)
        if kind == "keypoints":
            return wrap(F2.elastic_keypoints(Tensor._wrap(x._data), x.canvas_size, disp), like=x)
        return super()._one(x, kind, params)

    def __repr__(self):
        return (f"ElasticTransform(alpha={self.alpha}, sigma={self.sigma}, "
                f"interpolation={self.interpolation.value}, fill={self.fill})")


class RandomResize(Resize):
    """Resize the shorter side to a length drawn from ``[min_size, max_size)``; boxes and points follow."""

    def __init__(self, min_size, max_size, interpolation=InterpolationMode.BILINEAR, antialias=True):
        Transform.__init__(self)
        self.min_size, self.max_size = min_size, max_size
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def make_params(self, leaves, kinds, canvas_size):
        size = R.randint(self.min_size, self.max_size)
        return {"size": _compute_resized_output_size(canvas_size, [size]),
                "interpolation": self.interpolation}

    def __repr__(self):
        return (f"RandomResize(min_size={self.min_size}, max_size={self.max_size}, "
                f"interpolation={self.interpolation.value}, antialias={self.antialias})")


class FiveCrop(Transform):
    """The four corner crops and the centre crop of ``size``: each image becomes a tuple of five. Boxes and
    masks are refused; key points pass through with a warning (as TorchVision)."""

    _op = staticmethod(F2.five_crop)

    def __init__(self, size):
        super().__init__()
        self.size = tuple(_v1._setup_size(size, error_msg=_SIZE_MSG))

    def check_inputs(self, leaves, kinds):
        if any(isinstance(x, (BoundingBoxes, Mask)) for x in leaves):
            raise TypeError(f"BoundingBoxes'es and Mask's are not supported by {type(self).__name__}()")

    def _args(self):
        return (list(self.size),)

    def _one(self, x, kind, params):
        if isinstance(x, KeyPoints):
            warnings.warn(f"{type(self).__name__}() is currently passing through inputs of type "
                          "tv_tensors.KeyPoints. This will likely change in the future.", stacklevel=4)
            return x
        if kind in ("image", "video"):
            return type(self)._op(x, *self._args())
        return x

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class TenCrop(FiveCrop):
    """``FiveCrop`` of the image and of its flip (horizontal, or vertical with ``vertical_flip``)."""

    _op = staticmethod(F2.ten_crop)

    def __init__(self, size, vertical_flip=False):
        super().__init__(size)
        self.vertical_flip = vertical_flip

    def _args(self):
        return (list(self.size), self.vertical_flip)

    def __repr__(self):
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"
