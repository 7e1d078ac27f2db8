"""GIF and WebP decoding as TorchVision's giflib/libwebp decoders return them.

GIF: always RGB (the read mode is ignored, as in TorchVision); one frame gives ``H,W,3``, an animation
``N,H,W,3`` with every frame composited over the previous ones. The canvas starts filled with the
background colour of the global palette, and a transparent pixel leaves the canvas as it is, so a
pixel that no frame ever paints (or that a frame disposes) shows the background colour, not black and
not the palette entry of the transparent index. Pillow composites the frames; pixels it leaves
transparent are given the background colour here.

WebP: RGB or RGBA as stored (``UNCHANGED``), or converted to RGB / RGBA; the gray modes are not
supported by libwebp, so TorchVision warns and returns the stored colours, and so does this.
Animated WebP files are refused, as in TorchVision.
"""

import warnings

import numpy as np
from PIL import ImageSequence

# ImageReadMode values (the enum lives in image.py)
UNCHANGED, GRAY, GRAY_ALPHA, RGB, RGB_ALPHA = 0, 1, 2, 3, 4


def _background_rgb(im):
    """The GIF's background colour: the global palette entry at the screen's background index."""
    index = im.info.get("background", 0)
    palette = getattr(im, "global_palette", None)
    colours = palette.palette if palette is not None else b""
    if isinstance(index, int) and 3 * index + 3 <= len(colours):
        return np.frombuffer(bytes(colours[3 * index: 3 * index + 3]), dtype=np.uint8)
    return np.zeros(3, dtype=np.uint8)


def gif_frames(im):
    """All frames of the opened GIF ``im`` as ``N,H,W,3`` uint8 (N >= 1)."""
    background = _background_rgb(im)
    frames = []
    for frame in ImageSequence.Iterator(im):
        rgba = np.asarray(frame.convert("RGBA"))
        rgb = rgba[..., :3].copy()
        rgb[rgba[..., 3] == 0] = background
        frames.append(rgb)
    return np.stack(frames)


def webp_pixels(im, mode, source):
    """The opened WebP ``im`` as ``H,W,3`` or ``H,W,4`` uint8, in read ``mode`` (see the module notes)."""
    if getattr(im, "n_frames", 1) > 1:
        raise RuntimeError(f"{source}: Animated webp files are not supported (decode the frames with "
                           "PIL.ImageSequence instead)")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if mode in (GRAY, GRAY_ALPHA):
        warnings.warn("Webp does not support grayscale conversions. The returned tensor will be in the "
                      "colorspace of the original image.", stacklevel=4)
        mode = UNCHANGED
    if mode == UNCHANGED:
        mode = RGB_ALPHA if has_alpha else RGB
    return np.asarray(im.convert("RGBA" if mode == RGB_ALPHA else "RGB"))
