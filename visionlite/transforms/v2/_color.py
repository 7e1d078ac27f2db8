"""Photometric joint transforms: they change images only (PIL or tensor); masks, boxes and everything
else pass through, as in ``torchvision.transforms.v2``. Parameters are drawn in TorchVision's order."""
import warnings

from visionlite.core.tensor import Tensor

from .. import _color_transforms as _v1c
from .. import _random as R
from .. import functional as F
from .._common import is_pil_image
from ._transform import _ImageOnly, _RandomApplyTransform

__all__ = ["ColorJitter", "RandomPhotometricDistort", "Grayscale", "RandomGrayscale", "GaussianBlur",
           "RandomErasing", "RandomChannelPermutation", "RandomAdjustSharpness", "RandomAutocontrast",
           "RandomEqualize", "RandomInvert", "RandomPosterize", "RandomSolarize", "RGB"]


def _check_range(value, name, center=1.0, bound=(0, float("inf")), clip_first_on_zero=True):
    if value is None:
        return None
    if not isinstance(value, (int, float, tuple, list)):
        raise TypeError(f"{name}={value} should be a single number or a sequence with length 2.")
    return _v1c.ColorJitter._check_input(value, name, center, bound, clip_first_on_zero)


def _adjust(img, brightness=None, contrast=None, saturation=None, hue=None, order=(0, 1, 2, 3)):
    """Apply the factors that are not None, in ``order`` (0 brightness, 1 contrast, 2 saturation, 3 hue)."""
    ops = ((F.adjust_brightness, brightness), (F.adjust_contrast, contrast),
           (F.adjust_saturation, saturation), (F.adjust_hue, hue))
    for i in order:
        fn, factor = ops[i]
        if factor is not None:
            img = fn(img, factor)
    return img


def permute_channels(img, permutation):
    """The image with its channels in ``permutation`` order (PIL images go through a tensor)."""
    if is_pil_image(img):
        return F.to_pil_image(permute_channels(F.pil_to_tensor(img), permutation))
    return Tensor._wrap(img._data[..., list(permutation), :, :])


