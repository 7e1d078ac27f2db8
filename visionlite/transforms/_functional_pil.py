"""The PIL backend of ``transforms.functional``: each op calls Pillow the way TorchVision does, so the
pixels are the same. Inputs are validated by ``functional``; these functions assume a PIL image.
"""
import numbers

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def is_pil_image(img):
    return isinstance(img, Image.Image)


def image_from_array(arr, mode):
    """A PIL image of ``mode`` holding a copy of the ``H,W`` or ``H,W,C`` array ``arr``."""
    arr = np.ascontiguousarray(arr)
    return Image.frombuffer(mode, (arr.shape[1], arr.shape[0]), arr.tobytes(), "raw", mode, 0, 1)


def get_dimensions(img):
    width, height = img.size
    return [len(img.getbands()), height, width]


def get_image_num_channels(img):
    return len(img.getbands())


def hflip(img):
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(img):
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def adjust_brightness(img, factor):
    return ImageEnhance.Brightness(img).enhance(factor)


def adjust_contrast(img, factor):
    return ImageEnhance.Contrast(img).enhance(factor)


def adjust_saturation(img, factor):
    return ImageEnhance.Color(img).enhance(factor)


def adjust_sharpness(img, factor):
    return ImageEnhance.Sharpness(img).enhance(factor)


def adjust_hue(img, hue_factor):
    mode = img.mode
    if mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    # the hue channel is a byte, so the shift wraps around modulo 256
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.int32(hue_factor * 255).astype(np.uint8)
    h = image_from_array(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert(mode)


def adjust_gamma(img, gamma, gain=1.0):
    mode = img.mode
    img = img.convert("RGB")
    table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)] * 3
    return img.point(table).convert(mode)


def parse_fill(fill, img, name="fillcolor"):
    """Pillow's keyword for a fill colour: one number per band (ints unless the image is float)."""
    channels = get_image_num_channels(img)
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and channels > 1:
        fill = tuple([fill] * channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * channels
        elif len(fill) != channels:
            raise ValueError(f"fill has {len(fill)} values but the image has {channels} channels; "
                             "pass one value or one per channel")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def pad(img, padding, fill=0, padding_mode="constant"):
    """``padding`` is an int or a 1-, 2- or 4-sequence (left, top, right, bottom); negative values crop."""
    if isinstance(padding, (list, tuple)):
        padding = tuple(padding)
        if len(padding) == 1:
            padding = padding[0]
    if padding_mode == "constant":
        opts = parse_fill(fill, img, name="fill")
        if img.mode == "P":
            palette = img.getpalette()
            out = ImageOps.expand(img, border=padding, **opts)
            out.putpalette(palette)
            return out
        return ImageOps.expand(img, border=padding, **opts)
    left, top, right, bottom = _ltrb(padding)
    crop = [max(-p, 0) for p in (left, top, right, bottom)]
    if any(crop):
        img = img.crop((crop[0], crop[1], img.width - crop[2], img.height - crop[3]))
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    arr = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
    out = Image.fromarray(np.pad(arr, widths, mode=padding_mode))
    if img.mode == "P":
        out.putpalette(img.getpalette())
    return out


def _ltrb(padding):
    if isinstance(padding, numbers.Number):
        return (int(padding),) * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    return tuple(padding)


def crop(img, top, left, height, width):
    return img.crop((left, top, left + width, top + height))


def resize(img, size, interpolation):
    """``size`` is ``[h, w]``; ``interpolation`` a Pillow resampling constant."""
    return img.resize((size[1], size[0]), interpolation)


def affine(img, matrix, interpolation, fill=None):
    """``matrix``: the 6 coefficients of the inverse map (output -> input), as Pillow expects."""
    return img.transform(img.size, Image.Transform.AFFINE, matrix, interpolation, **parse_fill(fill, img))


def rotate(img, angle, interpolation, expand=False, center=None, fill=None):
    return img.rotate(angle, interpolation, expand, center, **parse_fill(fill, img))


def perspective(img, coeffs, interpolation, fill=None):
    opts = parse_fill(fill, img)
    return img.transform(img.size, Image.Transform.PERSPECTIVE, coeffs, interpolation, **opts)


def to_grayscale(img, num_output_channels):
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels should be 1 or 3, got {num_output_channels}")
    img = img.convert("L")
    if num_output_channels == 3:
        arr = np.asarray(img)
        img = image_from_array(np.stack([arr, arr, arr], axis=-1), "RGB")
    return img


def invert(img):
    return ImageOps.invert(img)


def posterize(img, bits):
    return ImageOps.posterize(img, bits)


def solarize(img, threshold):
    return ImageOps.solarize(img, threshold)


def autocontrast(img):
    return ImageOps.autocontrast(img)


def equalize(img):
    return ImageOps.equalize(img)
