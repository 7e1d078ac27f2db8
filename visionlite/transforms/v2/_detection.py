"""Detection augmentations that move boxes and masks with the pixels: ``RandomZoomOut``, ``RandomIoUCrop``
(SSD), ``RandomShortestSize``, ``ScaleJitter`` (Copy-Paste) and ``RandomPerspective``.

Draws follow ``torchvision.transforms.v2`` step by step; where TorchVision computes a size from a
float32 random tensor, the same float32 arithmetic is done here, so equal draws give equal sizes.
"""
import numpy as np

from .. import _random as R
from .. import functional as F
from .. import transforms as _v1
from .._common import is_pil_image
from ..functional import InterpolationMode, interpolation_mode
from . import _boxes as B
from . import _keypoints as K
from ._transform import Transform, _RandomApplyTransform, _warp_mode, pad_image, setup_fill
from ._transforms import Resize, _Crop, _warp_fill

__all__ = ["RandomZoomOut", "RandomIoUCrop", "RandomShortestSize", "ScaleJitter", "RandomPerspective"]

_F32 = np.float32


def _f32_lerp(low, high):
    """``low + rand() * (high - low)`` in float32, as TorchVision computes it from ``torch.rand(1)``."""
    return _F32(_F32(R.rand()) * _F32(high - low)) + _F32(low)


def _scaled(n, r):
    """``int(n * r)`` for a float32 ``r`` (float32 product, then truncation)."""
    return int(_F32(n) * _F32(r))


class RandomZoomOut(_RandomApplyTransform):
    """With probability ``p``, place the image on a canvas ``side_range`` times larger (filled with
    ``fill``; a dict gives a fill per input type), at a random position; boxes and masks move along."""

    def __init__(self, fill=0, side_range=(1.0, 4.0), p=0.5):
        super().__init__(p=p)
        self.fill = fill
        self._fill = setup_fill(fill)
        _v1._check_sequence_input(side_range, "side_range", req_sizes=(2,))
        if side_range[0] < 1.0 or side_range[0] > side_range[1]:
            raise ValueError(f"Invalid side range provided {side_range}.")
        self.side_range = side_range

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        r = _f32_lerp(self.side_range[0], self.side_range[1])
        canvas_w, canvas_h = _scaled(w, r), _scaled(h, r)
        left, top = _scaled(canvas_w - w, R.rand()), _scaled(canvas_h - h, R.rand())
        padding = [left, top, canvas_w - (left + w), canvas_h - (top + h)]
        return {"padding": padding, "fill": self._fill}

    def image(self, img, params):
        return pad_image(img, params["padding"], params["fill"])

    mask = image

    def boxes(self, xyxy, canvas_size, params):
        return B.pad(xyxy, canvas_size, *params["padding"])

    def keypoints(self, points, canvas_size, params):
        return K.pad(points, canvas_size, *params["padding"])

    def __repr__(self):
        return f"RandomZoomOut(fill={self.fill}, side_range={self.side_range}, p={self.p})"


