"""Box utilities as ``torchvision.ops.boxes``: non-maximum suppression, pairwise IoU variants, format
conversion, clipping and filtering. Boxes are ``(x1, y1, x2, y2)`` unless a function says otherwise.

Everything but NMS is a composite of differentiable tensor ops. NMS works on raw arrays: the boxes are
sorted by score once, the "IoU above threshold" relation is computed as a boolean matrix a block of rows
at a time (vectorised, numpy or cupy), and the greedy pass walks that matrix on the host, so no IoU is
ever computed in a Python loop. The IoU arithmetic follows TorchVision's kernel operation for operation
(box dtype, ``(area_i + area_j) - inter``, compared with the threshold in float64), so the kept indices
are the same, ties included.
"""
import math

import numpy as np

import visionlite as vl
from visionlite.core.backend import array_module, is_cupy_array

from ._box_convert import CONVERSIONS
from ._rotated_iou import rotated_box_iou
from ._torch_sort import unstable_descending_order
from ._utils import _upcast

__all__ = ["nms", "batched_nms", "remove_small_boxes", "clip_boxes_to_image", "box_convert", "box_area",
           "box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou", "masks_to_boxes"]

_NMS_BLOCK = 256  # live boxes whose IoU rows (against all live later boxes) are computed at once
_NMS_BLOCK_ELEMS = 1 << 24  # ... fewer rows when there are so many boxes that a block would exceed this


def _check_nms_inputs(boxes, scores, name):
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise RuntimeError(f"{name}: boxes should be a 2d tensor of shape [N, 4], got {list(boxes.shape)}")
    if scores.ndim != 1:
        raise RuntimeError(f"{name}: scores should be a 1d tensor, got {list(scores.shape)}")
    if boxes.shape[0] != scores.shape[0]:
        raise RuntimeError(f"{name}: boxes and scores should have same number of elements in dimension 0, "
                           f"got {boxes.shape[0]} and {scores.shape[0]}")


def _descending_order(xp, scores):
    # Stable descending sort: among equal scores the lower index comes first, as TorchVision's CPU kernel.
    if scores.dtype.kind == "f":
        return xp.argsort(-scores, kind="stable")
    return xp.argsort(-scores.astype(np.float64), kind="stable")


