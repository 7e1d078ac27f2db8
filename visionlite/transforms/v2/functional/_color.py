"""Colour functionals (images and videos; masks, boxes and key points pass through). The kernels are
the v1 ``transforms.functional`` ops, which already take tensors (``...,C,H,W``) and PIL images."""
import numpy as np

import visionlite as vl
from visionlite.core.backend import array_module
from visionlite.core.tensor import Tensor

from ... import _color_v2 as _C2
from ... import functional as F1
from ..._common import is_pil_image, wrap
from ._utils import dispatcher

__all__ = ["adjust_brightness", "adjust_brightness_image", "adjust_brightness_video", "adjust_contrast",
           "adjust_contrast_image", "adjust_contrast_video", "adjust_gamma", "adjust_gamma_image",
           "adjust_gamma_video", "adjust_hue", "adjust_hue_image", "adjust_hue_video", "adjust_saturation",
           "adjust_saturation_image", "adjust_saturation_video", "adjust_sharpness", "adjust_sharpness_image",
           "adjust_sharpness_video", "autocontrast", "autocontrast_image", "autocontrast_video", "equalize",
           "equalize_image", "equalize_video", "invert", "invert_image", "invert_video", "posterize",
           "posterize_image", "posterize_video", "solarize", "solarize_image", "solarize_video",
           "rgb_to_grayscale", "rgb_to_grayscale_image", "to_grayscale", "grayscale_to_rgb",
           "grayscale_to_rgb_image", "permute_channels", "permute_channels_image", "permute_channels_video"]


def _grey_passthrough(v1_op):
    """v2 leaves one-channel images as they are for the colour-balance ops that need RGB."""
    def kernel(image, *args):
        if not is_pil_image(image) and image.ndim >= 3 and image.shape[-3] == 1:
            return image
        return v1_op(image, *args)
    kernel.__doc__ = v1_op.__doc__
    return kernel


def _v2_rounding(v1_op, name, check=None):
    """v2's kernel for ``name``: the v1 op's checks, its PIL path (TorchVision v2 calls the same PIL code)
    and its differentiable path; plain tensors go through ``_color_v2``, which rounds as v2 does."""
    raw = getattr(_C2, name)

    def kernel(image, *args):
        if is_pil_image(image) or F1._tracks_grad(image):
            return v1_op(image, *args)
        if check is not None:
            check(*args)
        F1._dispatch(image, name)
        return wrap(raw(F1._colour_tensor(image, name), *args))

    kernel.__doc__ = v1_op.__doc__
    kernel.__name__ = f"{name}_image"
    return kernel


def _factor_check(arg):
    return lambda factor, *_: F1._non_negative(factor, arg)


def _hue_check(hue_factor):
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")


def _gamma_check(gamma, gain=1.0):
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma should be a non-negative real number, got {gamma}")


adjust_brightness_image = adjust_brightness_video = _v2_rounding(
    F1.adjust_brightness, "adjust_brightness", _factor_check("brightness_factor"))
adjust_contrast_image = adjust_contrast_video = _v2_rounding(
    F1.adjust_contrast, "adjust_contrast", _factor_check("contrast_factor"))
adjust_gamma_image = adjust_gamma_video = _v2_rounding(F1.adjust_gamma, "adjust_gamma", _gamma_check)
adjust_hue_image = adjust_hue_video = _grey_passthrough(_v2_rounding(F1.adjust_hue, "adjust_hue", _hue_check))
adjust_saturation_image = adjust_saturation_video = _grey_passthrough(
    _v2_rounding(F1.adjust_saturation, "adjust_saturation", _factor_check("saturation_factor")))
adjust_sharpness_image = adjust_sharpness_video = _v2_rounding(
    F1.adjust_sharpness, "adjust_sharpness", _factor_check("sharpness_factor"))
autocontrast_image = autocontrast_video = _v2_rounding(F1.autocontrast, "autocontrast")
invert_image = invert_video = F1.invert


def _as_4d(op):
    """Run a v1 op (which takes ``C,H,W`` or ``N,C,H,W``) on any ``...,C,H,W`` tensor."""
    def run(image):
        if is_pil_image(image) or image.ndim <= 4:
            return op(image)
        x = image._data
        out = op(Tensor._wrap(x.reshape((-1,) + x.shape[-3:])))
        return Tensor._wrap(out._data.reshape(x.shape[:-2] + out.shape[-2:]))
    return run


def equalize_image(image):
    """Equalize each channel's histogram; float images go through uint8 and back, as in v2."""
    if is_pil_image(image) or image.dtype.np == np.uint8:
        return _as_4d(F1.equalize)(image)
    dtype = image.dtype
    out = _as_4d(F1.equalize)(F1.convert_image_dtype(image, vl.uint8))
    return wrap(_C2.to_float(out._data, dtype.np))


