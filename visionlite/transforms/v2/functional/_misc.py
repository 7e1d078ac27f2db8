"""Meta, per-value, conversion and temporal functionals of ``transforms.v2.functional``: sizes, box and
key-point bookkeeping (format, clamp, sanitize), normalize/blur/noise/dtype/erase/JPEG, type conversions
and video subsampling."""
import io

import numpy as np

import visionlite as vl
from visionlite.core import dtypes as _dt
from visionlite.core.autograd.grad_mode import is_grad_enabled
from visionlite.core.tensor import Tensor

from ... import functional as F1
from ..._common import is_pil_image
from ..._tensor_resample import _linspace
from .. import _boxes as B
from .. import _keypoints as K
from ..tv_tensors import BoundingBoxes, Image, KeyPoints, as_format, as_image, wrap
from ._utils import dispatcher, is_pure_tensor

__all__ = ["get_dimensions", "get_dimensions_image", "get_dimensions_video", "get_num_channels",
           "get_num_channels_image", "get_num_channels_video", "get_image_num_channels", "get_size",
           "get_size_image", "get_size_video", "get_size_mask", "get_size_bounding_boxes",
           "get_size_keypoints",
           "get_image_size", "get_num_frames", "get_num_frames_video", "convert_bounding_box_format",
           "clamp_bounding_boxes", "clamp_keypoints", "sanitize_bounding_boxes", "sanitize_keypoints",
           "normalize", "normalize_image", "normalize_video", "gaussian_blur", "gaussian_blur_image",
           "gaussian_blur_video", "gaussian_noise", "gaussian_noise_image", "gaussian_noise_video",
           "to_dtype",
           "to_dtype_image", "to_dtype_video", "convert_image_dtype", "erase", "erase_image", "erase_video",
           "jpeg", "jpeg_image", "jpeg_video", "uniform_temporal_subsample",
           "uniform_temporal_subsample_video",
           "to_image", "pil_to_tensor", "to_pil_image", "to_tensor"]


# ------------------------------------------------------------------------------------------- meta
def get_dimensions_image(image):
    """``[channels, height, width]``."""
    return F1.get_dimensions(image)


get_dimensions_video = get_dimensions_image


def get_num_channels_image(image):
    return F1.get_dimensions(image)[0]


get_num_channels_video = get_num_channels_image


def get_size_image(image):
    """``[height, width]``."""
    return F1.get_dimensions(image)[1:]


get_size_video = get_size_mask = get_size_image


def get_size_bounding_boxes(bounding_box):
    return list(bounding_box.canvas_size)


def get_size_keypoints(keypoints):
    return list(keypoints.canvas_size)


def get_num_frames_video(video):
    return int(video.shape[-4])


def _kind_call(name, inpt, table):
    from ._utils import _REGISTRY, kind_of

    custom = _REGISTRY.get((name, type(inpt)))
    if custom is not None:
        return custom(inpt)
    kernel = table.get(kind_of(inpt))
    if kernel is None:
        raise TypeError(f"{name}: unsupported input type {type(inpt).__name__}")
    return kernel(inpt)


def get_dimensions(inpt):
    """``[channels, height, width]`` of an image or video."""
    return _kind_call("get_dimensions", inpt, {"image": get_dimensions_image, "pil": get_dimensions_image,
                                               "video": get_dimensions_video})


def get_num_channels(inpt):
    return _kind_call("get_num_channels", inpt, {"image": get_num_channels_image,
                                                 "pil": get_num_channels_image,
                                                 "video": get_num_channels_video})


get_image_num_channels = get_num_channels


def get_size(inpt):
    """``[height, width]`` of an image, video or mask, or the canvas of boxes and key points."""
    return _kind_call("get_size", inpt, {"image": get_size_image, "pil": get_size_image,
                                         "video": get_size_video,
                                         "mask": get_size_mask, "boxes": get_size_bounding_boxes,
                                         "keypoints": get_size_keypoints})