def _nms_arrays(boxes, scores, iou_threshold):
    """Kept indices (int64 array on the boxes' device) of greedy NMS over raw arrays."""
    xp = array_module(boxes)
    n = boxes.shape[0]
    if n == 0:
        return xp.zeros((0,), dtype=np.int64)
    order = _descending_order(xp, scores)
    b = boxes[order]
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    thr = np.float64(iou_threshold)  # a strong float64 scalar: the comparison happens in float64
    alive = np.ones(n, dtype=bool)  # not suppressed and not yet visited (host bookkeeping)
    keep = []
    zero = b.dtype.type(0)
    block = max(16, min(_NMS_BLOCK, _NMS_BLOCK_ELEMS // n))
    start = 0
    while start < n:
        # The next block of live boxes as rows, every live box from there on as columns: suppressed
        # boxes drop out of later blocks, so the work shrinks as NMS proceeds.
        cand = np.flatnonzero(alive[start:]) + start
        if cand.size == 0:
            break
        rows = cand[:block]
        c = xp.asarray(cand)
        r = c[: rows.size]
        over = _over_threshold(xp, x1, y1, x2, y2, areas, r, c, thr, zero)
        if is_cupy_array(over):
            over = over.get()
        # Greedy pass inside the block on Python-int bitsets (bit j: row i suppresses block box j).
        nb = rows.size
        packed = np.packbits(over[:, :nb], axis=1, bitorder="little")
        masks = [int.from_bytes(r.tobytes(), "little") for r in packed]
        suppressed, kept_local = 0, []
        for i in range(nb):
            if not (suppressed >> i) & 1:
                kept_local.append(i)
                suppressed |= masks[i]
        keep.extend(rows[kept_local].tolist())
        # Boxes after the block that any kept row overlaps are suppressed; the block's rows are done.
        alive[cand[over[kept_local].any(axis=0)]] = False
        alive[rows] = False
        start = int(rows[-1]) + 1
    kept = order[xp.asarray(np.asarray(keep, dtype=np.int64))]
    return kept.astype(np.int64)


def _over_threshold(xp, x1, y1, x2, y2, areas, r, c, thr, zero):
    """Boolean (len(r), len(c)): IoU of box r[i] and box c[j] above ``thr``, in the kernel's order of
    operations (``inter / ((area_i + area_j) - inter)``, compared in float64)."""
    dx = xp.minimum(x2[r, None], x2[c][None]) - xp.maximum(x1[r, None], x1[c][None])
    if thr >= 0 and xp is np:
        # Pairs apart along x have IoU 0 (never above a non-negative threshold): when most pairs are
        # apart (spread-out boxes), finish the IoU only for the others.
        ii, jj = np.nonzero(dx > zero)
        if ii.size < dx.size // 4:
            cj = c[jj]
            ri = r[ii]
            h = xp.maximum(zero, xp.minimum(y2[ri], y2[cj]) - xp.maximum(y1[ri], y1[cj]))
            inter = dx[ii, jj] * h
            hit = inter / ((areas[ri] + areas[cj]) - inter) > thr
            over = np.zeros(dx.shape, dtype=bool)
            over[ii[hit], jj[hit]] = True
            return over
    w = xp.maximum(zero, dx)
    h = xp.maximum(zero, xp.minimum(y2[r, None], y2[c][None]) - xp.maximum(y1[r, None], y1[c][None]))
    inter = w * h
    return inter / ((areas[r, None] + areas[c][None]) - inter) > thr


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression.

    Args:
        boxes: Tensor[N, 4] in ``(x1, y1, x2, y2)``.
        scores: Tensor[N].
        iou_threshold: boxes overlapping a kept, higher-scoring box with IoU ``> iou_threshold`` are dropped.
    Returns an int64 Tensor of the kept indices, by decreasing score.
    """
    _check_nms_inputs(boxes, scores, "nms")
    return vl.Tensor._wrap(_nms_arrays(boxes._data, scores._data, float(iou_threshold)))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS within each category: boxes of different ``idxs`` (Tensor[N], int) never suppress each other.

    Returns an int64 Tensor of the kept indices, by decreasing score.
    """
    _check_nms_inputs(boxes, scores, "batched_nms")
    if boxes.numel() > (4000 if not is_cupy_array(boxes._data) else 100_000):
        return _batched_nms_vanilla(boxes, scores, idxs, iou_threshold)
    return _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold)


def _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold):
    """One NMS after shifting each category's boxes past all others (TorchVision's path for few boxes)."""
    b, s, c = boxes._data, scores._data, idxs._data
    xp = array_module(b)
    if b.size == 0:
        return vl.Tensor._wrap(xp.zeros((0,), dtype=np.int64))
    offsets = c.astype(b.dtype) * (b.max() + b.dtype.type(1))
    return vl.Tensor._wrap(_nms_arrays(b + offsets[:, None], s, iou_threshold))


def _batched_nms_vanilla(boxes, scores, idxs, iou_threshold):
    """One NMS per category, the kept indices then ordered by score (TorchVision's path for many boxes,
    where the coordinate offsets would cost precision)."""
    b, s, c = boxes._data, scores._data, idxs._data
    xp = array_module(b)
    keep_mask = xp.zeros(s.shape, dtype=bool)
    for cls in xp.unique(c).tolist():
        members = xp.flatnonzero(c == cls)
        keep_mask[members[_nms_arrays(b[members], s[members], iou_threshold)]] = True
    kept = xp.flatnonzero(keep_mask)
    kept_scores = s[kept]
    order = _descending_order(xp, kept_scores)
    if xp is np and np.unique(kept_scores).size < kept_scores.size:
        # Tied scores: TorchVision orders them with PyTorch's unstable sort; replay its order.
        order = np.asarray(unstable_descending_order(kept_scores.tolist()), dtype=np.int64)
    return vl.Tensor._wrap(kept[order].astype(np.int64))


def remove_small_boxes(boxes, min_size):
    """Indices (int64 Tensor[K]) of the boxes ``Tensor[..., 4]`` whose width and height are both
    ``>= min_size``."""
    ws = boxes[..., 2] - boxes[..., 0]
    hs = boxes[..., 3] - boxes[..., 1]
    return vl.where((ws >= min_size) & (hs >= min_size))[0]


