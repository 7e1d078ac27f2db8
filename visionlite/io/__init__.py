"""Image input/output as ``torchvision.io``: read, decode and encode images as Tensors."""
from .image import (
    ImageReadMode,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    decode_webp,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

__all__ = ["ImageReadMode", "decode_gif", "decode_image", "decode_jpeg", "decode_png", "decode_webp",
           "encode_jpeg", "encode_png", "read_file", "read_image", "write_file", "write_jpeg", "write_png"]
