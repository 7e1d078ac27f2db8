"""Visual utilities, as ``torchvision.utils``: tile images into a grid, save them, and draw boxes,
segmentation masks and keypoints on ``C,H,W`` uint8 or float tensors (drawing goes through Pillow, as
in TorchVision, so the pixels agree).
"""
import math
import os
import warnings

import numpy as np

from visionlite.core.tensor import Tensor

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints",
           "flow_to_image"]


def _raw(t):
    return t.numpy(force=True) if isinstance(t, Tensor) else np.asarray(t)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a ``B,C,H,W`` tensor (or a list of ``C,H,W`` tensors) into one ``C,H',W'`` image, ``nrow``
    images per row, ``padding`` pixels apart; ``normalize`` rescales to [0, 1] by ``value_range`` or the
    min and max (per image with ``scale_each``). Single-channel images become 3-channel."""
    if isinstance(tensor, list):
        if not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError(f"make_grid: tensor or list of tensors expected, got a list containing "
                            f"{[type(t).__name__ for t in tensor if not isinstance(t, Tensor)][0]}")
        x = np.stack([_raw(t) for t in tensor])
    elif isinstance(tensor, Tensor):
        x = _raw(tensor)
    else:
        raise TypeError(f"make_grid: tensor or list of tensors expected, got {type(tensor).__name__}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        if x.shape[0] == 1:
            x = np.concatenate([x, x, x], 0)
        x = x[None]
    if x.ndim == 4 and x.shape[1] == 1:
        x = np.concatenate([x, x, x], 1)
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W), got {x.shape}")
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        x = x.copy()
        for img in (x if scale_each else [x]):
            low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
            np.clip(img, low, high, out=img)
            img -= img.dtype.type(low)
            img /= img.dtype.type(max(high - low, 1e-5))
    if x.shape[0] == 1:
        return Tensor._wrap(x[0])
    nmaps = x.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = x.shape[2] + padding, x.shape[3] + padding
    grid = np.full((x.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=x.dtype)
    for k in range(nmaps):
        y, col = divmod(k, xmaps)
        top, left = y * height + padding, col * width + padding
        grid[:, top:top + height - padding, left:left + width - padding] = x[k]
    return Tensor._wrap(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a tensor (or a grid of a batch, see ``make_grid`` for ``kwargs``) of floats in [0, 1] as an
    image file (format from the file name unless ``format`` is given)."""
    from PIL import Image

    grid = _raw(make_grid(tensor, **kwargs))
    # +0.5 then truncation rounds to the nearest level, as TorchVision does
    arr = np.clip(grid * grid.dtype.type(255) + grid.dtype.type(0.5), 0, 255)
    arr = arr.transpose(1, 2, 0).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    Image.fromarray(arr).save(os.fspath(fp) if isinstance(fp, os.PathLike) else fp, format=format)


# ------------------------------------------------------------------------------------------- drawing
def _generate_color_palette(num_objects):
    palette = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1], dtype=np.int64)
    return [tuple(int(v) for v in (i * palette) % 255) for i in range(num_objects)]


def _parse_colors(colors, num_objects, floating=False):
    """One RGB tuple per object from None (a fixed palette), a colour, or a list of colours."""
    from PIL import ImageColor

    if colors is None:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(f"Number of colors must be equal or larger than the number of objects, but got "
                             f"{len(colors)} < {num_objects}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got {colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
    else:
        colors = [colors] * num_objects
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(c) for c in colors]
    if floating:
        colors = [tuple(v / 255 for v in c) for c in colors]
    return colors


def _check_image(image, name, channels):
    if not isinstance(image, Tensor):
        raise TypeError(f"{name}: the image must be a visionlite Tensor, got {type(image).__name__}")
    if not (image.dtype.np == np.uint8 or image.is_floating_point()):
        raise ValueError(f"{name}: the image dtype must be uint8 or float, got {image.dtype}")
    if image.ndim != 3:
        raise ValueError(f"{name}: pass individual C,H,W images, not batches (got shape "
                         f"{tuple(image.shape)})")
    if image.shape[0] not in channels:
        raise ValueError(f"{name}: only {' or '.join(map(str, channels))}-channel images are supported, got "
                         f"{image.shape[0]} channels (images are laid out C,H,W)")


def _to_uint8(x):
    return (x * x.dtype.type(255 + 1.0 - 1e-3)).astype(np.uint8) if x.dtype.kind == "f" else x


def _from_uint8(x, dtype):
    return x if dtype == np.uint8 else x.astype(dtype) * dtype.type(1.0 / 255)


