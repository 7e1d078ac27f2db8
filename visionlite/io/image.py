"""Reading and writing images as tensors, as ``torchvision.io``: encoded bytes travel as 1-D uint8
Tensors, decoded images as ``C,H,W`` uint8 Tensors (uint16 for 16-bit PNGs).

Decoding uses Pillow (libjpeg-turbo, zlib) and converts modes as TorchVision's libjpeg/libpng code does.
"""
import io
import os
from enum import Enum

import numpy as np

from visionlite.core.backend import Device
from visionlite.core.tensor import Tensor

from . import _decode

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image", "decode_jpeg", "decode_png",
           "decode_gif", "decode_webp", "read_image", "encode_jpeg", "encode_png", "write_jpeg", "write_png"]


class ImageReadMode(Enum):
    """How many channels to decode to: as stored, gray, gray + alpha, RGB or RGB + alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


def _mode(mode):
    if isinstance(mode, str):
        try:
            return ImageReadMode[mode.upper()]
        except KeyError:
            names = [m.name for m in ImageReadMode]
            raise ValueError(f"unknown read mode {mode!r}; use one of {names}") from None
    if isinstance(mode, ImageReadMode):
        return mode
    value = getattr(mode, "value", mode)  # torchvision's own enum works too
    try:
        return ImageReadMode(value)
    except ValueError:
        raise ValueError(f"unknown read mode {mode!r}; use an ImageReadMode") from None


def _bytes_of(data, name):
    """The encoded bytes of a 1-D uint8 CPU Tensor (or bytes)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, Tensor):
        raise TypeError(f"{name}: input should be a 1-D uint8 Tensor of encoded bytes, got "
                        f"{type(data).__name__}")
    if data.device.type != "cpu":
        raise ValueError(f"{name}: input tensor must be on the CPU, got {data.device}")
    if data.dtype.np != np.uint8:
        raise TypeError(f"{name}: expected a uint8 tensor of encoded bytes, got {data.dtype}")
    if data.ndim != 1 or data.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty 1-dimensional tensor, got shape {tuple(data.shape)}")
    return np.ascontiguousarray(data._data).tobytes()


def _chw(arr):
    """``H,W,C`` -> ``C,H,W`` (and ``N,H,W,C`` -> ``N,C,H,W`` for animations)."""
    return Tensor._wrap(arr.transpose(2, 0, 1) if arr.ndim == 3 else arr.transpose(0, 3, 1, 2))


# ------------------------------------------------------------------------------------------ files
def read_file(path):
    """The bytes of the file at ``path`` as a 1-D uint8 Tensor."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_file: no such file: {path!r}")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"read_file: the file {path!r} is empty")
    return Tensor._wrap(data)


def write_file(filename, data):
    """Write a 1-D uint8 Tensor of bytes to ``filename``."""
    with open(os.fspath(filename), "wb") as f:
        f.write(_bytes_of(data, "write_file"))


# ---------------------------------------------------------------------------------------- decoding
def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Decode JPEG, PNG, GIF, WebP or any format Pillow reads, from a bytes Tensor or a path, to a ``C,H,W``
    Tensor (``N,3,H,W`` for an animated GIF, as TorchVision)."""
    if isinstance(input, (str, os.PathLike)):
        return read_image(input, mode, apply_exif_orientation)
    data = _bytes_of(input, "decode_image")
    return _chw(_decode.decode(data, _mode(mode).value, apply_exif_orientation, "decode_image"))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Read and decode the image file at ``path`` to a ``C,H,W`` Tensor (errors name the file)."""
    data = read_file(path)
    source = repr(os.fspath(path))
    return _chw(_decode.decode(data._data.tobytes(), _mode(mode).value, apply_exif_orientation, source))


def decode_png(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Decode PNG bytes to a ``C,H,W`` uint8 (or, for 16-bit files, uint16) Tensor."""
    data = _bytes_of(input, "decode_png")
    return _chw(_decode.decode(data, _mode(mode).value, apply_exif_orientation, "decode_png", require="PNG"))


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, device="cpu", apply_exif_orientation=False):
    """Decode JPEG bytes (a Tensor or a list of them) to ``C,H,W`` uint8 Tensors, moved to ``device``."""
    device = Device(device)
    if isinstance(input, list):
        if not input:
            raise ValueError("decode_jpeg: the input list must contain at least one element")
        return [decode_jpeg(x, mode, device, apply_exif_orientation) for x in input]
    data = _bytes_of(input, "decode_jpeg")
    out = _chw(_decode.decode(data, _mode(mode).value, apply_exif_orientation, "decode_jpeg", require="JPEG"))
    return out if device.type == "cpu" else out.to(device)


def decode_gif(input):
    """Decode GIF bytes to RGB uint8: ``3,H,W`` for one frame, ``N,3,H,W`` for an animation (TorchVision's
    compositing: frames drawn over the previous ones on a canvas of the background colour)."""
    data = _bytes_of(input, "decode_gif")
    return _chw(_decode.decode(data, ImageReadMode.RGB.value, False, "decode_gif", require="GIF"))


def decode_webp(input, mode=ImageReadMode.UNCHANGED):
    """Decode WebP bytes to a ``3,H,W`` (RGB) or ``4,H,W`` (RGBA) uint8 Tensor; animated WebP is refused."""
    data = _bytes_of(input, "decode_webp")
    return _chw(_decode.decode(data, _mode(mode).value, False, "decode_webp", require="WEBP"))


# ---------------------------------------------------------------------------------------- encoding
def _hwc_uint8(input, name, channels):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input should be a C,H,W uint8 Tensor, got {type(input).__name__}")
    if input.dtype.np != np.uint8:
        raise TypeError(f"{name}: input tensor dtype should be uint8, got {input.dtype}")
    if input.ndim != 3:
        raise ValueError(f"{name}: input should be a 3-dimensional C,H,W tensor, got shape "
                         f"{tuple(input.shape)}")
    if input.shape[0] not in channels:
        raise ValueError(f"{name}: the number of channels should be {' or '.join(map(str, channels))}, got "
                         f"{input.shape[0]} (shape {tuple(input.shape)}; images are laid out C,H,W)")
    arr = np.ascontiguousarray(input.numpy(force=True).transpose(1, 2, 0))
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def _encode(arr, fmt, **options):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **options)
    return Tensor._wrap(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_jpeg(input, quality=75):
    """JPEG-encode a ``C,H,W`` uint8 Tensor (1 or 3 channels), or a list of them, to bytes Tensors."""
    if not 1 <= quality <= 100:
        raise ValueError(f"encode_jpeg: image quality should be a number between 1 and 100, got {quality}")
    if isinstance(input, list):
        if not input:
            raise ValueError("encode_jpeg requires at least one input tensor when a list is passed")
        return [encode_jpeg(x, quality) for x in input]
    return _encode(_hwc_uint8(input, "encode_jpeg", (1, 3)), "JPEG", quality=quality)


def encode_png(input, compression_level=6):
    """PNG-encode a ``C,H,W`` uint8 Tensor (1 or 3 channels) to a bytes Tensor."""
    if not 0 <= compression_level <= 9:
        raise ValueError(f"encode_png: compression_level should be between 0 and 9, got {compression_level}")
    return _encode(_hwc_uint8(input, "encode_png", (1, 3)), "PNG", compress_level=compression_level)


def write_jpeg(input, filename, quality=75):
    """JPEG-encode ``input`` and write it to ``filename``."""
    write_file(filename, encode_jpeg(input, quality))


def write_png(input, filename, compression_level=6):
    """PNG-encode ``input`` and write it to ``filename``."""
    write_file(filename, encode_png(input, compression_level))