def get_image_size(inpt):
    """``[width, height]`` (the v1 convention)."""
    return F1.get_image_size(inpt)


def get_num_frames(inpt):
    return _kind_call("get_num_frames", inpt, {"video": get_num_frames_video})


# ------------------------------------------------------------------------------- boxes and points
def _box_args(inpt, format, canvas_size, name, need_canvas=True):
    if is_pure_tensor(inpt):
        if format is None or (need_canvas and canvas_size is None):
            raise ValueError(f"{name}: for pure tensor inputs, `format` and `canvas_size` have to be passed.")
        return inpt._data, as_format(format), canvas_size
    if isinstance(inpt, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError(f"{name}: for bounding box tv_tensor inputs, `format` and `canvas_size` must "
                             "not be passed.")
        return inpt._data, inpt.format, inpt.canvas_size
    raise TypeError(f"{name}: input can either be a plain tensor or a bounding box tv_tensor, but got "
                    f"{type(inpt).__name__} instead.")


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """Re-express ``N,4`` boxes in ``new_format`` (plain tensors also need ``old_format``)."""
    if new_format is None:
        raise TypeError("convert_bounding_box_format() missing 1 required argument: 'new_format'")
    if is_pure_tensor(inpt):
        if old_format is None:
            raise ValueError("For pure tensor inputs, `old_format` has to be passed.")
        return Tensor._wrap(B.convert_format(inpt._data, as_format(old_format), as_format(new_format)))
    if isinstance(inpt, BoundingBoxes):
        if old_format is not None:
            raise ValueError("For bounding box tv_tensor inputs, `old_format` must not be passed.")
        new = as_format(new_format)
        return wrap(B.convert_format(inpt._data, inpt.format, new), like=inpt, format=new)
    raise TypeError(f"Input can either be a plain tensor or a bounding box tv_tensor, but got {type(inpt)} "
                    "instead.")


def clamp_bounding_boxes(inpt, format=None, canvas_size=None, clamping_mode="auto"):
    """Clamp boxes to their canvas (``[0, width] x [0, height]``)."""
    data, fmt, size = _box_args(inpt, format, canvas_size, "clamp_bounding_boxes")
    if clamping_mode is None:
        return inpt
    out = Tensor._wrap(B.from_xyxy(B.clamp(B.to_xyxy(data, fmt), size), fmt, data.dtype))
    return wrap(out, like=inpt) if isinstance(inpt, BoundingBoxes) else out


def clamp_keypoints(inpt, canvas_size=None):
    """Clamp points to ``[0, width - 1] x [0, height - 1]``."""
    if is_pure_tensor(inpt):
        if canvas_size is None:
            raise ValueError("For pure tensor inputs, `canvas_size` has to be passed.")
        size = canvas_size
    elif isinstance(inpt, KeyPoints):
        if canvas_size is not None:
            raise ValueError("For keypoints tv_tensor inputs, `canvas_size` must not be passed.")
        size = inpt.canvas_size
    else:
        raise TypeError(f"Input can either be a plain tensor or a keypoints tv_tensor, but got {type(inpt)} "
                        "instead.")
    data = inpt._data
    out = K.clamp(data.reshape(-1, 2).astype(np.float64), size)
    out = Tensor._wrap(B.cast_like(out, data.dtype).reshape(data.shape))
    return wrap(out, like=inpt) if isinstance(inpt, KeyPoints) else out


def sanitize_bounding_boxes(bounding_boxes, format=None, canvas_size=None, min_size=1.0, min_area=1.0):
    """``(kept boxes, keep mask)``: drop boxes smaller than ``min_size``/``min_area`` or off the canvas."""
    data, fmt, size = _box_args(bounding_boxes, format, canvas_size, "sanitize_bounding_boxes")
    valid = B.valid_mask(B.to_xyxy(data, fmt), size, min_size, min_area)
    kept = Tensor._wrap(data[valid])
    if isinstance(bounding_boxes, BoundingBoxes):
        kept = wrap(kept, like=bounding_boxes)
    return kept, Tensor._wrap(valid)


def sanitize_keypoints(key_points, canvas_size=None):
    """``(kept points, keep mask)``: drop points (or whole ``N,K,2`` groups) off the canvas."""
    if isinstance(key_points, KeyPoints):
        if canvas_size is not None:
            raise ValueError("For KeyPoints tv_tensor inputs, `canvas_size` must not be passed.")
        canvas_size = key_points.canvas_size
    elif canvas_size is None:
        raise ValueError("For pure tensor inputs, `canvas_size` has to be passed.")
    data = key_points._data
    valid = K.valid_mask(data, canvas_size)
    kept = Tensor._wrap(data[valid])
    if isinstance(key_points, KeyPoints):
        kept = wrap(kept, like=key_points)
    return kept, Tensor._wrap(valid)


# ------------------------------------------------------------------------------------ per-value
def normalize_image(image, mean, std, inplace=False):
    """``(image - mean) / std`` per channel of a float tensor."""
    return F1.normalize(image, mean, std, inplace)


normalize_video = normalize_image


@dispatcher(image=normalize_image, video=normalize_video)
def normalize(inpt, mean, std, inplace=False):
    """Normalize float images or videos per channel."""


def gaussian_blur_image(image, kernel_size, sigma=None):
    """Gaussian blur of an image tensor or PIL image with v2's kernel (a softmax over the grid)."""
    return F1._gaussian_blur(image, kernel_size, sigma, version=2)


gaussian_blur_video = gaussian_blur_image


@dispatcher(image=gaussian_blur_image, pil=gaussian_blur_image, video=gaussian_blur_video)
def gaussian_blur(inpt, kernel_size, sigma=None):
    """Gaussian blur with odd ``kernel_size`` and ``sigma``."""


def gaussian_noise_image(image, mean=0.0, sigma=0.1, clip=True):
    """``image + mean + sigma * N(0, 1)`` on a float image (clipped to [0, 1] when ``clip``)."""
    if not image.is_floating_point():
        raise ValueError(f"Input tensor is expected to be in float dtype, got dtype={image.dtype}")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    noise = vl.randn(*image.shape, dtype=image.dtype)._data * image.dtype.np.type(sigma) + \
        image.dtype.np.type(mean)
    out = image._data + noise
    return Tensor._wrap(out.clip(0, 1) if clip else out)


gaussian_noise_video = gaussian_noise_image


@dispatcher(image=gaussian_noise_image, video=gaussian_noise_video)
def gaussian_noise(inpt, mean=0.0, sigma=0.1, clip=True):
    """Add Gaussian noise to float images or videos."""


def to_dtype_image(image, dtype=None, scale=False):
    """Change the dtype; ``scale`` rescales values between the ranges of integer and float images."""
    dtype = _dt.get_dtype(vl.float32 if dtype is None else dtype)
    if scale and dtype.is_floating_point and not image.is_floating_point() and image.dtype != dtype:
        # v2 scales integers up by multiplying with 1 / max (v1 divides by max: other roundings)
        from ..._color_v2 import to_float

        return Tensor._wrap(to_float(image._data, dtype.np))
    if scale:
        return F1.convert_image_dtype(image, dtype)
    if dtype.is_floating_point and image.requires_grad and is_grad_enabled():
        return image.to(dtype)  # a cast to a float dtype keeps the graph, as in TorchVision
    return Tensor._wrap(image._data.astype(dtype.np))


to_dtype_video = to_dtype_image


def _to_dtype_other(inpt, dtype=None, scale=False):
    dtype = _dt.get_dtype(vl.float32 if dtype is None else dtype)
    return wrap(inpt._data.astype(dtype.np), like=inpt)


@dispatcher(image=to_dtype_image, video=to_dtype_video,
            mask=lambda m, dtype=None, scale=False: to_dtype_image(m, dtype, False),
            boxes=_to_dtype_other, keypoints=_to_dtype_other)
def to_dtype(inpt, dtype=None, scale=False):
    """Change the dtype (images and videos rescaled when ``scale``; other kinds cast only)."""


def convert_image_dtype(image, dtype=None):
    """``to_dtype(image, dtype, scale=True)`` (the v1 name)."""
    dtype = _dt.get_dtype(vl.float32 if dtype is None else dtype)
    out = to_dtype_image(image, dtype, scale=True)
    return wrap(out, like=image) if isinstance(image, Image) else out


def erase_image(image, i, j, h, w, v, inplace=False):
    return F1.erase(image, i, j, h, w, v, inplace)


erase_video = erase_image


def _erase_pil(image, i, j, h, w, v, inplace=False):
    return F1.to_pil_image(F1.erase(F1.pil_to_tensor(image), i, j, h, w, v), mode=image.mode)


@dispatcher(image=erase_image, pil=_erase_pil, video=erase_video)
def erase(inpt, i, j, h, w, v, inplace=False):
    """Set the ``h x w`` region at (i, j) to ``v``."""


def _jpeg_pil(image, quality):
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    from PIL import Image as PILImage

    return PILImage.open(buf).convert(image.mode) if image.mode != "L" else PILImage.open(buf).copy()


def jpeg_image(image, quality):
    """Encode as JPEG at ``quality`` (1-100) and decode again, on uint8 ``...,C,H,W`` images (1 or 3
    channels), through Pillow's libjpeg as TorchVision goes through its own."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got quality={quality}")
    if is_pil_image(image):
        return _jpeg_pil(image, quality)
    if image.dtype.np != np.uint8:
        raise TypeError(f"Input tensor dtype should be uint8, got {image.dtype}.")
    x = np.asarray(image._data.get() if hasattr(image._data, "get") else image._data)
    flat = x.reshape((-1,) + x.shape[-3:])
    out = []
    for img in flat:
        pil = F1.to_pil_image(Tensor._wrap(img))
        back = np.asarray(_jpeg_pil(pil, quality))
        out.append(back[None] if back.ndim == 2 else back.transpose(2, 0, 1))
    return vl.tensor(np.stack(out).reshape(x.shape), device=image.device)


jpeg_video = jpeg_image


@dispatcher(image=jpeg_image, pil=jpeg_image, video=jpeg_video)
def jpeg(image, quality):
    """JPEG round trip at ``quality``."""


def uniform_temporal_subsample_video(video, num_samples):
    """``num_samples`` frames evenly spaced over the ``T`` axis (``...,T,C,H,W``)."""
    t = video.shape[-4]
    index = _linspace(0.0, float(t - 1), num_samples).astype(np.int64)
    return Tensor._wrap(video._data.take(index, axis=-4) if isinstance(video._data, np.ndarray)
                        else video._data[..., index, :, :, :])


@dispatcher(video=uniform_temporal_subsample_video)
def uniform_temporal_subsample(inpt, num_samples):
    """Keep ``num_samples`` evenly spaced frames of a video."""


# ----------------------------------------------------------------------------------- conversions
def to_image(inpt):
    """A PIL image, ``H,W,C`` numpy array or tensor -> an ``Image`` (no scaling)."""
    if isinstance(inpt, np.ndarray):
        arr = inpt[..., None] if inpt.ndim == 2 else inpt
        return Image(np.ascontiguousarray(arr.transpose(2, 0, 1)) if arr.ndim == 3 else arr)
    if is_pil_image(inpt):
        return Image(inpt)
    if isinstance(inpt, Tensor):
        return as_image(inpt._data)
    raise TypeError(f"Input can either be a pure Tensor, a numpy array, or a PIL image, but got {type(inpt)} "
                    "instead.")


pil_to_tensor = F1.pil_to_tensor
to_pil_image = F1.to_pil_image
to_tensor = F1.to_tensor
