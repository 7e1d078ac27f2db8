"""Decoding encoded image bytes with Pillow into ``H,W,C`` numpy arrays, converted to a read mode the
way TorchVision's libjpeg/libpng decoders convert (so the pixels agree), with safe failure: corrupt or
truncated data and decompression bombs raise an error naming the source instead of hanging.
"""
import io
import warnings

import numpy as np
from PIL import Image

from . import _animated

# ImageReadMode values (kept as ints here; the enum lives in image.py)
UNCHANGED, GRAY, GRAY_ALPHA, RGB, RGB_ALPHA = 0, 1, 2, 3, 4

# libpng's fixed-point weights for png_set_rgb_to_gray(0.2989, 0.587), in 1/32768ths
_PNG_GRAY = (9794, 19234, 3740)


def _fail(source, message):
    return RuntimeError(f"{source}: {message}")


def open_image(data, source):
    """Open and fully decode ``data`` (bytes) with Pillow. Decompression bombs (more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS``) are refused before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            tiles = list(im.tile)  # load() clears them; 16-bit PNGs need their raw modes
            im.load()
        im.vl_tiles = tiles
        return im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _fail(source, f"refusing to decode: {e} Raise PIL.Image.MAX_IMAGE_PIXELS if the image is "
                            "trusted.") from None
    except Image.UnidentifiedImageError:
        raise _fail(source, "not a recognized image (JPEG, PNG, or another format Pillow reads); the data "
                            "may be corrupt") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise _fail(source, f"could not decode the image ({type(e).__name__}: {e}); the file is truncated or "
                            "corrupt") from None


def _reopen_with_rawmode(data, rawmode):
    """Decode the single tile again, unpacked with ``rawmode`` (same bits per pixel, other bytes kept)."""
    im = Image.open(io.BytesIO(data))
    tile = im.tile[0]
    args = (rawmode,) + tuple(tile.args[1:]) if isinstance(tile.args, tuple) else rawmode
    im.tile = [tile._replace(args=args)]
    if rawmode == "RGBA":
        im._mode = "RGBA"
    im.load()
    return np.asarray(im)


def _png_16bit_colour(im, data):
    """16-bit colour PNGs, which Pillow narrows to 8 bits: decode the high and the low bytes separately.
    Returns ``(array uint16 H,W,C, kind)`` or None for any other image."""
    tiles = getattr(im, "vl_tiles", [])
    if len(tiles) != 1:
        return None
    tile = tiles[0]
    rawmode = tile.args[0] if isinstance(tile.args, tuple) else tile.args
    if rawmode in ("RGB;16B", "RGBA;16B"):
        hi = np.asarray(im).astype(np.uint16)
        lo = _reopen_with_rawmode(data, rawmode.replace("16B", "16L"))
        return (hi << 8) | lo, ("rgb" if rawmode.startswith("RGB;") else "rgba")
    if rawmode == "LA;16B":  # 4 bytes per pixel: gray hi, gray lo, alpha hi, alpha lo
        b = _reopen_with_rawmode(data, "RGBA").astype(np.uint16)
        return np.stack([(b[..., 0] << 8) | b[..., 1], (b[..., 2] << 8) | b[..., 3]], axis=-1), "la"
    return None


def _png_gray(rgb):
    """libpng's rgb_to_gray without gamma: truncating for 8 bits, rounding for 16; pure greys kept."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    total = _PNG_GRAY[0] * r + _PNG_GRAY[1] * g + _PNG_GRAY[2] * b
    gray = (total + (16384 if rgb.dtype == np.uint16 else 0)) >> 15
    gray = np.where((r == g) & (r == b), r, gray)
    return gray.astype(rgb.dtype)[..., None]


def _with_alpha(arr, alpha=None):
    if alpha is None:
        alpha = np.full(arr.shape[:2] + (1,), np.iinfo(arr.dtype).max, dtype=arr.dtype)
    return np.concatenate([arr, alpha], axis=-1)


