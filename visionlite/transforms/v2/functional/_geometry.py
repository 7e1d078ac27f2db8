"""Geometric functionals: each op has kernels for images (tensor and PIL), videos, masks, bounding boxes
and key points, so one call moves all of them the same way. Image kernels are the v1 functional ops
(plus PyTorch's uint8 fixed-point resize); boxes and points use ``_boxes`` and ``_keypoints``."""
import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.tensor import Tensor

from ... import _resample_aa as AA
from ... import functional as F1
from ..._args import _tensor_fill
from ..._common import is_pil_image
from ..._functional_tensor import v2_fill
from ...functional import InterpolationMode, interpolation_mode
from .. import _boxes as B
from .. import _keypoints as K
from .._transform import pad_image as _pad_any
from ..tv_tensors import BoundingBoxFormat, as_format, wrap
from ._utils import dispatcher

__all__ = [f"{op}{suffix}" for op, suffixes in {
    "horizontal_flip": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "vertical_flip": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "resize": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "crop": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "center_crop": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "resized_crop": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "pad": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "affine": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "rotate": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "perspective": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "elastic": ("", "_image", "_video", "_mask", "_bounding_boxes", "_keypoints"),
    "five_crop": ("", "_image", "_video"), "ten_crop": ("", "_image", "_video")}.items()
    for suffix in suffixes] + ["hflip", "vflip", "elastic_transform"]


# --------------------------------------------------------------------------------------- helpers
def _on_boxes(boxes, format, op):
    """Run ``op(xyxy float64) -> (xyxy, canvas_size)`` on ``N,4`` boxes of ``format``."""
    fmt = as_format(format)
    data = boxes._data if isinstance(boxes, Tensor) else np.asarray(boxes)
    out, size = op(B.to_xyxy(data.reshape(-1, 4), fmt))
    return Tensor._wrap(B.from_xyxy(out, fmt, data.dtype).reshape(data.shape)), tuple(int(s) for s in size)


def _on_points(points, op):
    """Run ``op(N,2 float64) -> (points, canvas_size)`` on ``...,2`` key points."""
    data = points._data if isinstance(points, Tensor) else np.asarray(points)
    out, size = op(data.reshape(-1, 2).astype(np.float64))
    return Tensor._wrap(B.cast_like(out, data.dtype).reshape(data.shape)), tuple(int(s) for s in size)


def _boxes_dispatch(kernel, **fixed):
    """The tv_tensor side of a box kernel: feed format and canvas, re-wrap with the new canvas."""
    def run(inpt, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("interpolation", "fill", "antialias")}
        out, size = kernel(Tensor._wrap(inpt._data), inpt.format, inpt.canvas_size, *args, **kwargs, **fixed)
        return wrap(out, like=inpt, canvas_size=size)
    return run


def _points_dispatch(kernel):
    def run(inpt, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("interpolation", "fill", "antialias")}
        out, size = kernel(Tensor._wrap(inpt._data), inpt.canvas_size, *args, **kwargs)
        return wrap(out, like=inpt, canvas_size=size)
    return run


def _mask_mode(interpolation):
    mode = interpolation_mode(interpolation)
    exact = mode == InterpolationMode.NEAREST_EXACT
    return InterpolationMode.NEAREST_EXACT if exact else InterpolationMode.NEAREST


def _as_mask_image(mask, fn):
    """Run an image kernel on a ``H,W`` or ``...,H,W`` mask (given a channel axis when it has none)."""
    if mask.ndim == 2:
        out = fn(Tensor._wrap(mask._data[None]))
        return tuple(Tensor._wrap(t._data[0]) for t in out) if isinstance(out, tuple) else \
            Tensor._wrap(out._data[0])
    return fn(mask)


def _fill_for(image, fill):
    if fill is None or is_pil_image(image):
        return fill
    return _tensor_fill(image, fill)


# ------------------------------------------------------------------------------------------ flips
horizontal_flip_image = horizontal_flip_video = F1.hflip
vertical_flip_image = vertical_flip_video = F1.vflip


def horizontal_flip_mask(mask):
    return F1.hflip(mask)


def vertical_flip_mask(mask):
    return F1.vflip(mask)