def _box_iou(boxes, box):
    """IoU of each ``N,4`` xyxy box with one box."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area1 = (box[2] - box[0]) * (box[3] - box[1])
    wh = (np.minimum(boxes[:, 2:], box[2:]) - np.maximum(boxes[:, :2], box[:2])).clip(0)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (area + area1 - inter)


class RandomIoUCrop(_Crop):
    """SSD's random crop: pick a minimum IoU from ``sampler_options`` (1.0 or more: leave the sample as
    it is), then try crops of random scale and aspect ratio until one holds a box centre and overlaps one
    such box by that IoU. Boxes whose centre falls outside are set to zeros (``SanitizeBoundingBoxes``
    then drops them)."""

    def __init__(self, min_scale=0.3, max_scale=1.0, min_aspect_ratio=0.5, max_aspect_ratio=2.0,
                 sampler_options=None, trials=40):
        super().__init__()
        self.min_scale, self.max_scale = min_scale, max_scale
        self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
        self.options = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] if sampler_options is None else sampler_options
        self.trials = trials

    def check_inputs(self, leaves, kinds):
        if "boxes" not in kinds or "image" not in kinds:
            raise TypeError("RandomIoUCrop() requires input sample to contain tensor or PIL images and "
                            "bounding boxes. Sample can also contain masks.")

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        boxes = next(x for x, k in zip(leaves, kinds) if k == "boxes")
        dtype = boxes._data.dtype if boxes._data.dtype.kind == "f" else np.dtype(_F32)
        xyxy = B.to_xyxy(boxes._data, boxes.format).astype(dtype)
        half = dtype.type(0.5)
        cx, cy = half * (xyxy[:, 0] + xyxy[:, 2]), half * (xyxy[:, 1] + xyxy[:, 3])
        while True:
            min_iou = self.options[R.randint(0, len(self.options))]
            if min_iou >= 1.0:  # the "leave as is" option
                return {}
            for _ in range(self.trials):
                new_w = _scaled(w, _f32_lerp(self.min_scale, self.max_scale))
                new_h = _scaled(h, _f32_lerp(self.min_scale, self.max_scale))
                if new_h == 0 or not self.min_aspect_ratio <= new_w / new_h <= self.max_aspect_ratio:
                    continue
                left, top = _scaled(w - new_w, R.rand()), _scaled(h - new_h, R.rand())
                right, bottom = left + new_w, top + new_h
                if left == right or top == bottom:
                    continue
                within = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                if not within.any():
                    continue
                crop = np.array([left, top, right, bottom], dtype=dtype)
                if _box_iou(xyxy[within], crop).max() < min_iou:
                    continue
                return {"top": top, "left": left, "height": new_h, "width": new_w, "within": within}

    def image(self, img, params):
        return super().image(img, params) if "top" in params else img

    mask = image

    def boxes(self, xyxy, canvas_size, params):
        if "top" not in params:  # the sample was left as it is
            return xyxy, canvas_size
        out, size = super().boxes(xyxy, canvas_size, params)
        out[~params["within"]] = 0
        return out, size

    def keypoints(self, points, canvas_size, params):
        return super().keypoints(points, canvas_size, params) if "top" in params else (points, canvas_size)

    def __repr__(self):
        return (f"RandomIoUCrop(min_scale={self.min_scale}, max_scale={self.max_scale}, "
                f"min_aspect_ratio={self.min_aspect_ratio}, max_aspect_ratio={self.max_aspect_ratio}, "
                f"sampler_options={self.options}, trials={self.trials})")


class RandomShortestSize(Resize):
    """Resize so the shorter side is one of ``min_size`` (picked at random), the longer side at most
    ``max_size``; boxes are scaled along."""

    def __init__(self, min_size, max_size=None, interpolation=InterpolationMode.BILINEAR, antialias=True):
        Transform.__init__(self)
        self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
        self.max_size = max_size
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        min_size = self.min_size[R.randint(0, len(self.min_size))]
        r = min_size / min(h, w)
        if self.max_size is not None:
            r = min(r, self.max_size / max(h, w))
        return {"size": [int(h * r), int(w * r)], "interpolation": self.interpolation}

    def __repr__(self):
        return (f"RandomShortestSize(min_size={self.min_size}, max_size={self.max_size}, "
                f"interpolation={self.interpolation.value})")


class ScaleJitter(Resize):
    """Resize to fit ``target_size = (width, height)`` times a scale drawn from ``scale_range``
    (Large Scale Jitter, from Copy-Paste augmentation); boxes are scaled along."""

    def __init__(self, target_size, scale_range=(0.1, 2.0), interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
        Transform.__init__(self)
        self.target_size, self.scale_range = target_size, scale_range
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        scale = _f32_lerp(self.scale_range[0], self.scale_range[1])
        r = _F32(min(self.target_size[1] / h, self.target_size[0] / w)) * scale
        return {"size": [_scaled(h, r), _scaled(w, r)], "interpolation": self.interpolation}

    def __repr__(self):
        return (f"ScaleJitter(target_size={self.target_size}, scale_range={self.scale_range}, "
                f"interpolation={self.interpolation.value})")


class RandomPerspective(_RandomApplyTransform):
    """With probability ``p``, move each corner inwards by up to ``distortion_scale`` of half the size;
    boxes become the enclosing box of their mapped corners."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__(p=p)
        if not 0 <= distortion_scale <= 1:
            raise ValueError("Argument distortion_scale value should be between 0 and 1")
        self.distortion_scale = distortion_scale
        self.interpolation = interpolation_mode(interpolation)
        self.fill = fill
        self._fill = setup_fill(fill)

    def make_params(self, leaves, kinds, canvas_size):
        h, w = canvas_size
        start, end = _v1.RandomPerspective.get_params(w, h, self.distortion_scale)
        return {"start": start, "end": end, "interpolation": self.interpolation, "fill": self._fill}

    def image(self, img, params):
        fill = params["fill"] if is_pil_image(img) else _warp_fill(img, params["fill"])
        return F.perspective(img, params["start"], params["end"], _warp_mode(params["interpolation"]), fill)

    def boxes(self, xyxy, canvas_size, params):
        c = F._get_perspective_coeffs(params["start"], params["end"])  # output -> input pixels
        inverse = np.linalg.inv(np.array(c + [1.0], dtype=np.float64).reshape(3, 3))
        corners = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
        pts = np.concatenate([corners, np.ones((len(corners), 1))], axis=1) @ inverse.T
        pts = (pts[:, :2] / pts[:, 2:]).reshape(-1, 4, 2)
        out = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
        return B.clamp(out, canvas_size), canvas_size

    def keypoints(self, points, canvas_size, params):
        return K.perspective(points, F._get_perspective_coeffs(params["start"], params["end"])), canvas_size

    def __repr__(self):
        return f"RandomPerspective(distortion_scale={self.distortion_scale}, p={self.p})"
