"""Stateless image transforms, as ``torchvision.transforms.functional``.

Every function takes a PIL image or a visionlite Tensor image (``C,H,W`` or batched ``...,C,H,W``,
uint8 or float) and returns the same kind. PIL images go through Pillow exactly as TorchVision calls
it (``_functional_pil``); tensors go through numpy/cupy (``_functional_tensor``). Arguments are checked
here, so bad input fails with a message that names the argument.
"""
import math
import numbers
import warnings
from enum import Enum

import numpy as np

from visionlite.core import dtypes as _dt
from visionlite.core.autograd.grad_mode import is_grad_enabled
from visionlite.core.autograd.versions import bump_version
from visionlite.core.tensor import Tensor

from . import _functional_autograd as F_ag
from . import _functional_pil as F_pil
from . import _functional_tensor as F_t
from ._common import check_tensor_image, is_pil_image, require_channels, unwrap, wrap


class InterpolationMode(Enum):
    """How to sample between pixels; the values match TorchVision's (and name Pillow's filters)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_FROM_PIL_INT = {0: "NEAREST", 2: "BILINEAR", 3: "BICUBIC", 4: "BOX", 5: "HAMMING", 1: "LANCZOS"}
_M = InterpolationMode
pil_modes_mapping = {_M.NEAREST: 0, _M.BILINEAR: 2, _M.BICUBIC: 3, _M.NEAREST_EXACT: 0, _M.BOX: 4,
                     _M.HAMMING: 5, _M.LANCZOS: 1}


def interpolation_mode(value):
    """An ``InterpolationMode`` from itself, a Pillow integer constant, or a mode name / value string."""
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, (int, np.integer)) and int(value) in _FROM_PIL_INT:
        return InterpolationMode[_FROM_PIL_INT[int(value)]]
    raw = getattr(value, "value", value)  # lets torchvision's own enum members through
    if isinstance(raw, str) and raw.startswith("InterpolationMode."):
        raw = raw.split(".", 1)[1]
    for mode in InterpolationMode:
        if raw == mode.value or (isinstance(raw, str) and raw.upper() == mode.name):
            return mode
    raise TypeError("interpolation should be an InterpolationMode or a Pillow integer constant, got "
                    f"{value!r}")


def _tracks_grad(img):
    """True for a tensor image in the graph (it requires grad and grad mode is on): it takes the
    differentiable backend, so the result carries the graph as TorchVision's does."""
    return img.requires_grad and is_grad_enabled()


def _run(name, img, *args, **kwargs):
    """Tensor op ``name`` on a checked tensor image: through autograd when ``img`` is in the graph, else on
    its raw array (faster, and the only way for integer images)."""
    if _tracks_grad(img):
        return getattr(F_ag, name)(img, *args, **kwargs)
    return wrap(getattr(F_t, name)(img._data, *args, **kwargs))


def _dispatch(img, name):
    """True for a tensor image (checked), False for a PIL image; a TypeError for anything else."""
    if isinstance(img, Tensor):
        check_tensor_image(img, name)
        return True
    if is_pil_image(img):
        return False
    raise TypeError(f"{name}: img should be a PIL Image or a visionlite Tensor, got {type(img).__name__}")


# ------------------------------------------------------------------------------------------- sizes
def get_dimensions(img):
    """``[channels, height, width]`` of an image."""
    if _dispatch(img, "get_dimensions"):
        return [1 if img.ndim == 2 else img.shape[-3], img.shape[-2], img.shape[-1]]
    return F_pil.get_dimensions(img)