def _image_draw(img, mode=None):
    from PIL import ImageDraw

    class _Draw(ImageDraw.ImageDraw):
        """ImageDraw plus rotated boxes drawn as TorchVision draws them (first side dashed)."""

        def oriented_rectangle(self, xy, fill=None, outline=None, width=1):
            self.dashed_line(((xy[0], xy[1]), (xy[2], xy[3])), width=width, fill=outline)
            for i in range(2, len(xy), 2):
                self.line(((xy[i], xy[i + 1]), (xy[(i + 2) % len(xy)], xy[(i + 3) % len(xy)])), width=width,
                          fill=outline)
            self.polygon(xy, fill=fill, outline=None, width=0)

        def dashed_line(self, xy, fill=None, width=0, joint=None, dash_length=5, space_length=5):
            dash = True
            for (x1, y1), (x2, y2) in zip(xy[:-1], xy[1:]):
                remaining = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
                while remaining > 0:
                    step = min(remaining, dash_length if dash else space_length)
                    angle = math.atan2(y2 - y1, x2 - x1)
                    end_x, end_y = x1 + math.cos(angle) * step, y1 + math.sin(angle) * step
                    if dash:
                        self.line([(x1, y1), (end_x, end_y)], fill, width, joint)
                    remaining -= step
                    x1, y1 = end_x, end_y
                    dash = not dash

    return _Draw(img, mode)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1, font=None,
                        font_size=None, label_colors=None, label_background_colors=None, fill_labels=False):
    """Draw ``boxes`` (``N,4`` xyxy, or ``N,8`` corners of rotated boxes) on a ``C,H,W`` image, with
    optional ``labels``; returns a new uint8 or float image (same dtype, 3 channels)."""
    from PIL import Image, ImageFont

    _check_image(image, "draw_bounding_boxes", (1, 3))
    b = _raw(boxes)
    if b.ndim != 2 or b.shape[-1] not in (4, 8):
        raise ValueError(f"draw_bounding_boxes: boxes should have shape (N, 4) or (N, 8), got {b.shape}")
    if b.shape[-1] == 4 and ((b[:, 0] > b[:, 2]).any() or (b[:, 1] > b[:, 3]).any()):
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "visionlite.transforms.v2.ConvertBoundingBoxFormat('XYXY') to convert them")
    num_boxes = b.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. Please specify "
                         "labels for each box.")
    colors = _parse_colors(colors, num_boxes)
    if label_colors or fill_labels:
        label_colors = _parse_colors(label_colors if label_colors else "black", num_boxes)
    else:
        label_colors = list(colors)
    if fill_labels and label_background_colors:
        label_background_colors = _parse_colors(label_background_colors, num_boxes)
    else:
        label_background_colors = list(colors)
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.", stacklevel=2)
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)
    x = _raw(image)
    if x.shape[0] == 1:
        x = np.tile(x, (3, 1, 1))
    img = Image.fromarray(np.ascontiguousarray(_to_uint8(x).transpose(1, 2, 0)))
    draw = _image_draw(img, "RGBA" if fill else None)
    for bbox, color, label, label_color, bg in zip(b.astype(np.int64).tolist(), colors, labels, label_colors,
                                                   label_background_colors):
        method = draw.oriented_rectangle if len(bbox) > 4 else draw.rectangle
        method(bbox, width=width, outline=color, fill=color + (100,) if fill else None)
        if label is not None:
            margin = width + 1
            if fill_labels:
                xy = (bbox[0] + margin, bbox[1] + margin)
                left, top, right, bottom = draw.textbbox(xy, label, font=txt_font)
                draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=bg)
            draw.text((bbox[0] + margin, bbox[1] + margin), label, fill=label_color, font=txt_font)
    out = np.asarray(img).transpose(2, 0, 1)
    return Tensor._wrap(np.ascontiguousarray(_from_uint8(out, x.dtype)))


def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """Overlay boolean ``masks`` (``H,W`` or ``N,H,W``) on an RGB image with opacity ``alpha``; pixels
    covered by more than one mask turn black."""
    _check_image(image, "draw_segmentation_masks", (3,))
    m = _raw(masks)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if m.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if m.shape[-2:] != tuple(image.shape[-2:]):
        raise ValueError(f"The image and the masks must have the same height and width, got "
                         f"{tuple(image.shape)} and {m.shape}")
    if m.shape[0] == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    x = _raw(image)
    floating = x.dtype.kind == "f"
    colors = [np.array(c, dtype=x.dtype) for c in _parse_colors(colors, m.shape[0], floating=floating)]
    drawn = x.copy()
    for mask, color in zip(m, colors):
        drawn[:, mask] = color[:, None]
    drawn[:, m.sum(axis=0) > 1] = 0
    wt = x.dtype if floating else np.dtype(np.float32)
    out = x.astype(wt) * wt.type(1 - alpha) + drawn.astype(wt) * wt.type(alpha)
    return Tensor._wrap(out.astype(x.dtype))


