"""Image input/output as ``torchvision.io``: read, decode and encode images as Tensors."""
from .image import (
    ImageReadMode,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

__all__ = ["ImageReadMode", "decode_image", "decode_jpeg", "decode_png", "encode_jpeg", "encode_png",
           "read_file", "read_image", "write_file", "write_jpeg", "write_png"]