def posterize_image(image, bits):
    """Keep ``bits`` bits per value; float images are quantised to ``2 ** bits`` levels, as in v2."""
    if is_pil_image(image) or not image.is_floating_point():
        return F1.posterize(image, bits)
    if not isinstance(bits, int) or not 0 <= bits <= 8:
        raise TypeError(f"bits must be a positive integer in the range [0, 8], got {bits} instead.")
    x = image._data
    t = x.dtype.type
    levels = 1 << bits
    xp = array_module(x)
    return Tensor._wrap(xp.clip(xp.floor(x * t(levels)), 0, levels - 1) * t(1.0 / levels))


equalize_video, posterize_video = equalize_image, posterize_image
solarize_image = solarize_video = F1.solarize


def _both(kernel):
    return {"image": kernel, "pil": kernel, "video": kernel}


@dispatcher(**_both(adjust_brightness_image))
def adjust_brightness(inpt, brightness_factor):
    """Scale intensities by ``brightness_factor``."""


@dispatcher(**_both(adjust_contrast_image))
def adjust_contrast(inpt, contrast_factor):
    """Blend with the mean grey level by ``contrast_factor``."""


@dispatcher(**_both(adjust_gamma_image))
def adjust_gamma(inpt, gamma, gain=1):
    """``gain * I ** gamma`` on intensities in [0, 1]."""


@dispatcher(**_both(adjust_hue_image))
def adjust_hue(inpt, hue_factor):
    """Shift the hue by ``hue_factor`` turns in [-0.5, 0.5]."""


@dispatcher(**_both(adjust_saturation_image))
def adjust_saturation(inpt, saturation_factor):
    """Blend with the greyscale image by ``saturation_factor``."""


@dispatcher(**_both(adjust_sharpness_image))
def adjust_sharpness(inpt, sharpness_factor):
    """Blend with a smoothed image by ``sharpness_factor``."""


@dispatcher(**_both(autocontrast_image))
def autocontrast(inpt):
    """Stretch each channel to the full range."""


@dispatcher(**_both(equalize_image))
def equalize(inpt):
    """Equalize each channel's histogram."""


@dispatcher(**_both(invert_image))
def invert(inpt):
    """``max - I``."""


@dispatcher(**_both(posterize_image))
def posterize(inpt, bits):
    """Keep the ``bits`` highest bits of uint8 values."""


@dispatcher(**_both(solarize_image))
def solarize(inpt, threshold):
    """Invert values at or above ``threshold``."""


def rgb_to_grayscale_image(image, num_output_channels=1):
    """Luma with 1 or 3 output channels (a one-channel image is only repeated)."""
    if not is_pil_image(image) and image.ndim >= 3 and image.shape[-3] == 1:
        return grayscale_to_rgb_image(image) if num_output_channels == 3 else image
    if is_pil_image(image) or F1._tracks_grad(image) or num_output_channels not in (1, 3):
        return F1.rgb_to_grayscale(image, num_output_channels)
    F1._dispatch(image, "rgb_to_grayscale")
    return wrap(_C2.rgb_to_grayscale(F1._colour_tensor(image, "rgb_to_grayscale"), num_output_channels))


@dispatcher(image=rgb_to_grayscale_image, pil=rgb_to_grayscale_image)
def rgb_to_grayscale(inpt, num_output_channels=1):
    """Convert to grey with 1 or 3 output channels."""


to_grayscale = rgb_to_grayscale


def grayscale_to_rgb_image(image):
    """Repeat a one-channel image to three channels (RGB images are returned as they are); PIL images are
    converted to mode RGB."""
    if is_pil_image(image):
        return image.convert("RGB")
    if image.shape[-3] >= 3:  # already RGB (or more)
        return image
    if image.requires_grad:  # keeps the graph (one channel repeated three times)
        return image.expand(*image.shape[:-3], 3, *image.shape[-2:]) * 1.0
    return Tensor._wrap(array_module(image._data).repeat(image._data, 3, axis=-3))


@dispatcher(image=grayscale_to_rgb_image, pil=grayscale_to_rgb_image)
def grayscale_to_rgb(inpt):
    """One channel -> three."""


def permute_channels_image(image, permutation):
    """The channels in ``permutation`` order."""
    from .._color import permute_channels as _permute

    return _permute(image, permutation)


permute_channels_video = permute_channels_image


@dispatcher(image=permute_channels_image, pil=permute_channels_image, video=permute_channels_video)
def permute_channels(inpt, permutation):
    """Reorder the channels: output channel ``i`` is input channel ``permutation[i]``."""