def horizontal_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    """Mirror ``N,4`` boxes left-right on a canvas of ``(height, width)``."""
    return _on_boxes(bounding_boxes, format, lambda b: (B.hflip(b, canvas_size), canvas_size))[0]


def vertical_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    return _on_boxes(bounding_boxes, format, lambda b: (B.vflip(b, canvas_size), canvas_size))[0]


def horizontal_flip_keypoints(keypoints, canvas_size):
    """x -> width - 1 - x."""
    return _on_points(keypoints, lambda p: (K.hflip(p, canvas_size), canvas_size))[0]


def vertical_flip_keypoints(keypoints, canvas_size):
    return _on_points(keypoints, lambda p: (K.vflip(p, canvas_size), canvas_size))[0]


def _flip_dispatch(box_kernel, point_kernel):
    def boxes(inpt):
        return wrap(box_kernel(Tensor._wrap(inpt._data), inpt.format, inpt.canvas_size), like=inpt)

    def points(inpt):
        return wrap(point_kernel(Tensor._wrap(inpt._data), inpt.canvas_size), like=inpt)
    return boxes, points


_hb, _hp = _flip_dispatch(horizontal_flip_bounding_boxes, horizontal_flip_keypoints)
_vb, _vp = _flip_dispatch(vertical_flip_bounding_boxes, vertical_flip_keypoints)


@dispatcher(image=horizontal_flip_image, pil=horizontal_flip_image, video=horizontal_flip_video,
            mask=horizontal_flip_mask, boxes=_hb, keypoints=_hp)
def horizontal_flip(inpt):
    """Mirror left-right."""


@dispatcher(image=vertical_flip_image, pil=vertical_flip_image, video=vertical_flip_video,
            mask=vertical_flip_mask, boxes=_vb, keypoints=_vp)
def vertical_flip(inpt):
    """Mirror top-bottom."""


hflip, vflip = horizontal_flip, vertical_flip


# ----------------------------------------------------------------------------------------- resize
def _output_size(canvas_size, size, max_size):
    if size is None:
        if max_size is None:
            raise ValueError("resize: give size, or size=None with max_size (the longer side's length)")
        h, w = canvas_size
        ratio = max_size / max(h, w)
        return [int(h * ratio), int(w * ratio)]
    size = [int(size)] if isinstance(size, (int, np.integer)) else list(size)
    return F1._compute_resized_output_size(canvas_size, size, max_size)


def resize_image(image, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize a tensor (``...,C,H,W``) or PIL image. uint8 tensors with bilinear or bicubic resampling
    (antialiased or not) use PyTorch's int16 fixed-point arithmetic (as TorchVision v2 on CPUs), exactly."""
    interpolation = interpolation_mode(interpolation)
    canvas = tuple(F1.get_dimensions(image)[1:])
    out_size = _output_size(canvas, size, max_size)
    if list(canvas) == out_size:
        return image
    if is_pil_image(image):
        return F1.resize(image, out_size, interpolation)
    if (isinstance(image, Tensor) and image.dtype.np == np.uint8
            and interpolation in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC)
            and array_module(image._data) is np and image.numel() > 0):
        x = image._data
        out = AA.resize_uint8(x.reshape((-1,) + x.shape[-2:]), out_size, interpolation.value, bool(antialias))
        return Tensor._wrap(out.reshape(x.shape[:-2] + out.shape[-2:]))
    return F1.resize(image, out_size, interpolation, antialias=antialias)


resize_video = resize_image


def resize_mask(mask, size, interpolation=InterpolationMode.NEAREST, max_size=None):
    """Resize masks with nearest sampling (NEAREST_EXACT when asked for)."""
    return _as_mask_image(mask, lambda m: resize_image(m, size, _mask_mode(interpolation), max_size))


def resize_bounding_boxes(bounding_boxes, canvas_size, size, max_size=None, format=BoundingBoxFormat.XYXY):
    """Scale boxes to the resized canvas; returns ``(boxes, new canvas_size)``."""
    new = _output_size(canvas_size, size, max_size)
    if tuple(new) == tuple(canvas_size):
        return bounding_boxes, tuple(canvas_size)
    return _on_boxes(bounding_boxes, format, lambda b: (B.clamp(B.resize(b, canvas_size, new), new), new))


