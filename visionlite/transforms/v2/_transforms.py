"""Geometric joint transforms (flips, resizes, crops, padding, affine warps) and the box utilities: the
image, its ``BoundingBoxes`` and its ``Mask`` move together, as in ``torchvision.transforms.v2``.
"""
import numbers

from visionlite.core.tensor import Tensor

from .. import _random as R
from .. import functional as F
from .. import transforms as _v1
from .._functional_tensor import affine_output_size
from ..functional import InterpolationMode, _compute_resized_output_size, interpolation_mode
from . import _boxes as B
from . import _keypoints as K
from ._transform import Transform, _flatten, _warp_mode, pad_image, setup_fill
from .tv_tensors import BoundingBoxes, Mask, as_format, wrap


def resize_image(img, size, interpolation, antialias=True):
    """``functional.resize`` as TorchVision v2 resizes images: uint8 tensors with bilinear or bicubic
    antialiasing take PyTorch's int16 fixed-point path (the v1 transforms resample them in float32)."""
    from .functional._geometry import resize_image as _resize_image

    return _resize_image(img, size, interpolation, antialias=antialias)

_SIZE_MSG = "Please provide only two dimensions (h, w) for size."

__all__ = ["RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "CenterCrop", "RandomCrop",
           "RandomResizedCrop", "Pad", "RandomAffine", "RandomRotation", "ClampBoundingBoxes",
           "SanitizeBoundingBoxes", "ConvertBoundingBoxFormat"]


# ------------------------------------------------------------------------------------- geometry
class _Flip(Transform):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def make_params(self, leaves, kinds, canvas_size):
        return {"apply": R.rand() < self.p}

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_Flip):
    """Mirror left-right, boxes and masks included, with probability ``p``."""

    def image(self, img, params):
        return F.hflip(img) if params["apply"] else img

    def boxes(self, xyxy, canvas_size, params):
        return (B.hflip(xyxy, canvas_size) if params["apply"] else xyxy), canvas_size

    def keypoints(self, points, canvas_size, params):
        return (K.hflip(points, canvas_size) if params["apply"] else points), canvas_size


class RandomVerticalFlip(_Flip):
    """Mirror top-bottom, boxes and masks included, with probability ``p``."""

    def image(self, img, params):
        return F.vflip(img) if params["apply"] else img

    def boxes(self, xyxy, canvas_size, params):
        return (B.vflip(xyxy, canvas_size) if params["apply"] else xyxy), canvas_size

    def keypoints(self, points, canvas_size, params):
        return (K.vflip(points, canvas_size) if params["apply"] else points), canvas_size