def _pixels_and_kind(im, data):
    """The decoded pixels as ``(H,W,C array, kind)``, kind one of gray, la, rgb, rgba, palette."""
    if im.format == "PNG":
        wide = _png_16bit_colour(im, data)
        if wide is not None:
            return wide
    mode = im.mode
    if mode == "1":
        return (np.asarray(im, dtype=np.uint8) * np.uint8(255))[..., None], "gray"
    if mode in ("L", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(im)
        return arr.astype(arr.dtype.newbyteorder("=")).reshape(arr.shape + (1,)), "gray"
    if mode == "LA":
        return np.asarray(im), "la"
    if mode in ("RGB", "RGBA"):
        return np.asarray(im), mode.lower()
    if mode == "P":
        return np.asarray(im)[..., None], "palette"
    if mode == "PA":
        return np.asarray(im.convert("RGBA")), "rgba"
    if mode == "I":  # 16-bit PNGs can open as 32-bit ints in older Pillows
        return np.asarray(im).astype(np.uint16)[..., None], "gray"
    converted = im.convert("RGBA" if "A" in mode else "RGB")
    return np.asarray(converted), converted.mode.lower()


def _palette_rgba(im, idx):
    """Expand palette indices to RGBA; alpha comes from the tRNS chunk (opaque where absent)."""
    rgba = np.asarray(im.convert("RGBA")) if "transparency" in im.info else None
    if rgba is None:
        pal = np.asarray(im.convert("RGB"))
        rgba = _with_alpha(pal)
    return rgba


def convert(arr, kind, mode, im):
    """Convert decoded pixels to ``mode`` as libpng would (see TorchVision's decode_png)."""
    if mode == UNCHANGED:
        return arr
    if kind == "palette":
        arr, kind = _palette_rgba(im, arr), "rgba"
    if mode == GRAY:
        return arr[..., :1] if kind in ("gray", "la") else _png_gray(arr[..., :3])
    if mode == GRAY_ALPHA:
        if kind == "gray":
            return _with_alpha(arr)
        if kind == "la":
            return arr
        alpha = arr[..., 3:] if kind == "rgba" else None
        return _with_alpha(_png_gray(arr[..., :3]), alpha)
    if mode == RGB:
        if kind in ("gray", "la"):
            return np.repeat(arr[..., :1], 3, axis=-1)
        return arr[..., :3]
    if mode == RGB_ALPHA:
        if kind == "gray":
            return _with_alpha(np.repeat(arr, 3, axis=-1))
        if kind == "la":
            return np.concatenate([np.repeat(arr[..., :1], 3, axis=-1), arr[..., 1:]], axis=-1)
        return arr if kind == "rgba" else _with_alpha(arr)
    raise ValueError(f"unknown image read mode {mode}")


def decode(data, mode, apply_exif_orientation, source, require=None):
    """Decode ``data`` to an ``H,W,C`` array (``N,H,W,C`` for an animated GIF) in read ``mode``; ``require``
    ("JPEG", "PNG", "GIF", "WEBP") checks the format."""
    im = open_image(data, source)
    if require is not None and im.format != require:
        raise _fail(source, f"expected {require} data but found {im.format or 'an unknown format'}")
    if im.format == "GIF":  # TorchVision: RGB always; N,H,W,3 for animations
        frames = _animated.gif_frames(im)
        return np.ascontiguousarray(frames if len(frames) > 1 else frames[0])
    if im.format == "WEBP":
        return np.ascontiguousarray(_animated.webp_pixels(im, mode, source))
    if im.format == "JPEG":
        if mode in (GRAY_ALPHA, RGB_ALPHA):
            raise _fail(source, "the provided mode is not supported for JPEG files (they have no alpha); "
                                "use ImageReadMode.RGB or GRAY")
        if mode == GRAY and im.mode != "L":
            # libjpeg writes the luma plane directly, which Pillow's draft mode also does
            im = Image.open(io.BytesIO(data))
            im.draft("L", None)
            im.load()
        elif mode == RGB and im.mode == "L":
            im = im.convert("RGB")
        elif mode == RGB and im.mode != "RGB":
            im = im.convert("RGB")
    orientation = _exif_orientation(im) if apply_exif_orientation else 1
    arr, kind = _pixels_and_kind(im, data)
    return np.ascontiguousarray(_orient(convert(arr, kind, mode, im), orientation))


def _exif_orientation(im):
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # a malformed EXIF block should not stop the pixels from loading
        return 1


def _orient(arr, orientation):
    """Undo EXIF orientation ``orientation`` (1-8) on an ``H,W,C`` array, as a viewer would."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(arr, k=-1)
    if orientation == 7:
        return arr[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(arr, k=1)
    return arr