def get_image_size(img):
    """``[width, height]`` of an image."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


# --------------------------------------------------------------------------------------- conversion
def to_tensor(pic):
    """A PIL image or ``H,W[,C]`` numpy array as a ``C,H,W`` Tensor; uint8 scaled to float in [0, 1]."""
    from ._convert import to_tensor as _to_tensor

    return _to_tensor(pic)


def pil_to_tensor(pic):
    """A PIL image as a ``C,H,W`` Tensor of its own dtype (no scaling)."""
    from ._convert import pil_to_tensor as _pil_to_tensor

    return _pil_to_tensor(pic)


def to_pil_image(pic, mode=None):
    """A ``C,H,W`` Tensor or ``H,W,C`` array as a PIL image (floats are scaled by 255)."""
    from ._convert import to_pil_image as _to_pil_image

    return _to_pil_image(pic, mode)


def convert_image_dtype(image, dtype=float):
    """Change the dtype, rescaling values: floats span [0, 1], integers [0, max of the dtype]."""
    if not isinstance(image, Tensor):
        raise TypeError("convert_image_dtype: image should be a visionlite Tensor, got "
                        f"{type(image).__name__}")
    target = _dt.get_dtype(dtype)
    if _tracks_grad(image) and target.is_floating_point:  # float to float is a plain cast, differentiable
        return image.to(target)
    return wrap(F_t.convert_image_dtype(image._data, target.np))


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` per channel of a float ``...,C,H,W`` Tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: tensor should be a visionlite Tensor image, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype}; "
                        "convert it first (e.g. ConvertImageDtype(visionlite.float32) or ToTensor())")
    if tensor.ndim < 3:
        raise ValueError("normalize: expected a tensor image of size (..., C, H, W), got "
                         f"{tuple(tensor.shape)}")
    channels = tensor.shape[-3]
    for name, v in (("mean", mean), ("std", std)):
        n = len(v) if isinstance(v, (list, tuple)) else int(np.size(unwrap(v)))
        if n not in (1, channels):
            raise ValueError(f"normalize: {name} has {n} values but the image has {channels} channels; "
                             f"give one {name} per channel")
    if _tracks_grad(tensor):
        return F_ag.normalize(tensor, unwrap(mean), unwrap(std), inplace=inplace)
    out = F_t.normalize(tensor._data, unwrap(mean), unwrap(std), inplace=inplace)
    if inplace:
        bump_version(tensor)
        return tensor
    return wrap(out)


# ----------------------------------------------------------------------------------------- geometry
def _check_size(size, name):
    values = [size] if isinstance(size, numbers.Number) else list(size)
    for v in values:
        if not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name}: sizes must be positive integers, got {size!r}")


def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if len(size) == 1:
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                                 f"size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    return [size[0], size[1]]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size``: an int (or 1-sequence) sets the shorter side keeping the aspect ratio
    (capped by ``max_size`` on the longer side); ``(h, w)`` sets both."""
    interpolation = interpolation_mode(interpolation)
    is_tensor = _dispatch(img, "resize")
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"resize: size must be an int or a 1 or 2 element tuple/list, not {len(size)} "
                             "elements")
        if max_size is not None and len(size) != 1:
            raise ValueError("resize: max_size should only be passed if size specifies the length of the "
                             "smaller "
                             "edge, i.e. size should be an int or a sequence of length 1")
    elif not isinstance(size, (int, np.integer)):
        raise TypeError(f"resize: size should be an int or a sequence, got {type(size).__name__}")
    _check_size(size, "resize")
    _, h, w = get_dimensions(img)
    if h == 0 or w == 0:
        raise ValueError(f"resize: the image is empty ({h}x{w} pixels); there is nothing to resample")
    size = [int(size)] if isinstance(size, (int, np.integer)) else [int(s) for s in size]
    out_size = _compute_resized_output_size((h, w), size, max_size)
    if [h, w] == out_size:
        return img
    if not is_tensor:
        if antialias is False:
            warnings.warn("Anti-alias option is always applied for PIL Image input. Argument antialias is "
                          "ignored.",
                          stacklevel=2)
        return F_pil.resize(img, out_size, pil_modes_mapping[interpolation])
    if interpolation.value not in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        raise ValueError(f"resize: interpolation {interpolation} is not supported for tensors; use NEAREST, "
                         "NEAREST_EXACT, BILINEAR or BICUBIC (or a PIL image)")
    return _run("resize", img, out_size, interpolation.value, antialias)


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad all sides: ``padding`` is an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    is_tensor = _dispatch(img, "pad")
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError(f"pad: padding should be an int or a sequence, got {type(padding).__name__}")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"pad: padding must be an int or a 1, 2, or 4 element tuple, not {len(padding)} "
                         "elements")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("pad: padding_mode should be constant, edge, reflect or symmetric, got "
                         f"{padding_mode!r}")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError(f"pad: fill should be a number or a sequence, got {type(fill).__name__}")
    if not is_tensor:
        return F_pil.pad(img, padding, fill, padding_mode)
    if isinstance(fill, (tuple, list)):
        if len(fill) != 1:
            raise TypeError("pad: a tensor image is padded with a single fill value; pass a number")
        fill = fill[0]
    return _run("pad", img, padding, 0 if fill is None else fill, padding_mode)