class Resize(Transform):
    """Resize (int: shorter side); boxes are scaled by the same factors."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        super().__init__()
        if size is None and not isinstance(max_size, int):
            raise ValueError(f"max_size must be an integer when size is None, but got {max_size} instead.")
        self.size = None if size is None else [size] if isinstance(size, int) else list(size)
        self.interpolation = interpolation_mode(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def make_params(self, leaves, kinds, canvas_size):
        if self.size is None:  # the longer side becomes max_size
            ratio = self.max_size / max(canvas_size)
            size = [int(canvas_size[0] * ratio), int(canvas_size[1] * ratio)]
        else:
            size = _compute_resized_output_size(canvas_size, self.size, self.max_size)
        return {"size": size, "interpolation": self.interpolation}

    def image(self, img, params):
        return resize_image(img, params["size"], params["interpolation"], antialias=self.antialias)

    def boxes(self, xyxy, canvas_size, params):
        return B.clamp(B.resize(xyxy, canvas_size, params["size"]), params["size"]), tuple(params["size"])

    def keypoints(self, points, canvas_size, params):
        return K.resize(points, canvas_size, params["size"])

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size})"


class _Crop(Transform):
    """Shared by the crops: params hold ``top, left, height, width`` (and an optional resize)."""

    def image(self, img, params):
        img = F.crop(img, params["top"], params["left"], params["height"], params["width"])
        if "size" in params:
            img = resize_image(img, params["size"], params.get("interpolation", self.interpolation),
                               antialias=getattr(self, "antialias", True))
        return img

    def boxes(self, xyxy, canvas_size, params):
        out = B.crop(xyxy, params["top"], params["left"], params["height"], params["width"])
        size = (params["height"], params["width"])
        if "size" in params:
            out, size = B.clamp(B.resize(out, size, params["size"]), params["size"]), tuple(params["size"])
        return out, size

    def keypoints(self, points, canvas_size, params):
        out, size = K.crop(points, params["top"], params["left"], params["height"], params["width"])
        if "size" in params:
            out, size = K.resize(out, size, params["size"])
        return out, size


class CenterCrop(_Crop):
    """Crop the centre (zero-padding when the image is smaller)."""

    def __init__(self, size):
        super().__init__()
        self.size = _v1._setup_size(size, error_msg=_SIZE_MSG)

    def make_params(self, leaves, kinds, canvas_size):
        (h, w), (ch, cw) = canvas_size, self.size
        # a crop bigger than the image pads (ch - h) // 2 rows on top (and likewise on the left); the
        # boxes shift by exactly that. (TorchVision v2 rounds (h - ch) / 2 instead, which is a pixel off
        # the padded pixels when the difference is odd and its half rounds away from zero.)
        top = -((ch - h) // 2) if ch > h else int(round((h - ch) / 2.0))
        left = -((cw - w) // 2) if cw > w else int(round((w - cw) / 2.0))
        return {"top": top, "left": left, "height": ch, "width": cw}

    def image(self, img, params):
        return F.center_crop(img, list(self.size))

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class RandomResizedCrop(_Crop):
    """Crop a random area and aspect ratio, then resize to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.size = list(_v1._setup_size(size, error_msg=_SIZE_MSG))
        self.scale, self.ratio = scale, ratio
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def make_params(self, leaves, kinds, canvas_size):
        top, left, h, w = _v1._resized_crop_params(canvas_size[0], canvas_size[1], self.scale, self.ratio)
        return {"top": top, "left": left, "height": h, "width": w, "size": self.size,
                "interpolation": self.interpolation}

    def __repr__(self):
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class Pad(Transform):
    """Pad the borders; boxes shift by the left/top padding (only constant padding for boxes)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode
        self._fill = setup_fill(fill)

    def make_params(self, leaves, kinds, canvas_size):
        if self.padding_mode != "constant" and "boxes" in kinds:
            raise ValueError(f"Padding mode '{self.padding_mode}' is not supported with bounding boxes")
        return {"fill": self._fill}

    def image(self, img, params):
        return pad_image(img, self.padding, params["fill"], self.padding_mode)

    def mask(self, mask, params):
        return pad_image(mask, self.padding, params["fill"], self.padding_mode)

    def boxes(self, xyxy, canvas_size, params):
        return B.pad(xyxy, canvas_size, *_ltrb(self.padding))

    def keypoints(self, points, canvas_size, params):
        return K.pad(points, canvas_size, *_ltrb(self.padding))

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


def _ltrb(padding):
    if isinstance(padding, numbers.Number):
        return (int(padding),) * 4
    padding = list(padding)
    if len(padding) == 1:
        return (padding[0],) * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    return tuple(padding)


class RandomCrop(_Crop):
    """Crop at a random place after optional padding (``pad_if_needed`` pads small images)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = tuple(_v1._setup_size(size, error_msg=_SIZE_MSG))
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode
        self._fill = setup_fill(fill)

    def make_params(self, leaves, kinds, canvas_size):
        left, top, right, bottom = _ltrb(self.padding) if self.padding is not None else (0, 0, 0, 0)
        h, w = canvas_size[0] + top + bottom, canvas_size[1] + left + right
        if self.pad_if_needed:
            extra_w, extra_h = max(self.size[1] - w, 0), max(self.size[0] - h, 0)
            left, right, top, bottom = left + extra_w, right + extra_w, top + extra_h, bottom + extra_h
            h, w = h + 2 * extra_h, w + 2 * extra_w
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}; "
                             "pass padding or pad_if_needed=True, or crop smaller")
        i = j = 0
        if (h, w) != (th, tw):  # as RandomCrop.get_params: both offsets are drawn unless nothing can move
            i, j = R.randint(0, h - th + 1), R.randint(0, w - tw + 1)
        return {"pad": (left, top, right, bottom), "top": i, "left": j, "height": th, "width": tw,
                "fill": self._fill}

    def image(self, img, params):
        if any(params["pad"]):
            img = pad_image(img, list(params["pad"]), params["fill"], self.padding_mode)
        return F.crop(img, params["top"], params["left"], params["height"], params["width"])

    mask = image

    def boxes(self, xyxy, canvas_size, params):
        xyxy, size = B.pad(xyxy, canvas_size, *params["pad"])
        return super().boxes(xyxy, size, params)

    def keypoints(self, points, canvas_size, params):
        points, size = K.pad(points, canvas_size, *params["pad"])
        return super().keypoints(points, size, params)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _warp_fill(img, fill):
    """Tensor warps take one fill value per channel (None: zeros, without blending the edges)."""
    return None if fill is None else _v1._tensor_fill(img, fill)


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear; boxes become the enclosing box of their corners."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        super().__init__()
        self._fill = setup_fill(fill)  # the v1 transform checks the rest (and a single fill)
        self._v1 = _v1.RandomAffine(degrees, translate, scale, shear, interpolation,
                                    0 if isinstance(fill, dict) else fill, center)

    def make_params(self, leaves, kinds, canvas_size):
        t = self._v1
        h, w = canvas_size
        angle, translate, scale, shear = t.get_params(t.degrees, t.translate, t.scale, t.shear, [w, h])
        return {"angle": angle, "translate": list(translate), "scale": scale, "shear": list(shear),
                "interpolation": t.interpolation, "fill": self._fill}

    def image(self, img, params):
        fill = _warp_fill(img, params["fill"])
        return F.affine(img, params["angle"], params["translate"], params["scale"], params["shear"],
                        interpolation=_warp_mode(params["interpolation"]), fill=fill, center=self._v1.center)

    def boxes(self, xyxy, canvas_size, params):
        h, w = canvas_size
        center = self._v1.center if self._v1.center is not None else [w * 0.5, h * 0.5]
        matrix = F._get_inverse_affine_matrix(center, params["angle"], params["translate"], params["scale"],
                                              params["shear"], inverted=False)
        return B.affine(xyxy, matrix, canvas_size)

    def keypoints(self, points, canvas_size, params):
        return K.affine(points, canvas_size, params["angle"], params["translate"], params["scale"],
                        params["shear"], self._v1.center)

    def __repr__(self):
        return repr(self._v1)