def draw_keypoints(image, keypoints, connectivity=None, colors=None, radius=2, width=3, visibility=None):
    """Draw ``keypoints`` (``N,K,2`` as [x, y]; an ``N,K,3`` array's third column, e.g. COCO's visibility
    flag, is ignored here as in TorchVision: pass it as ``visibility``) as dots of ``radius`` on an RGB
    image, joined by lines of ``width`` for each (i, j) in ``connectivity``; ``visibility`` (``N,K``, or
    ``N,K,1``, cast to bool) hides points and their lines."""
    from PIL import Image, ImageDraw

    _check_image(image, "draw_keypoints", (3,))
    kp = _raw(keypoints)
    if kp.ndim != 3 or kp.shape[-1] < 2:
        raise ValueError(f"keypoints must be of shape (num_instances, K, 2), got {kp.shape}")
    vis = np.ones(kp.shape[:-1], dtype=bool) if visibility is None else _raw(visibility).astype(bool)
    if vis.ndim == 3:
        vis = vis[..., 0]
    if vis.ndim != 2:
        raise ValueError(f"visibility must be of shape (num_instances, K). Got ndim={vis.ndim}")
    if vis.shape != kp.shape[:-1]:
        raise ValueError("keypoints and visibility must have the same dimensionality for num_instances "
                         f"and K. Got {vis.shape=} and {kp.shape=}")
    x = _raw(image)
    img = Image.fromarray(np.ascontiguousarray(_to_uint8(x).transpose(1, 2, 0)))
    draw = ImageDraw.Draw(img)
    for pts, seen in zip(kp[..., :2].astype(np.int64).tolist(), vis.tolist()):
        for (px, py), ok in zip(pts, seen):
            if ok:
                box = [px - radius, py - radius, px + radius, py + radius]
                draw.ellipse(box, fill=colors, outline=None, width=0)
        for i, j in connectivity or ():
            if seen[i] and seen[j]:
                draw.line(((pts[i][0], pts[i][1]), (pts[j][0], pts[j][1])), width=width)
    out = np.asarray(img).transpose(2, 0, 1)
    return Tensor._wrap(np.ascontiguousarray(_from_uint8(out, x.dtype)))


def _colorwheel():
    """The 55 hues of the Middlebury optical-flow colour wheel (``55, 3`` float32), as TorchVision's."""
    segments = ((15, 0, 1, True), (6, 1, 0, False), (4, 1, 2, True), (11, 2, 1, False), (13, 2, 0, True),
                (6, 0, 2, False))  # (length, full channel, ramping channel, ramps up)
    rows = []
    for n, full, ramp, up in segments:
        block = np.zeros((n, 3), dtype=np.float32)
        block[:, full] = 255
        steps = np.floor(np.float32(255) * np.arange(n, dtype=np.float32) / np.float32(n))
        block[:, ramp] = steps if up else 255 - steps
        rows.append(block)
    return np.concatenate(rows)


def flow_to_image(flow):
    """Optical flow (``2,H,W`` or ``N,2,H,W`` float32) to RGB uint8 images: hue from the direction, saturation
    from the magnitude relative to the largest one, as ``torchvision.utils.flow_to_image``."""
    if not isinstance(flow, Tensor):
        raise TypeError(f"flow_to_image: flow must be a visionlite Tensor, got {type(flow).__name__}")
    if flow.dtype.np != np.float32:
        raise ValueError(f"Flow should be of dtype torch.float, got {flow.dtype}.")
    x = _raw(flow)
    orig_ndim = x.ndim
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != 2:
        raise ValueError(f"Input flow should have shape (2, H, W) or (N, 2, H, W), got {tuple(flow.shape)}.")
    f32 = np.float32
    max_norm = np.sqrt((x * x).sum(axis=1, dtype=f32)).max()
    x = x / (max_norm + np.finfo(f32).eps)
    wheel = _colorwheel()
    n_cols = wheel.shape[0]
    norm = np.sqrt((x * x).sum(axis=1, dtype=f32))
    a = (np.arctan2(-x[:, 1], -x[:, 0]) / f32(np.pi)).astype(f32)
    fk = ((a + f32(1)) / f32(2) * f32(n_cols - 1)).astype(f32)
    k0 = np.floor(fk).astype(np.int64)
    k1 = np.where(k0 + 1 == n_cols, 0, k0 + 1)
    frac = fk - k0.astype(f32)
    out = np.empty((x.shape[0], 3, x.shape[2], x.shape[3]), dtype=np.uint8)
    for c in range(3):
        col0, col1 = wheel[k0, c] / f32(255.0), wheel[k1, c] / f32(255.0)
        col = (f32(1) - frac) * col0 + frac * col1
        col = f32(1) - norm * (f32(1) - col)
        out[:, c] = np.floor(f32(255) * col)
    return Tensor._wrap(out[0] if orig_ndim == 3 else out)
