"""Box geometry on raw ``N,4`` arrays, matching TorchVision's v2 kernels: every op works on corner
(XYXY) boxes in pixel-edge coordinates (pixel ``i`` spans ``[i, i + 1)``) and clamps to the new canvas.
"""
import numpy as np

from .tv_tensors import BoundingBoxFormat as BF


def convert_format(boxes, old, new):
    """Convert ``N,4`` boxes between XYXY, XYWH and CXCYWH with TorchVision's arithmetic: floats in their
    own dtype; integers exactly in their dtype (a centre is floor-divided, ``(2 * x1 + w) // 2``) except
    from CXCYWH, which goes through float32 and truncates back, as TorchVision's kernels do."""
    if old == new:
        return boxes.copy()
    if old == BF.XYWH and new == BF.CXCYWH:
        return _xywh_to_cxcywh(boxes)
    if old == BF.CXCYWH and new == BF.XYWH:
        return _cxcywh_to_xywh(boxes)
    b = boxes
    if old == BF.XYWH:
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    elif old == BF.CXCYWH:
        b = _cxcywh_to_xyxy(b)
    else:
        b = b.copy()
    if new == BF.XYWH:
        b = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    elif new == BF.CXCYWH:
        wh = b[:, 2:] - b[:, :2]
        centre = b[:, :2] * b.dtype.type(2) + wh
        centre = centre / b.dtype.type(2) if b.dtype.kind == "f" else centre // 2
        b = np.concatenate([centre, wh], axis=1).astype(boxes.dtype, copy=False)
    return b


def _half(wh):
    return wh / wh.dtype.type(2) if wh.dtype.kind == "f" else wh // 2


def _xywh_to_cxcywh(b):
    return np.concatenate([b[:, :2] + _half(b[:, 2:]), b[:, 2:]], axis=1).astype(b.dtype, copy=False)


def _as_float(b):
    """Integer boxes take a float32 detour (TorchVision's ``.float()``); floats stay as they are."""
    return (b, None) if b.dtype.kind == "f" else (b.astype(np.float32), b.dtype)


def _cxcywh_to_xyxy(b):
    f, int_dtype = _as_float(b)
    x1 = f[:, :2] - f[:, 2:] / f.dtype.type(2)
    out = np.concatenate([x1, x1 + f[:, 2:]], axis=1)
    return out if int_dtype is None else np.trunc(out).astype(int_dtype)


def _cxcywh_to_xywh(b):
    f, int_dtype = _as_float(b)
    x1 = f[:, :2] - f[:, 2:] / f.dtype.type(2)
    if int_dtype is None:
        return np.concatenate([x1, f[:, 2:]], axis=1)
    # truncating x1 and x2 separately can change the width: recompute it from the truncated corners
    x2 = np.trunc(x1 + f[:, 2:]).astype(int_dtype)
    x1 = np.trunc(x1).astype(int_dtype)
    return np.concatenate([x1, x2 - x1], axis=1)


def cast_like(values, dtype):
    """float64 coordinates back to ``dtype`` (floats round, integers truncate, as a tensor ``.to``)."""
    dtype = np.dtype(dtype)
    return values.astype(dtype) if dtype.kind == "f" else np.trunc(values).astype(dtype)


def to_xyxy(boxes, fmt):
    return convert_format(boxes, fmt, BF.XYXY).astype(np.float64)


def from_xyxy(xyxy, fmt, dtype):
    """float64 XYXY -> ``fmt`` in ``dtype`` (integer boxes truncate, as TorchVision's kernels cast back)."""
    return cast_like(convert_format(xyxy, BF.XYXY, fmt), dtype)


def clamp(xyxy, canvas_size):
    h, w = canvas_size
    out = xyxy.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, w)
    out[:, 1::2] = out[:, 1::2].clip(0, h)
    return out


def hflip(xyxy, canvas_size):
    w = canvas_size[1]
    return np.stack([w - xyxy[:, 2], xyxy[:, 1], w - xyxy[:, 0], xyxy[:, 3]], axis=1)


def vflip(xyxy, canvas_size):
    h = canvas_size[0]
    return np.stack([xyxy[:, 0], h - xyxy[:, 3], xyxy[:, 2], h - xyxy[:, 1]], axis=1)


def resize(xyxy, canvas_size, new_size):
    (h, w), (nh, nw) = canvas_size, new_size
    return xyxy * np.array([nw / w, nh / h, nw / w, nh / h])


def crop(xyxy, top, left, height, width):
    """Crop (a negative ``top``/``left`` pads): shift, then clamp to the ``height x width`` canvas."""
    return clamp(xyxy - np.array([left, top, left, top], dtype=np.float64), (height, width))


def pad(xyxy, canvas_size, left, top, right, bottom):
    shifted = xyxy + np.array([left, top, left, top], dtype=np.float64)
    size = (canvas_size[0] + top + bottom, canvas_size[1] + left + right)
    return clamp(shifted, size), size


def affine(xyxy, matrix, canvas_size, expand_size=None):
    """Map the four corners of each box by the forward affine ``matrix`` (6 numbers, pixel coordinates)
    and keep their enclosing box. With ``expand_size`` (the grown canvas of a rotation with expand) the
    result shifts by half the growth, as the pixels do: both Pillow and the tensor backend keep the
    image centred in the grown canvas. (TorchVision's v2 shifts by the rotated frame's corner instead,
    which can leave its boxes up to a pixel off the pixels.)"""
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    corners = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
    pts = corners @ m[:, :2].T + m[:, 2]
    pts = pts.reshape(-1, 4, 2)
    out = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
    size = canvas_size
    if expand_size is not None:
        (h, w), (nh, nw) = canvas_size, expand_size
        out = out + np.array([nw - w, nh - h, nw - w, nh - h], dtype=np.float64) / 2
        size = expand_size
    return clamp(out, size), size


def valid_mask(xyxy, canvas_size, min_size=1.0, min_area=1.0):
    """Which boxes are kept by ``SanitizeBoundingBoxes``: big enough and inside the canvas."""
    h, w = canvas_size
    ws, hs = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    valid = (ws >= min_size) & (hs >= min_size) & (xyxy >= 0).all(axis=1) & (ws * hs >= min_area)
    valid &= (xyxy[:, 0] <= w) & (xyxy[:, 2] <= w) & (xyxy[:, 1] <= h) & (xyxy[:, 3] <= h)
    return valid
