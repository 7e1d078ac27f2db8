"""Image and video input/output as ``torchvision.io``: read, decode and encode images and videos as Tensors.

Video needs PyAV (``pip install "visionlite[video]"``), imported on first use."""
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
from .video import read_video, read_video_timestamps, write_video
from .video_reader import VideoReader

__all__ = ["ImageReadMode", "decode_gif", "decode_image", "decode_jpeg", "decode_png", "decode_webp",
           "encode_jpeg", "encode_png", "read_file", "read_image", "write_file", "write_jpeg", "write_png",
           "read_video", "read_video_timestamps", "write_video", "VideoReader"]