class ColorJitter(_ImageOnly):
    """Random brightness, contrast, saturation and hue changes, applied in a random order."""

    def __init__(self, brightness=None, contrast=None, saturation=None, hue=None):
        super().__init__()
        self.brightness = _check_range(brightness, "brightness")
        self.contrast = _check_range(contrast, "contrast")
        self.saturation = _check_range(saturation, "saturation")
        self.hue = _check_range(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def make_params(self, leaves, kinds, canvas_size):
        order = R.randperm(4).tolist()
        draw = [None if r is None else R.uniform(r[0], r[1])
                for r in (self.brightness, self.contrast, self.saturation, self.hue)]
        return {"order": order, "factors": draw}

    def image(self, img, params):
        return _adjust(img, *params["factors"], order=params["order"])

    def __repr__(self):
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class RandomPhotometricDistort(_ImageOnly):
    """SSD's photometric distortion: each of brightness, contrast, saturation and hue with probability
    ``p`` (contrast before or after the colour changes, at random), then a random channel permutation
    with probability ``p``."""

    def __init__(self, brightness=(0.875, 1.125), contrast=(0.5, 1.5), saturation=(0.5, 1.5),
                 hue=(-0.05, 0.05), p=0.5):
        super().__init__()
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue
        self.p = p

    def make_params(self, leaves, kinds, canvas_size):
        channels = next(F.get_dimensions(x)[0] for x, k in zip(leaves, kinds) if k in ("image", "video"))
        factors = [R.uniform(r[0], r[1]) if R.rand() < self.p else None
                   for r in (self.brightness, self.contrast, self.saturation, self.hue)]
        contrast_before = R.rand() < 0.5
        permutation = R.randperm(channels).tolist() if R.rand() < self.p else None
        return {"factors": factors, "contrast_before": contrast_before, "permutation": permutation}

    def image(self, img, params):
        b, c, s, h = params["factors"]
        img = _adjust(img, brightness=b, contrast=c if params["contrast_before"] else None, saturation=s,
                      hue=h, order=(0, 1, 2, 3))
        if not params["contrast_before"]:
            img = _adjust(img, contrast=c)
        if params["permutation"] is not None:
            img = permute_channels(img, params["permutation"])
        return img

    def __repr__(self):
        return (f"RandomPhotometricDistort(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue}, p={self.p})")


class Grayscale(_ImageOnly):
    """Convert images to grey with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        super().__init__()
        self.num_output_channels = num_output_channels

    def image(self, img, params):
        return F.rgb_to_grayscale(img, num_output_channels=self.num_output_channels)

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomGrayscale(_RandomApplyTransform, _ImageOnly):
    """With probability ``p``, convert images to grey, keeping their number of channels."""

    def __init__(self, p=0.1):
        super().__init__(p=p)

    def image(self, img, params):
        return F.rgb_to_grayscale(img, num_output_channels=F.get_dimensions(img)[0])

    def __repr__(self):
        return f"RandomGrayscale(p={self.p})"


class GaussianBlur(_ImageOnly):
    """Blur images with a Gaussian whose ``sigma`` is drawn from a (min, max) range."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        if isinstance(sigma, (tuple, list)) and len(sigma) == 1:
            sigma = (sigma[0], sigma[0])
        checked = _v1c.GaussianBlur(kernel_size, sigma)
        self.kernel_size, self.sigma = checked.kernel_size, tuple(float(s) for s in checked.sigma)

    def make_params(self, leaves, kinds, canvas_size):
        sigma = R.uniform(self.sigma[0], self.sigma[1])
        return {"sigma": [sigma, sigma]}

    def image(self, img, params):
        return F.gaussian_blur(img, list(self.kernel_size), params["sigma"])

    def __repr__(self):
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing(_RandomApplyTransform, _ImageOnly):
    """With probability ``p``, erase a random rectangle of the images (Zhong et al., 2017); PIL images
    are erased through a tensor. Masks and boxes pass through unchanged (with a warning, as TorchVision)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, inplace=False):
        super().__init__(p=p)
        checked = _v1c.RandomErasing(p, scale, ratio, value, inplace)  # argument checks
        self.scale, self.ratio, self.inplace = checked.scale, checked.ratio, inplace
        if isinstance(value, (int, float)):
            self.value = [float(value)]
        elif isinstance(value, str):
            self.value = None
        else:
            self.value = [float(v) for v in value]

    def make_params(self, leaves, kinds, canvas_size):
        if any(k in ("mask", "boxes") for k in kinds):
            warnings.warn("RandomErasing() is currently passing through inputs of type Mask and "
                          "BoundingBoxes; only images are erased.", stacklevel=4)
        channels = next(F.get_dimensions(x)[0] for x, k in zip(leaves, kinds) if k in ("image", "video"))
        if self.value is not None and len(self.value) not in (1, channels):
            raise ValueError("If value is a sequence, it should have either a single value or "
                             f"{channels} (number of input channels)")
        found = _v1c.erasing_params(channels, *canvas_size, self.scale, self.ratio, self.value)
        return {"region": found}

    def image(self, img, params):
        if params["region"] is None:
            return img
        if is_pil_image(img):
            out = F.erase(F.pil_to_tensor(img), *params["region"])
            return F.to_pil_image(out, mode=img.mode)
        return F.erase(img, *params["region"], inplace=self.inplace)

    def __repr__(self):
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}, "
                f"inplace={self.inplace})")


class RandomChannelPermutation(_ImageOnly):
    """Shuffle the channels of images and videos (one permutation drawn per call)."""

    def make_params(self, leaves, kinds, canvas_size):
        channels = next(F.get_dimensions(x)[0] for x, k in zip(leaves, kinds) if k in ("image", "video"))
        return {"permutation": R.randperm(channels).tolist()}

    def image(self, img, params):
        return permute_channels(img, params["permutation"])

    def __repr__(self):
        return "RandomChannelPermutation()"


class _RandomColourOp(_RandomApplyTransform, _ImageOnly):
    """With probability ``p``, one colour op on images and videos (the v1 class of the same name's op)."""

    op = None
    arg_name = None

    def __init__(self, value=None, p=0.5):
        super().__init__(p=p)
        if self.arg_name is not None:
            setattr(self, self.arg_name, value)

    def image(self, img, params):
        args = () if self.arg_name is None else (getattr(self, self.arg_name),)
        return type(self).op(img, *args)

    def __repr__(self):
        arg = "" if self.arg_name is None else f"{self.arg_name}={getattr(self, self.arg_name)}, "
        return f"{type(self).__name__}({arg}p={self.p})"


class RandomAdjustSharpness(_RandomColourOp):
    """With probability ``p``, adjust the sharpness by ``sharpness_factor``."""

    op, arg_name = F.adjust_sharpness, "sharpness_factor"

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__(sharpness_factor, p)


class RandomAutocontrast(_RandomColourOp):
    """With probability ``p``, stretch each channel to the full range."""

    op = F.autocontrast

    def __init__(self, p=0.5):
        super().__init__(None, p)


class RandomEqualize(_RandomColourOp):
    """With probability ``p``, equalize the histogram (uint8 images)."""

    op = F.equalize

    def __init__(self, p=0.5):
        super().__init__(None, p)


class RandomInvert(_RandomColourOp):
    """With probability ``p``, invert the colours."""

    op = F.invert

    def __init__(self, p=0.5):
        super().__init__(None, p)


class RandomPosterize(_RandomColourOp):
    """With probability ``p``, keep the ``bits`` highest bits of each value."""

    op, arg_name = F.posterize, "bits"

    def __init__(self, bits, p=0.5):
        super().__init__(bits, p)


class RandomSolarize(_RandomColourOp):
    """With probability ``p``, invert the values at or above ``threshold``."""

    op, arg_name = F.solarize, "threshold"

    def __init__(self, threshold, p=0.5):
        super().__init__(threshold, p)


class RGB(_ImageOnly):
    """Make images and videos three-channel: grey ones are repeated, RGB ones pass as they are."""

    def image(self, img, params):
        from .functional import grayscale_to_rgb_image

        return grayscale_to_rgb_image(img)

    def __repr__(self):
        return "RGB()"