def clip_boxes_to_image(boxes, size):
    """Clamp ``Tensor[..., 4]`` boxes into an image of ``size = (height, width)``."""
    height, width = size
    xs = boxes[..., 0::2].clamp(min=0, max=width)
    ys = boxes[..., 1::2].clamp(min=0, max=height)
    return vl.stack((xs, ys), dim=boxes.dim()).reshape(boxes.shape)


_ROTATED = ("xywhr", "cxcywhr", "xyxyxyxy")


def box_convert(boxes, in_fmt, out_fmt):
    """Convert ``Tensor[..., K]`` boxes from ``in_fmt`` to ``out_fmt``.

    Formats: ``'xyxy'``, ``'xywh'`` (corner + size), ``'cxcywh'`` (centre + size) with K = 4; rotated
    ``'xywhr'``, ``'cxcywhr'`` (K = 5, angle in degrees counter-clockwise) and ``'xyxyxyxy'`` (K = 8, the
    four corners). Axis-aligned and rotated formats do not convert into each other. Returns a new tensor
    (a clone when the formats are equal).
    """
    allowed = ("xyxy", "xywh", "cxcywh") + _ROTATED
    if in_fmt not in allowed or out_fmt not in allowed:
        raise ValueError(f"Unsupported Bounding Box Conversions for given in_fmt {in_fmt} and "
                         f"out_fmt {out_fmt}")
    if in_fmt == out_fmt:
        return boxes.clone()
    steps = CONVERSIONS.get((in_fmt, out_fmt))
    if steps is None:
        raise NotImplementedError(f"Unsupported Bounding Box Conversions for given in_fmt {in_fmt} and "
                                  f"out_fmt {out_fmt}")
    for step in steps:
        boxes = step(boxes)
    return boxes


def box_area(boxes, fmt="xyxy"):
    """Areas (Tensor[...]) of ``Tensor[..., 4]`` boxes in ``fmt`` (``'xyxy'``, ``'xywh'`` or ``'cxcywh'``)."""
    if fmt not in ("xyxy", "xywh", "cxcywh"):
        raise ValueError(f"Unsupported Bounding Box area for given format {fmt}")
    boxes = _upcast(boxes)
    if fmt == "xyxy":
        return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return boxes[..., 2] * boxes[..., 3]


def _corners(boxes, fmt):
    """``(top-left, bottom-right)`` corner tensors ``[..., 2]`` of boxes in ``fmt``."""
    if fmt == "xyxy":
        return boxes[..., :2], boxes[..., 2:]
    if fmt == "xywh":
        return boxes[..., :2], boxes[..., :2] + boxes[..., 2:]
    return boxes[..., :2] - boxes[..., 2:] / 2, boxes[..., :2] + boxes[..., 2:] / 2


