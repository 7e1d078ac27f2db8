"""Photometric transform classes (colour, blur, erasing and the random one-op wrappers); re-exported by
``transforms.transforms``, so they are used as ``transforms.ColorJitter`` and so on."""
import math
import numbers
import warnings
from collections.abc import Sequence

import visionlite as vl
from visionlite.core.nn.module import Module

from . import _random as R
from . import functional as F
from ._args import _setup_size


class ColorJitter(Module):
    """Random brightness, contrast, saturation and hue changes, applied in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        super().__init__()
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def _check_input(value, name, center=1, bound=(0, float("inf")), clip_first_on_zero=True):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - float(value), center + float(value)]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
        return None if value[0] == value[1] == center else tuple(value)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, b, c, s, h): a permutation of the four ops and each factor (None when unused)."""
        fn_idx = R.randperm(4)
        b = None if brightness is None else R.uniform(brightness[0], brightness[1])
        c = None if contrast is None else R.uniform(contrast[0], contrast[1])
        s = None if saturation is None else R.uniform(saturation[0], saturation[1])
        h = None if hue is None else R.uniform(hue[0], hue[1])
        return fn_idx, b, c, s, h

    def forward(self, img):
        fn_idx, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        ops = ((F.adjust_brightness, b), (F.adjust_contrast, c), (F.adjust_saturation, s), (F.adjust_hue, h))
        for fn_id in fn_idx.tolist():
            fn, factor = ops[fn_id]
            if factor is not None:
                img = fn(img, factor)
        return img

    def __repr__(self):
        return (f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale(Module):
    """Convert to grey with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        super().__init__()
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, num_output_channels=self.num_output_channels)

    def __repr__(self):
        return f"{type(self).__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale(Module):
    """Convert to grey (keeping the channel count) with probability ``p``."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, img):
        channels, _, _ = F.get_dimensions(img)
        if R.rand() < self.p:
            return F.rgb_to_grayscale(img, num_output_channels=channels)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomErasing(Module):
    """With probability ``p``, erase a random rectangle of a tensor image (Zhong et al., 2017)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        super().__init__()
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)", stacklevel=2)
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """(i, j, h, w, v): the region and the values to write (random normal when ``value`` is None);
        the whole image itself when ten tries find no region that fits."""
        found = erasing_params(*img.shape[-3:], scale, ratio, value)
        return found if found is not None else (0, 0, img.shape[-2], img.shape[-1], img)

    def forward(self, img):
        if not isinstance(img, vl.Tensor):
            raise TypeError(f"RandomErasing needs a tensor image, got {type(img).__name__}; convert it "
                            "first with ToTensor() or PILToTensor()")
        if R.rand() < self.p:
            if isinstance(self.value, (int, float)):
                value = [float(self.value)]
            elif isinstance(self.value, str):
                value = None
            else:
                value = [float(v) for v in self.value]
            if value is not None and len(value) not in (1, img.shape[-3]):
                raise ValueError("If value is a sequence, it should have either a single value or "
                                 f"{img.shape[-3]} (number of input channels)")
            x, y, h, w, v = self.get_params(img, scale=self.scale, ratio=self.ratio, value=value)
            return F.erase(img, x, y, h, w, v, self.inplace)
        return img

    def __repr__(self):
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, "
                f"inplace={self.inplace})")


def erasing_params(img_c, img_h, img_w, scale, ratio, value=None):
    """RandomErasing's draw for a ``img_c x img_h x img_w`` image: (i, j, h, w, v), or None when ten tries
    find no region that fits."""
    area = img_h * img_w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        erase_area = area * R.uniform(scale[0], scale[1])
        aspect_ratio = math.exp(R.uniform(log_ratio[0], log_ratio[1]))
        h = int(round(math.sqrt(erase_area * aspect_ratio)))
        w = int(round(math.sqrt(erase_area / aspect_ratio)))
        if not (h < img_h and w < img_w):
            continue
        v = vl.randn(img_c, h, w) if value is None else vl.tensor(value)[:, None, None]
        return R.randint(0, img_h - h + 1), R.randint(0, img_w - w + 1), h, w, v
    return None


class GaussianBlur(Module):
    """Blur with a Gaussian of random ``sigma`` in a (min, max) range."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        self.kernel_size = _setup_size(kernel_size, "Kernel size should be a tuple/list of two integers")
        if any(ks <= 0 or ks % 2 == 0 for ks in self.kernel_size):
            raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (sigma, sigma)
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        else:
            raise ValueError("sigma should be a single number or a list/tuple with length 2.")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return R.uniform(sigma_min, sigma_max)

    def forward(self, img):
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


class _RandomOp(Module):
    """Apply a functional op with probability ``p``; subclasses name the op and its argument."""

    _arg = None

    def __init__(self, *args, p=0.5):
        super().__init__()
        if self._arg is not None:
            setattr(self, self._arg, args[0])
        self.p = p

    def _transform(self, img):
        raise NotImplementedError

    def forward(self, img):
        if R.rand() < self.p:
            return self._transform(img)
        return img

    def __repr__(self):
        arg = f"{self._arg}={getattr(self, self._arg)}," if self._arg else ""
        return f"{type(self).__name__}({arg}p={self.p})"


class RandomInvert(_RandomOp):
    """Invert the colours with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__(p=p)

    def _transform(self, img):
        return F.invert(img)


class RandomPosterize(_RandomOp):
    """Keep ``bits`` bits per channel with probability ``p``."""

    _arg = "bits"

    def __init__(self, bits, p=0.5):
        super().__init__(bits, p=p)

    def _transform(self, img):
        return F.posterize(img, self.bits)


class RandomSolarize(_RandomOp):
    """Invert values above ``threshold`` with probability ``p``."""

    _arg = "threshold"

    def __init__(self, threshold, p=0.5):
        super().__init__(threshold, p=p)

    def _transform(self, img):
        return F.solarize(img, self.threshold)


class RandomAdjustSharpness(_RandomOp):
    """Adjust sharpness by ``sharpness_factor`` with probability ``p``."""

    _arg = "sharpness_factor"

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__(sharpness_factor, p=p)

    def _transform(self, img):
        return F.adjust_sharpness(img, self.sharpness_factor)


class RandomAutocontrast(_RandomOp):
    """Autocontrast with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__(p=p)

    def _transform(self, img):
        return F.autocontrast(img)


class RandomEqualize(_RandomOp):
    """Equalize the histogram with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__(p=p)

    def _transform(self, img):
        return F.equalize(img)