def crop(img, top, left, height, width):
    """The ``height x width`` region at (top, left); areas outside the image are zero."""
    if height < 0 or width < 0:
        raise ValueError(f"crop: height and width must be non-negative, got {height}x{width}")
    if _dispatch(img, "crop"):
        return _run("crop", img, int(top), int(left), int(height), int(width))
    return F_pil.crop(img, top, left, height, width)


def _pair(size, name):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return size[0], size[0]
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return size[0], size[1]
    raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")


def center_crop(img, output_size):
    """The central ``output_size`` region, zero-padded when the image is smaller."""
    crop_h, crop_w = _pair(output_size, "center_crop")
    _check_size((crop_h, crop_w), "center_crop")
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        ltrb = [(crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                (crop_w - w + 1) // 2 if crop_w > w else 0, (crop_h - h + 1) // 2 if crop_h > h else 0]
        img = pad(img, ltrb, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    return crop(img, int(round((h - crop_h) / 2.0)), int(round((w - crop_w) / 2.0)), crop_h, crop_w)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """Crop then resize to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    """Mirror left-right."""
    if _dispatch(img, "hflip"):
        return _run("hflip", img)
    return F_pil.hflip(img)


def vflip(img):
    """Mirror top-bottom."""
    if _dispatch(img, "vflip"):
        return _run("vflip", img)
    return F_pil.vflip(img)


def five_crop(img, size):
    """The four corner crops and the central crop (tl, tr, bl, br, center) of ``size``."""
    crop_h, crop_w = _pair(size, "five_crop")
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        raise ValueError(f"five_crop: requested crop size {(crop_h, crop_w)} is bigger than input size "
                         f"{(h, w)}")
    return (crop(img, 0, 0, crop_h, crop_w), crop(img, 0, w - crop_w, crop_h, crop_w),
            crop(img, h - crop_h, 0, crop_h, crop_w), crop(img, h - crop_h, w - crop_w, crop_h, crop_w),
            center_crop(img, [crop_h, crop_w]))


def ten_crop(img, size, vertical_flip=False):
    """``five_crop`` of the image and of its flip (horizontal unless ``vertical_flip``)."""
    size = _pair(size, "ten_crop")
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


def _get_perspective_coeffs(startpoints, endpoints):
    """The 8 coefficients mapping output pixels (endpoints) back to input pixels (startpoints)."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"perspective: please provide exactly four corners, got {len(startpoints)} "
                         "startpoints "
                         f"and {len(endpoints)} endpoints")
    a = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b = np.asarray(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a, b, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def _grid_fill(img, fill, name):
    if fill is not None and not isinstance(fill, (int, float, tuple, list)):
        raise TypeError(f"{name}: fill should be a number or a sequence, got {type(fill).__name__}")
    channels = get_dimensions(img)[0]
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != channels:
        raise ValueError(f"{name}: fill has {len(fill)} values, which cannot broadcast to the image's "
                         f"{channels} channels")
    return fill


def _grid_mode(interpolation, name):
    if interpolation.value not in ("nearest", "bilinear"):
        raise ValueError(f"{name}: interpolation {interpolation} is unsupported with Tensor input; "
                         "use NEAREST or BILINEAR")
    return interpolation.value


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Warp so that the four ``startpoints`` (corners, [x, y]) land on ``endpoints``."""
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    interpolation = interpolation_mode(interpolation)
    if not _dispatch(img, "perspective"):
        return F_pil.perspective(img, coeffs, pil_modes_mapping[interpolation], fill)
    fill = _grid_fill(img, fill, "perspective")
    return _run("perspective", img, coeffs, _grid_mode(interpolation, "perspective"), fill)


def _get_inverse_affine_matrix(center, angle, translate, scale, shear, inverted=True):
    """The affine matrix (6 numbers) rotating by ``angle`` degrees about ``center``, shearing by
    ``shear`` degrees, scaling and translating; inverted (output -> input) unless told otherwise."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    # rotation-with-shear block: R(rot) * Shear(sx, sy), written out
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    if inverted:
        m = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
    else:
        m = [x * scale for x in (a, b, 0.0, c, d, 0.0)]
        m[2] += m[0] * (-cx) + m[1] * (-cy)
        m[5] += m[3] * (-cx) + m[4] * (-cy)
        m[2] += cx + tx
        m[5] += cy + ty
    return m


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the image centre)."""
    interpolation = interpolation_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError(f"rotate: angle should be int or float, got {type(angle).__name__}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("rotate: center should be a sequence [x, y]")
    if not _dispatch(img, "rotate"):
        return F_pil.rotate(img, angle, pil_modes_mapping[interpolation], expand, center, fill)
    center_f = [0.0, 0.0]
    if center is not None:
        _, h, w = get_dimensions(img)
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    fill = _grid_fill(img, fill, "rotate")
    return _run("rotate", img, matrix, _grid_mode(interpolation, "rotate"), expand, fill)


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None,
           center=None):
    """Rotate (degrees), translate (pixels), scale and shear (degrees) about ``center``, keeping the size."""
    interpolation = interpolation_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError(f"affine: angle should be int or float, got {type(angle).__name__}")
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError(f"affine: translate should be a sequence of length 2, got {translate!r}")
    if scale <= 0.0:
        raise ValueError(f"affine: scale should be positive, got {scale}")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("affine: shear should be either a single value or a sequence of two values")
    angle = float(angle)
    translate = list(translate)
    shear = [shear, 0.0] if isinstance(shear, numbers.Number) else list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"affine: shear should be a sequence containing two values, got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("affine: center should be a sequence [x, y]")
    is_tensor = _dispatch(img, "affine")
    _, h, w = get_dimensions(img)
    if not is_tensor:
        center = [w * 0.5, h * 0.5] if center is None else center
        matrix = _get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return F_pil.affine(img, matrix, pil_modes_mapping[interpolation], fill)
    center_f = [0.0, 0.0] if center is None else [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    fill = _grid_fill(img, fill, "affine")
    return _run("affine", img, matrix, _grid_mode(interpolation, "affine"), fill)


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Move each pixel by ``displacement`` (a ``1,H,W,2`` Tensor in [-1, 1] grid units)."""
    interpolation = interpolation_mode(interpolation)
    if not isinstance(displacement, Tensor):
        raise TypeError("elastic_transform: displacement should be a visionlite Tensor")
    is_tensor = _dispatch(img, "elastic_transform")
    t_img = img if is_tensor else pil_to_tensor(img)
    expected = (1,) + tuple(t_img.shape[-2:]) + (2,)
    if tuple(displacement.shape) != expected:
        raise ValueError(f"elastic_transform: displacement shape should be {expected}, got "
                         f"{tuple(displacement.shape)}")
    fill = _grid_fill(t_img, fill, "elastic_transform")
    mode = _grid_mode(interpolation, "elastic_transform")
    out = _run("elastic_transform", t_img, displacement._data[0], mode, fill)
    return out if is_tensor else to_pil_image(out, mode=img.mode)


# -------------------------------------------------------------------------------------------- colour
def _colour_tensor(img, name, channels=(1, 3)):
    x = img._data
    if img.ndim < 3:
        raise TypeError(f"{name}: input image tensor should have at least 3 dimensions (C, H, W), got "
                        f"{img.ndim}")
    require_channels(x, channels, name)
    return x


def _colour_image(img, name, channels=(1, 3)):
    _colour_tensor(img, name, channels)
    return img


def _non_negative(value, name):
    if value < 0:
        raise ValueError(f"{name} ({value}) is not non-negative.")


def adjust_brightness(img, brightness_factor):
    """Scale intensities by ``brightness_factor`` (0 black, 1 unchanged)."""
    _non_negative(brightness_factor, "brightness_factor")
    if _dispatch(img, "adjust_brightness"):
        return _run("adjust_brightness", _colour_image(img, "adjust_brightness"), brightness_factor)
    return F_pil.adjust_brightness(img, brightness_factor)


def adjust_contrast(img, contrast_factor):
    """Blend with the mean grey level (0 solid grey, 1 unchanged)."""
    _non_negative(contrast_factor, "contrast_factor")
    if _dispatch(img, "adjust_contrast"):
        return _run("adjust_contrast", _colour_image(img, "adjust_contrast"), contrast_factor)
    return F_pil.adjust_contrast(img, contrast_factor)


def adjust_saturation(img, saturation_factor):
    """Blend with the greyscale image (0 grey, 1 unchanged, 2 doubled saturation)."""
    _non_negative(saturation_factor, "saturation_factor")
    if _dispatch(img, "adjust_saturation"):
        return _run("adjust_saturation", _colour_image(img, "adjust_saturation"), saturation_factor)
    return F_pil.adjust_saturation(img, saturation_factor)


def adjust_hue(img, hue_factor):
    """Shift the hue by ``hue_factor`` turns, in [-0.5, 0.5]."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _dispatch(img, "adjust_hue"):
        return _run("adjust_hue", _colour_image(img, "adjust_hue"), hue_factor)
    return F_pil.adjust_hue(img, hue_factor)


def adjust_gamma(img, gamma, gain=1):
    """``gain * I ** gamma`` on intensities scaled to [0, 1]."""
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma should be a non-negative real number, got {gamma}")
    if _dispatch(img, "adjust_gamma"):
        return _run("adjust_gamma", _colour_image(img, "adjust_gamma"), gamma, gain)
    return F_pil.adjust_gamma(img, gamma, gain)


def adjust_sharpness(img, sharpness_factor):
    """Blend with a smoothed image (0 blurred, 1 unchanged, 2 sharpened)."""
    _non_negative(sharpness_factor, "sharpness_factor")
    if _dispatch(img, "adjust_sharpness"):
        return _run("adjust_sharpness", _colour_image(img, "adjust_sharpness"), sharpness_factor)
    return F_pil.adjust_sharpness(img, sharpness_factor)


def to_grayscale(img, num_output_channels=1):
    """A PIL image in grey (``L``), repeated to 3 channels if asked."""
    if not is_pil_image(img):
        raise TypeError(f"to_grayscale: input should be a PIL Image, got {type(img).__name__}; "
                        "use rgb_to_grayscale for tensors")
    return F_pil.to_grayscale(img, num_output_channels)


def rgb_to_grayscale(img, num_output_channels=1):
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` with 1 or 3 output channels."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels should be 1 or 3, got {num_output_channels}")
    if _dispatch(img, "rgb_to_grayscale"):
        return _run("rgb_to_grayscale", _colour_image(img, "rgb_to_grayscale"), num_output_channels)
    return F_pil.to_grayscale(img, num_output_channels)


def invert(img):
    """``max - I``."""
    if _dispatch(img, "invert"):
        return _run("invert", _colour_image(img, "invert"))
    return F_pil.invert(img)


def posterize(img, bits):
    """Keep the ``bits`` highest bits of each uint8 value."""
    if not 0 <= bits <= 8:
        raise ValueError(f"posterize: the number of bits should be between 0 and 8, got {bits}")
    if _dispatch(img, "posterize"):
        x = _colour_tensor(img, "posterize")
        if x.dtype != np.uint8:
            raise TypeError(f"posterize: only uint8 image tensors are supported, got {img.dtype}")
        return wrap(F_t.posterize(x, int(bits)))
    return F_pil.posterize(img, bits)


def solarize(img, threshold):
    """Invert the values at or above ``threshold``."""
    if _dispatch(img, "solarize"):
        x = _colour_tensor(img, "solarize")
        if threshold > F_t.max_value(x.dtype):
            raise TypeError(f"solarize: threshold {threshold} should be at most the maximum value of "
                            f"{img.dtype}")
        return _run("solarize", img, threshold)
    return F_pil.solarize(img, threshold)


def autocontrast(img):
    """Stretch each channel so its darkest value becomes 0 and its brightest the maximum."""
    if _dispatch(img, "autocontrast"):
        return _run("autocontrast", _colour_image(img, "autocontrast"))
    return F_pil.autocontrast(img)


def equalize(img):
    """Equalize each channel's histogram (uint8 only)."""
    if _dispatch(img, "equalize"):
        x = _colour_tensor(img, "equalize")
        if not 3 <= img.ndim <= 4:
            raise TypeError(f"equalize: input image tensor should have 3 or 4 dimensions, got {img.ndim}")
        if x.dtype != np.uint8:
            raise TypeError(f"equalize: only uint8 image tensors are supported, got {img.dtype}")
        return wrap(F_t.equalize(x))
    return F_pil.equalize(img)


# ------------------------------------------------------------------------------------------- filters
def gaussian_blur(img, kernel_size, sigma=None):
    """Gaussian blur with odd ``kernel_size`` (int or (kx, ky)) and ``sigma`` (default from the size)."""
    return _gaussian_blur(img, kernel_size, sigma, version=1)


def _gaussian_blur(img, kernel_size, sigma, version):
    """``gaussian_blur`` with TorchVision v1's (``version=1``) or v2's kernel (their roundings differ)."""
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"gaussian_blur: kernel_size should be int or a sequence of integers, got "
                        f"{type(kernel_size).__name__}")
    kernel_size = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    if len(kernel_size) != 2:
        raise ValueError("gaussian_blur: kernel_size as a sequence should have 2 values, got "
                         f"{len(kernel_size)}")
    for k in kernel_size:
        if k % 2 == 0 or k < 0:
            raise ValueError("gaussian_blur: kernel_size should have odd and positive integers, got "
                             f"{kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    if not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError("gaussian_blur: sigma should be a float or a sequence of floats, got "
                        f"{type(sigma).__name__}")
    sigma = [float(sigma)] * 2 if isinstance(sigma, (int, float)) else list(sigma)
    if len(sigma) == 1:
        sigma = sigma * 2
    if len(sigma) != 2:
        raise ValueError(f"gaussian_blur: sigma as a sequence should have 2 values, got {len(sigma)}")
    if any(s <= 0.0 for s in sigma):
        raise ValueError(f"gaussian_blur: sigma should have positive values, got {sigma}")
    if _dispatch(img, "gaussian_blur"):
        return _run("gaussian_blur", img, kernel_size, sigma, version)
    # TorchVision blurs PIL images through its tensor code, so this path does the same
    out = F_t.gaussian_blur(pil_to_tensor(img)._data, kernel_size, sigma, version)
    return to_pil_image(wrap(out), mode=img.mode)


def erase(img, i, j, h, w, v, inplace=False):
    """Set the ``h x w`` region at (i, j) to ``v`` (a number or a Tensor broadcasting to it)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"erase: img should be a visionlite Tensor image, got {type(img).__name__}")
    check_tensor_image(img, "erase")
    if _tracks_grad(img):
        return F_ag.erase(img, i, j, h, w, v, inplace=inplace)
    out = F_t.erase(img._data, i, j, h, w, unwrap(v), inplace=inplace)
    if inplace:
        bump_version(img)
        return img
    return wrap(out)