def _box_inter_union(boxes1, boxes2, fmt="xyxy"):
    """Pairwise ``(intersection, union)``, each Tensor[..., N, M]."""
    if fmt not in ("xyxy", "xywh", "cxcywh"):
        raise ValueError(f"Unsupported Box IoU Calculation for given fmt {fmt}.")
    area1 = box_area(boxes1, fmt=fmt)
    area2 = box_area(boxes2, fmt=fmt)
    tl1, br1 = _corners(boxes1, fmt)
    tl2, br2 = _corners(boxes2, fmt)
    lt = vl.maximum(tl1[..., :, None, :], tl2[..., None, :, :])
    rb = vl.minimum(br1[..., :, None, :], br2[..., None, :, :])
    wh = _upcast(rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, area1[..., :, None] + area2[..., None, :] - inter


def box_iou(boxes1, boxes2, fmt="xyxy"):
    """Pairwise IoU of ``boxes1`` and ``boxes2``.

    Axis-aligned ``fmt`` (``'xyxy'``, ``'xywh'``, ``'cxcywh'``): Tensor[..., N, 4] and Tensor[..., M, 4] ->
    Tensor[..., N, M], differentiable. Rotated ``fmt`` (``'cxcywhr'``, ``'xywhr'``, ``'xyxyxyxy'``):
    Tensor[N, K] and Tensor[M, K] -> Tensor[N, M] (exact polygon intersection, no gradient).
    """
    axis_aligned = ("xyxy", "xywh", "cxcywh")
    if fmt in axis_aligned:
        inter, union = _box_inter_union(boxes1, boxes2, fmt=fmt)
        return inter / union
    if fmt in _ROTATED:
        if fmt != "cxcywhr":
            boxes1 = box_convert(boxes1, in_fmt=fmt, out_fmt="cxcywhr")
            boxes2 = box_convert(boxes2, in_fmt=fmt, out_fmt="cxcywhr")
        if boxes1.ndim != 2 or boxes2.ndim != 2:
            raise ValueError(f"box_iou: rotated boxes must be Tensor[N, 5] and Tensor[M, 5], got "
                             f"{list(boxes1.shape)} and {list(boxes2.shape)}")
        return vl.Tensor._wrap(rotated_box_iou(boxes1._data, boxes2._data))
    raise ValueError(f"Unsupported format '{fmt}'. Supported axis-aligned formats: {axis_aligned}. "
                     f"Supported rotated formats: {_ROTATED}.")


def _enclosing_wh(boxes1, boxes2):
    lti = vl.minimum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rbi = vl.maximum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    return _upcast(rbi - lti).clamp(min=0)


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalized IoU (Tensor[..., N, M]) of xyxy boxes (Rezatofighi et al., 2019)."""
    inter, union = _box_inter_union(boxes1, boxes2)
    iou = inter / union
    whi = _enclosing_wh(boxes1, boxes2)
    areai = whi[..., 0] * whi[..., 1]
    return iou - (areai - union) / areai


def _box_diou_iou(boxes1, boxes2, eps=1e-7):
    iou = box_iou(boxes1, boxes2)
    whi = _enclosing_wh(boxes1, boxes2)
    diagonal_sq = (whi[..., 0] ** 2) + (whi[..., 1] ** 2) + eps
    x_p = (boxes1[..., 0] + boxes1[..., 2]) / 2
    y_p = (boxes1[..., 1] + boxes1[..., 3]) / 2
    x_g = (boxes2[..., 0] + boxes2[..., 2]) / 2
    y_g = (boxes2[..., 1] + boxes2[..., 3]) / 2
    centers_sq = (_upcast(x_p[..., :, None] - x_g[..., None, :]) ** 2) + (
        _upcast(y_p[..., :, None] - y_g[..., None, :]) ** 2)
    return iou - centers_sq / diagonal_sq, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise distance IoU (Tensor[..., N, M]) of xyxy boxes (Zheng et al., 2019); ``eps`` guards the
    division by the enclosing box's squared diagonal."""
    diou, _ = _box_diou_iou(_upcast(boxes1), _upcast(boxes2), eps=eps)
    return diou


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise complete IoU (Tensor[..., N, M]) of xyxy boxes: distance IoU minus an aspect-ratio term
    whose weight ``alpha`` is treated as a constant (no gradient), as TorchVision."""
    boxes1 = _upcast(boxes1)
    boxes2 = _upcast(boxes2)
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[..., :, None, 2] - boxes1[..., :, None, 0]
    h_pred = boxes1[..., :, None, 3] - boxes1[..., :, None, 1]
    w_gt = boxes2[..., None, :, 2] - boxes2[..., None, :, 0]
    h_gt = boxes2[..., None, :, 3] - boxes2[..., None, :, 1]
    v = (4 / (math.pi ** 2)) * vl.pow(vl.atan(w_pred / h_pred) - vl.atan(w_gt / h_gt), 2)
    with vl.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def masks_to_boxes(masks):
    """Tight ``(x1, y1, x2, y2)`` float boxes (Tensor[N, 4]) around the nonzero pixels of ``masks``
    Tensor[N, H, W]; an empty mask gives ``[0, 0, 0, 0]``."""
    if masks.numel() == 0:
        return vl.zeros((0, 4), device=masks.device, dtype=vl.float32)
    if masks.ndim != 3:
        raise ValueError(f"masks_to_boxes: masks should be a Tensor[N, H, W], got shape {list(masks.shape)}")
    m = masks._data.astype(bool)
    xp = array_module(m)
    _, h, w = m.shape
    rows = m.any(axis=2)
    cols = m.any(axis=1)
    y1 = rows.argmax(axis=1)
    x1 = cols.argmax(axis=1)
    y2 = (h - 1) - rows[:, ::-1].argmax(axis=1)
    x2 = (w - 1) - cols[:, ::-1].argmax(axis=1)
    out = xp.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    out[~rows.any(axis=1)] = 0
    return vl.Tensor._wrap(out)