def resize_keypoints(keypoints, size, canvas_size, max_size=None):
    """Scale points to the resized canvas; returns ``(points, new canvas_size)``."""
    new = _output_size(canvas_size, size, max_size)
    if tuple(new) == tuple(canvas_size):
        return keypoints, tuple(canvas_size)
    return _on_points(keypoints, lambda p: K.resize(p, canvas_size, new))


def _resize_boxes_dispatch(inpt, size, interpolation=None, max_size=None, antialias=None):
    out, canvas = resize_bounding_boxes(Tensor._wrap(inpt._data), inpt.canvas_size, size, max_size,
                                        inpt.format)
    return wrap(out, like=inpt, canvas_size=canvas)


def _resize_points_dispatch(inpt, size, interpolation=None, max_size=None, antialias=None):
    out, canvas = resize_keypoints(Tensor._wrap(inpt._data), size, inpt.canvas_size, max_size)
    return wrap(out, like=inpt, canvas_size=canvas)


def _resize_mask_dispatch(mask, size, interpolation=InterpolationMode.NEAREST, max_size=None, antialias=None):
    return resize_mask(mask, size, interpolation, max_size)


@dispatcher(image=resize_image, pil=resize_image, video=resize_video, mask=_resize_mask_dispatch,
            boxes=_resize_boxes_dispatch, keypoints=_resize_points_dispatch)
