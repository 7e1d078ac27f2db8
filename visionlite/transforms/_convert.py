"""Conversions between PIL images, numpy arrays and visionlite Tensors (``to_tensor`` and friends)."""
import sys

import numpy as np

from visionlite.core import dtypes as _dt
from visionlite.core.tensor import Tensor

from ._common import is_pil_image, wrap
from ._functional_pil import image_from_array

# PIL modes whose pixels are not bytes; every other mode reads as uint8 (TorchVision's table)
_MODE_DTYPES = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B": np.int16, "F": np.float32}


def _pil_hwc(pic):
    """The pixels of a PIL image as an ``H,W,C`` array (a fresh array, never the image's memory)."""
    if pic.mode == "1":
        arr = np.asarray(pic, dtype=np.uint8) * np.uint8(255)
    else:
        arr = np.asarray(pic, dtype=_MODE_DTYPES.get(pic.mode, np.uint8))
    return arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))


def to_tensor(pic):
    """A PIL image or ``H,W[,C]`` array as a ``C,H,W`` Tensor; uint8 values become floats in [0, 1]."""
    if is_pil_image(pic):
        arr = _pil_hwc(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional (H, W[, C]), got {pic.ndim} "
                             "dimensions")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"to_tensor: pic should be a PIL Image or a numpy array, got {type(pic).__name__}")
    # the layout change is cheapest on bytes; then one ufunc pass casts and divides into the output
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if arr.dtype != np.uint8:
        return wrap(chw)
    dtype = _dt.get_default_dtype().np
    out = np.empty(chw.shape, dtype=dtype)
    np.divide(chw, dtype.type(255), out=out)
    return wrap(out)


def pil_to_tensor(pic):
    """A PIL image as a ``C,H,W`` Tensor with the image's own dtype, unscaled."""
    if not is_pil_image(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {type(pic).__name__}")
    arr = np.array(pic, copy=True)
    return wrap(arr.reshape(pic.size[1], pic.size[0], len(pic.getbands())).transpose(2, 0, 1))


def to_pil_image(pic, mode=None):
    """A ``C,H,W`` Tensor or ``H,W,C`` array as a PIL image. Float values are taken as [0, 1] and
    scaled by 255 (unless ``mode='F'``); the mode is inferred from channels and dtype when not given."""
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {pic.ndim} dimensions")
        arr = pic.numpy(force=True)
        if arr.ndim == 3:
            arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise TypeError(f"to_pil_image: pic should be a Tensor or a numpy array, got {type(pic).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {arr.ndim} dimensions")
    if arr.shape[-1] > 4:
        raise ValueError(f"to_pil_image: pic should not have > 4 channels, got {arr.shape[-1]} channels "
                         "(a Tensor image is laid out C,H,W)")
    if np.issubdtype(arr.dtype, np.floating) and mode != "F":
        arr = (arr * 255).astype(np.uint8)
    mode = _infer_mode(arr, mode)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return image_from_array(arr, mode)


def _infer_mode(arr, mode):
    channels, dtype = arr.shape[2], arr.dtype
    if channels == 1:
        int16_mode = "I;16" if sys.byteorder == "little" else "I;16B"
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): int16_mode, np.dtype(np.int32): "I",
                    np.dtype(np.float32): "F"}.get(dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode}) supplied for input type {dtype}; "
                             f"should be {expected}")
        mode = expected
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"to_pil_image: only modes {permitted} are supported for {channels}-channel "
                             "inputs")
        if mode is None and dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"to_pil_image: input type {dtype} is not supported")
    return mode