class RandomRotation(Transform):
    """Rotate by a random angle (``expand`` grows the canvas to fit); boxes follow their corners."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        super().__init__()
        self._fill = setup_fill(fill)
        self._v1 = _v1.RandomRotation(degrees, interpolation, expand, center,
                                      0 if isinstance(fill, dict) else fill)

    def make_params(self, leaves, kinds, canvas_size):
        return {"angle": self._v1.get_params(self._v1.degrees), "interpolation": self._v1.interpolation,
                "fill": self._fill}

    def image(self, img, params):
        t = self._v1
        return F.rotate(img, params["angle"], _warp_mode(params["interpolation"]), t.expand, t.center,
                        _warp_fill(img, params["fill"]))

    def boxes(self, xyxy, canvas_size, params):
        h, w = canvas_size
        center = self._v1.center if self._v1.center is not None else [w * 0.5, h * 0.5]
        matrix = F._get_inverse_affine_matrix(center, -params["angle"], [0.0, 0.0], 1.0, [0.0, 0.0],
                                              inverted=False)
        expand_size = None
        if self._v1.expand:
            expand_size = params.get("out_size") or self._expanded_size(canvas_size, params["angle"])
        return B.affine(xyxy, matrix, canvas_size, expand_size)

    def keypoints(self, points, canvas_size, params):
        return K.affine(points, canvas_size, -params["angle"], [0.0, 0.0], 1.0, [0.0, 0.0], self._v1.center,
                        expand=self._v1.expand)

    def _expanded_size(self, canvas_size, angle):
        """The grown canvas, computed as the tensor backend sizes it (when no image came along)."""
        h, w = canvas_size
        c = self._v1.center
        center_f = [0.0, 0.0] if c is None else [c[0] - w * 0.5, c[1] - h * 0.5]
        inverse = F._get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
        new_w, new_h = affine_output_size(inverse, w, h)
        return new_h, new_w

    def __repr__(self):
        return repr(self._v1)


# ---------------------------------------------------------------------------------------- boxes
class ClampBoundingBoxes(Transform):
    """Clamp boxes to their canvas."""

    def boxes(self, xyxy, canvas_size, params):
        return B.clamp(xyxy, canvas_size), canvas_size

    def __repr__(self):
        return "ClampBoundingBoxes()"


class ConvertBoundingBoxFormat(Transform):
    """Re-express boxes in another ``format``."""

    def __init__(self, format):
        super().__init__()
        self.format = as_format(format)

    def _one(self, x, kind, params):
        if kind != "boxes":
            return x
        return wrap(B.convert_format(x._data, x.format, self.format), like=x, format=self.format)

    def __repr__(self):
        return f"ConvertBoundingBoxFormat(format={self.format})"


class SanitizeBoundingBoxes(Transform):
    """Drop boxes smaller than ``min_size`` (or ``min_area``) or outside the canvas, with their labels
    (the ``"labels"`` entry of a dict input, or what ``labels_getter(sample)`` returns) and masks."""

    def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
        super().__init__()
        if min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {min_size}.")
        if min_area < 1:
            raise ValueError(f"min_area must be >= 1, got {min_area}.")
        self.min_size, self.min_area, self.labels_getter = min_size, min_area, labels_getter

    def _labels(self, sample):
        if self.labels_getter is None:
            return ()
        if callable(self.labels_getter):
            found = self.labels_getter(sample)
        else:
            dicts = [sample] if isinstance(sample, dict) else [s for s in sample if isinstance(s, dict)] \
                if isinstance(sample, (tuple, list)) else []
            keys = ((d, k) for d in dicts for k in d if isinstance(k, str) and k.lower() == "labels")
            found = next((d[k] for d, k in keys), None)
        if found is None:
            return ()
        return tuple(found) if isinstance(found, (tuple, list)) else (found,)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        labels = self._labels(sample)
        leaves = []
        rebuild = _flatten(sample, leaves)
        boxes = [x for x in leaves if isinstance(x, BoundingBoxes)]
        if len(boxes) != 1:
            raise ValueError(f"SanitizeBoundingBoxes expects exactly one BoundingBoxes input, got "
                             f"{len(boxes)}")
        box = boxes[0]
        valid = B.valid_mask(B.to_xyxy(box._data, box.format), box.canvas_size, self.min_size, self.min_area)
        for lab in labels:
            if lab.shape[0] != len(valid):
                raise ValueError(f"Number of boxes ({len(valid)}) and labels ({lab.shape[0]}) must match")
        out = []
        for x in leaves:
            is_label = any(x is lab for lab in labels)
            if (is_label or isinstance(x, (BoundingBoxes, Mask))) and x.shape[0] == len(valid):
                kept = x._data[valid]
                out.append(Tensor._wrap(kept) if is_label and type(x) is Tensor else wrap(kept, like=x))
            else:
                out.append(x)
        return rebuild(iter(out))

    def __repr__(self):
        return f"SanitizeBoundingBoxes(min_size={self.min_size}, min_area={self.min_area})"