def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` (int: the shorter side; None: the longer side to ``max_size``)."""


# ------------------------------------------------------------------------------------------ crops
crop_image = crop_video = F1.crop


def crop_mask(mask, top, left, height, width):
    return _as_mask_image(mask, lambda m: F1.crop(m, top, left, height, width))


def crop_bounding_boxes(bounding_boxes, format, top, left, height, width):
    """Shift and clamp boxes into the crop; returns ``(boxes, (height, width))``."""
    return _on_boxes(bounding_boxes, format, lambda b: (B.crop(b, top, left, height, width), (height, width)))


def crop_keypoints(keypoints, top, left, height, width):
    return _on_points(keypoints, lambda p: K.crop(p, top, left, height, width))


def _crop_boxes_dispatch(inpt, top, left, height, width):
    out, size = crop_bounding_boxes(Tensor._wrap(inpt._data), inpt.format, top, left, height, width)
    return wrap(out, like=inpt, canvas_size=size)


def _crop_points_dispatch(inpt, top, left, height, width):
    out, size = crop_keypoints(Tensor._wrap(inpt._data), top, left, height, width)
    return wrap(out, like=inpt, canvas_size=size)


@dispatcher(image=crop_image, pil=crop_image, video=crop_video, mask=crop_mask, boxes=_crop_boxes_dispatch,
            keypoints=_crop_points_dispatch)
def crop(inpt, top, left, height, width):
    """The ``height x width`` region at (top, left) (outside the image: zeros)."""


def _center_anchor(output_size, canvas_size):
    ch, cw = F1._pair(output_size, "center_crop")
    h, w = canvas_size
    return int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw


center_crop_image = center_crop_video = F1.center_crop


def center_crop_mask(mask, output_size):
    return _as_mask_image(mask, lambda m: F1.center_crop(m, output_size))


def center_crop_bounding_boxes(bounding_boxes, format, canvas_size, output_size):
    top, left, ch, cw = _center_anchor(output_size, canvas_size)
    return crop_bounding_boxes(bounding_boxes, format, top, left, ch, cw)


def center_crop_keypoints(inpt, canvas_size, output_size):
    top, left, ch, cw = _center_anchor(output_size, canvas_size)
    return crop_keypoints(inpt, top, left, ch, cw)


@dispatcher(image=center_crop_image, pil=center_crop_image, video=center_crop_video, mask=center_crop_mask,
            boxes=_boxes_dispatch(center_crop_bounding_boxes),
            keypoints=_points_dispatch(center_crop_keypoints))
def center_crop(inpt, output_size):
    """The central ``output_size`` region."""


def resized_crop_image(image, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                       antialias=True):
    return resize_image(F1.crop(image, top, left, height, width), size, interpolation, antialias=antialias)


resized_crop_video = resized_crop_image


def resized_crop_mask(mask, top, left, height, width, size):
    return resize_mask(crop_mask(mask, top, left, height, width), size)


def resized_crop_bounding_boxes(bounding_boxes, format, top, left, height, width, size):
    out, canvas = crop_bounding_boxes(bounding_boxes, format, top, left, height, width)
    return resize_bounding_boxes(out, canvas, size, format=format)


def resized_crop_keypoints(keypoints, top, left, height, width, size):
    out, canvas = crop_keypoints(keypoints, top, left, height, width)
    return resize_keypoints(out, size, canvas)


def _rc_mask(mask, top, left, height, width, size, interpolation=None, antialias=None):
    return resized_crop_mask(mask, top, left, height, width, size)


def _rc_boxes(inpt, top, left, height, width, size, interpolation=None, antialias=None):
    out, c = resized_crop_bounding_boxes(Tensor._wrap(inpt._data), inpt.format, top, left, height, width,
                                         size)
    return wrap(out, like=inpt, canvas_size=c)


def _rc_points(inpt, top, left, height, width, size, interpolation=None, antialias=None):
    out, c = resized_crop_keypoints(Tensor._wrap(inpt._data), top, left, height, width, size)
    return wrap(out, like=inpt, canvas_size=c)


@dispatcher(image=resized_crop_image, pil=resized_crop_image, video=resized_crop_video, mask=_rc_mask,
            boxes=_rc_boxes, keypoints=_rc_points)
def resized_crop(inpt, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """Crop, then resize to ``size``."""


def five_crop_image(image, size):
    return F1.five_crop(image, size)


def ten_crop_image(image, size, vertical_flip=False):
    return F1.ten_crop(image, size, vertical_flip)


five_crop_video, ten_crop_video = five_crop_image, ten_crop_image


@dispatcher(image=five_crop_image, pil=five_crop_image, video=five_crop_video)
def five_crop(inpt, size):
    """The four corner crops and the centre crop of ``size``."""


@dispatcher(image=ten_crop_image, pil=ten_crop_image, video=ten_crop_video)
def ten_crop(inpt, size, vertical_flip=False):
    """``five_crop`` of the input and of its flip."""


# ------------------------------------------------------------------------------------------- pad
def _ltrb(padding):
    if isinstance(padding, (int, float)):
        return (int(padding),) * 4
    p = list(padding)
    if len(p) == 1:
        return (p[0],) * 4
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    if len(p) == 4:
        return tuple(p)
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(p)} element tuple")


def pad_image(image, padding, fill=None, padding_mode="constant"):
    """Pad the borders (one fill value per channel allowed for tensors)."""
    return _pad_any(image, padding, 0 if fill is None else fill, padding_mode)


pad_video = pad_image


def pad_mask(mask, padding, fill=None, padding_mode="constant"):
    return _as_mask_image(mask, lambda m: pad_image(m, padding, 0 if fill is None else fill, padding_mode))


def pad_bounding_boxes(bounding_boxes, format, canvas_size, padding, padding_mode="constant"):
    if padding_mode != "constant":
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes")
    return _on_boxes(bounding_boxes, format, lambda b: B.pad(b, canvas_size, *_ltrb(padding)))


def pad_keypoints(keypoints, canvas_size, padding, padding_mode="constant"):
    if padding_mode != "constant":
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with KeyPoints "
                         "(supported modes are constant)")
    return _on_points(keypoints, lambda p: K.pad(p, canvas_size, *_ltrb(padding)))


@dispatcher(image=pad_image, pil=pad_image, video=pad_video, mask=pad_mask,
            boxes=_boxes_dispatch(pad_bounding_boxes), keypoints=_points_dispatch(pad_keypoints))
def pad(inpt, padding, fill=None, padding_mode="constant"):
    """Pad: ``padding`` is an int, (left/right, top/bottom) or (left, top, right, bottom)."""


# ---------------------------------------------------------------------------------------- warps
def _shear(shear):
    if isinstance(shear, (int, float)):
        return [float(shear), 0.0]
    shear = list(shear)
    return [shear[0], shear[0]] if len(shear) == 1 else shear


def _warp_mode(interpolation):
    mode = interpolation_mode(interpolation)
    return InterpolationMode.NEAREST if mode == InterpolationMode.NEAREST_EXACT else mode


def affine_image(image, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None,
                 center=None):
    with v2_fill():
        return F1.affine(image, angle, list(translate), scale, _shear(shear), _warp_mode(interpolation),
                         _fill_for(image, fill), center)


affine_video = affine_image


def affine_mask(mask, angle, translate, scale, shear, fill=None, center=None):
    return _as_mask_image(mask, lambda m: affine_image(m, angle, translate, scale, shear,
                                                       InterpolationMode.NEAREST, fill or 0, center))


def _forward_matrix(canvas_size, angle, translate, scale, shear, center):
    h, w = canvas_size
    center = [w * 0.5, h * 0.5] if center is None else list(center)
    return F1._get_inverse_affine_matrix(center, angle, list(translate), scale, _shear(shear), inverted=False)


def affine_bounding_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear, center=None):
    """Boxes -> the enclosing boxes of their mapped corners, clamped; returns ``(boxes, canvas_size)``."""
    m = _forward_matrix(canvas_size, angle, translate, scale, shear, center)
    return _on_boxes(bounding_boxes, format, lambda b: B.affine(b, m, canvas_size))


def affine_keypoints(keypoints, canvas_size, angle, translate, scale, shear, center=None):
    return _on_points(keypoints, lambda p: K.affine(p, canvas_size, angle, list(translate), scale,
                                                    _shear(shear), center))


@dispatcher(image=affine_image, pil=affine_image, video=affine_video,
            mask=lambda m, *a, interpolation=None, **k: affine_mask(m, *a, **k),
            boxes=_boxes_dispatch(affine_bounding_boxes), keypoints=_points_dispatch(affine_keypoints))
def affine(inpt, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None,
           center=None):
    """Rotate (degrees), translate, scale and shear about ``center``, keeping the size."""


def rotate_image(image, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    with v2_fill():
        return F1.rotate(image, angle, _warp_mode(interpolation), expand, center, _fill_for(image, fill))


rotate_video = rotate_image


def rotate_mask(mask, angle, expand=False, center=None, fill=None):
    return _as_mask_image(mask, lambda m: rotate_image(m, angle, InterpolationMode.NEAREST, expand, center,
                                                       fill or 0))


def rotate_bounding_boxes(bounding_boxes, format, canvas_size, angle, expand=False, center=None):
    """Boxes -> enclosing boxes of their rotated corners; with ``expand`` shifted into the grown canvas by
    the rotated frame's corner, as TorchVision's kernel (the ``RandomRotation`` transform keeps them
    centred on the pixels instead, see ``_boxes.affine``)."""
    def op(b):
        corners = b[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
        pts, size = K.affine(corners, canvas_size, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], center, expand)
        pts = pts.reshape(-1, 4, 2)
        return B.clamp(np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1), size), size
    return _on_boxes(bounding_boxes, format, op)


def rotate_keypoints(keypoints, canvas_size, angle, expand=False, center=None):
    return _on_points(keypoints, lambda p: K.affine(p, canvas_size, -angle, [0.0, 0.0], 1.0, [0.0, 0.0],
                                                    center, expand))


@dispatcher(image=rotate_image, pil=rotate_image, video=rotate_video,
            mask=lambda m, *a, interpolation=None, **k: rotate_mask(m, *a, **k),
            boxes=_boxes_dispatch(rotate_bounding_boxes), keypoints=_points_dispatch(rotate_keypoints))
def rotate(inpt, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees."""


def _coeffs(startpoints, endpoints, coefficients):
    if coefficients is not None:
        if startpoints is not None or endpoints is not None:
            raise ValueError("The startpoints/endpoints and the coefficients shouldn't be defined "
                             "concurrently.")
        if len(coefficients) != 8:
            raise ValueError("Argument coefficients should have 8 float values")
        return list(coefficients)
    if startpoints is None or endpoints is None:
        raise ValueError("Either the startpoints/endpoints or the coefficients must have non `None` values.")
    return F1._get_perspective_coeffs(startpoints, endpoints)


def perspective_image(image, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None,
                      coefficients=None):
    from ..._functional_pil import perspective as pil_perspective

    c = _coeffs(startpoints, endpoints, coefficients)
    mode = _warp_mode(interpolation)
    if is_pil_image(image):
        return pil_perspective(image, c, F1.pil_modes_mapping[mode], fill)
    fill = F1._grid_fill(image, _fill_for(image, fill), "perspective")
    with v2_fill():
        return F1._run("perspective", image, c, F1._grid_mode(mode, "perspective"), fill)


perspective_video = perspective_image


def perspective_mask(mask, startpoints, endpoints, fill=None, coefficients=None):
    return _as_mask_image(mask, lambda m: perspective_image(
        m, startpoints, endpoints, InterpolationMode.NEAREST, fill or 0, coefficients))


def perspective_bounding_boxes(bounding_boxes, format, canvas_size, startpoints, endpoints,
                               coefficients=None):
    c = _coeffs(startpoints, endpoints, coefficients)

    def op(b):
        corners = b[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
        pts = K.perspective(corners, c).reshape(-1, 4, 2)
        return B.clamp(np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1), canvas_size), canvas_size
    return _on_boxes(bounding_boxes, format, op)[0]


def perspective_keypoints(keypoints, canvas_size, startpoints, endpoints, coefficients=None):
    c = _coeffs(startpoints, endpoints, coefficients)
    return _on_points(keypoints, lambda p: (K.perspective(p, c), canvas_size))[0]


def _persp_boxes(inpt, startpoints, endpoints, interpolation=None, fill=None, coefficients=None):
    out = perspective_bounding_boxes(Tensor._wrap(inpt._data), inpt.format, inpt.canvas_size, startpoints,
                                     endpoints, coefficients)
    return wrap(out, like=inpt)


def _persp_points(inpt, startpoints, endpoints, interpolation=None, fill=None, coefficients=None):
    return wrap(perspective_keypoints(Tensor._wrap(inpt._data), inpt.canvas_size, startpoints, endpoints,
                                      coefficients), like=inpt)


@dispatcher(image=perspective_image, pil=perspective_image, video=perspective_video,
            mask=lambda m, s, e, interpolation=None, fill=None, coefficients=None: perspective_mask(
                m, s, e, fill, coefficients),
            boxes=_persp_boxes, keypoints=_persp_points)
def perspective(inpt, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None,
                coefficients=None):
    """Warp so the four ``startpoints`` land on ``endpoints`` (or by 8 ``coefficients``)."""


def elastic_image(image, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    with v2_fill():
        return F1.elastic_transform(image, displacement, _warp_mode(interpolation), _fill_for(image, fill))


def elastic_video(video, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    x = video._data
    flat = Tensor._wrap(x.reshape((-1,) + x.shape[-3:]))
    out = elastic_image(flat, displacement, interpolation, fill)
    return Tensor._wrap(out._data.reshape(x.shape[:-2] + out.shape[-2:]))


def elastic_mask(mask, displacement, fill=None):
    return _as_mask_image(mask, lambda m: elastic_image(m, displacement, InterpolationMode.NEAREST,
                                                        fill or 0))


def elastic_bounding_boxes(bounding_boxes, format, canvas_size, displacement):
    """Boxes -> the enclosing boxes of their moved corners (points moved as ``elastic_keypoints``)."""
    disp = displacement._data if isinstance(displacement, Tensor) else np.asarray(displacement)

    def op(b):
        corners = b[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
        pts = K.elastic(corners, canvas_size, disp).reshape(-1, 4, 2)
        return B.clamp(np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1), canvas_size), canvas_size
    return _on_boxes(bounding_boxes, format, op)[0]


def elastic_keypoints(keypoints, canvas_size, displacement):
    disp = displacement._data if isinstance(displacement, Tensor) else np.asarray(displacement)
    return _on_points(keypoints, lambda p: (K.elastic(p, canvas_size, disp), canvas_size))[0]


def _elastic_boxes(inpt, displacement, interpolation=None, fill=None):
    return wrap(elastic_bounding_boxes(Tensor._wrap(inpt._data), inpt.format, inpt.canvas_size, displacement),
                like=inpt)


def _elastic_points(inpt, displacement, interpolation=None, fill=None):
    return wrap(elastic_keypoints(Tensor._wrap(inpt._data), inpt.canvas_size, displacement), like=inpt)


@dispatcher(image=elastic_image, pil=elastic_image, video=elastic_video,
            mask=lambda m, d, interpolation=None, fill=None: elastic_mask(m, d, fill),
            boxes=_elastic_boxes, keypoints=_elastic_points)
def elastic(inpt, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Move each pixel by ``displacement`` (``1,H,W,2``, in [-1, 1] grid units)."""


elastic_transform = elastic
