"""COCO-style detection metrics without pycocotools: AP@[.5:.95], AP50, AP75, AP small/medium/large and
AR@1/10/100 (+ per area) for boxes (``"bbox"``) and instance masks (``"segm"``), by COCOeval's rules.

The rules reproduced (``pycocotools.cocoeval.COCOeval``), per image and category:

- detections are sorted by score (stable) and cut to the largest ``max_dets``; ground truths with
  ``iscrowd`` are ignored ones, as are those whose annotated ``area`` lies outside the area range
  (bounds inclusive); ignored ground truths sort last;
- at each IoU threshold a detection takes the unmatched ground truth with the highest IoU >= the threshold
  (the later one on ties), preferring any non-ignored one over an ignored one; a crowd may match many
  detections, and its IoU is intersection over the detection's area;
- a detection matched to an ignored ground truth, or unmatched with its own area outside the range, is
  ignored; then, per category, detections of all images are ranked by score (stable, images in id order),
  precision is made non-increasing and read at 101 recall points (0 past the last recall reached);
- categories with no non-ignored ground truth are left out of the means (-1 if nothing is left).

Box IoU is on ``[x, y, w, h]`` boxes without a +1; mask IoU is on pixels. A detection's area is ``w * h``
for boxes and its pixel count for masks; a ground truth's is its ``area`` field. Masks may be given as
COCO polygons, RLE (compressed string or count list) or binary arrays.

Typical use with a detection model (its targets and outputs in TorchVision's format)::

    evaluator = COCOEvaluator(targets_to_coco(dataset), iou_types=("bbox", "segm"))
    for images, targets in loader:
        outputs = model(images)
        evaluator.update({int(t["image_id"]): o for t, o in zip(targets, outputs)})
    metrics = evaluator.summarize()     # {"bbox": {"AP": ..., "AP50": ...}, "segm": {...}}
"""
import json
import os

import numpy as np

from visionlite.datasets._coco_mask import decode_rle, segmentation_to_mask

__all__ = ["COCOEvaluator", "METRIC_NAMES", "encode_mask", "evaluate_coco", "format_stats",
           "outputs_to_results",
           "targets_to_coco"]

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
AREA_RANGES = ((0.0, 1e10), (0.0, 32.0 ** 2), (32.0 ** 2, 96.0 ** 2), (96.0 ** 2, 1e10))
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)


# ------------------------------------------------------------------------------------------------ masks

def encode_mask(mask):
    """A binary ``H x W`` mask -> uncompressed COCO RLE ``{"size": [H, W], "counts": [...]}`` (column-major
    runs starting with zeros), which the evaluator and pycocotools' ``frPyObjects`` both read."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"encode_mask expects one H x W mask, got shape {mask.shape}")
    flat = (mask.T.reshape(-1) != 0).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def _to_mask(segmentation, height, width):
    if isinstance(segmentation, np.ndarray) or hasattr(segmentation, "numpy"):
        m = np.asarray(segmentation.numpy() if hasattr(segmentation, "numpy") else segmentation)
        m = m.reshape(m.shape[-2:]) if m.ndim > 2 else m
        return m != 0
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        h, w = segmentation["size"]
        return decode_rle(segmentation["counts"], h, w).astype(bool)
    return segmentation_to_mask(segmentation, height, width).astype(bool)


# -------------------------------------------------------------------------------------------------- IoU

def _box_iou(dt, gt, crowd):
    """IoU of ``[x, y, w, h]`` boxes ``dt`` (D, 4) and ``gt`` (G, 4); crowds: intersection / dt area."""
    dt, gt = np.asarray(dt, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    w = np.minimum(dt[:, None, 0] + dt[:, None, 2], gt[None, :, 0] + gt[None, :, 2]) - \
        np.maximum(dt[:, None, 0], gt[None, :, 0])
    h = np.minimum(dt[:, None, 1] + dt[:, None, 3], gt[None, :, 1] + gt[None, :, 3]) - \
        np.maximum(dt[:, None, 1], gt[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    dt_area = (dt[:, 2] * dt[:, 3])[:, None]
    union = np.where(crowd[None, :], dt_area, dt_area + (gt[:, 2] * gt[:, 3])[None, :] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _mask_iou(dt_masks, gt_masks, crowd):
    """IoU of binary masks (D, H, W) and (G, H, W) on pixels; crowds: intersection / dt area."""
    d = dt_masks.reshape(len(dt_masks), -1).astype(np.float64)
    g = gt_masks.reshape(len(gt_masks), -1).astype(np.float64)
    inter = d @ g.T
    da, ga = d.sum(1)[:, None], g.sum(1)[None, :]
    union = np.where(crowd[None, :], da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# ---------------------------------------------------------------------------------------------- matching

def _match(ious, gt_ignore, crowd, thresholds):
    """COCOeval's greedy matching of score-sorted detections (rows of ``ious``) to ground truths sorted with
    ignored ones last. Returns ``(dt_matched (T, D) bool, dt_on_ignored (T, D) bool)``."""
    T, (D, G) = len(thresholds), ious.shape
    dt_matched = np.zeros((T, D), bool)
    dt_ignored = np.zeros((T, D), bool)
    if D == 0 or G == 0:
        return dt_matched, dt_ignored
    gt_taken = np.zeros((T, G), bool)
    limit = np.minimum(thresholds, 1 - 1e-10)[:, None]
    cols = np.arange(G)
    for d in range(D):
        ok = (ious[d][None, :] >= limit) & (~gt_taken | crowd[None, :])
        # The best non-ignored candidate wins if there is one, else the best ignored one; among equal IoUs
        # the later ground truth (COCOeval replaces its current best on ">=").
        for group in (~gt_ignore, gt_ignore):
            cand = ok & group[None, :]
            rows = cand.any(1) & ~dt_matched[:, d]
            if not rows.any():
                continue
            val = np.where(cand, ious[d][None, :], -np.inf)
            best = val.max(1, keepdims=True)
            pick = np.where(cand & (val == best), cols[None, :], -1).max(1)
            t = np.flatnonzero(rows)
            dt_matched[t, d] = True
            dt_ignored[t, d] = gt_ignore[pick[t]]
            gt_taken[t, pick[t]] = True
    return dt_matched, dt_ignored


# -------------------------------------------------------------------------------------------- evaluation

def _index(coco_gt, results, iou_type, use_cats):
    """Per (image, category) lists of ground truths and detections, as plain dicts."""
    images = {int(img["id"]): img for img in coco_gt["images"]}
    cat_ids = sorted({int(c["id"]) for c in coco_gt.get("categories", [])} |
                     ({int(a["category_id"]) for a in coco_gt["annotations"]}
                      if not coco_gt.get("categories") else set()))
    gts, dts = {}, {}
    wanted = set(cat_ids)
    for ann in coco_gt["annotations"]:
        if int(ann["category_id"]) not in wanted:
            continue
        key = (int(ann["image_id"]), int(ann["category_id"]) if use_cats else -1)
        gts.setdefault(key, []).append(ann)
    for k, det in enumerate(results):
        image_id = int(det["image_id"])
        if image_id not in images:
            raise ValueError(f"a detection is for image_id {image_id}, which the ground truth does not have; "
                             "results must refer to the ground truth's images")
        if int(det["category_id"]) not in wanted:
            continue
        if iou_type == "bbox" and "bbox" not in det:
            raise ValueError("bbox evaluation needs a 'bbox' [x, y, w, h] in every detection")
        if iou_type == "segm" and "segmentation" not in det:
            raise ValueError("segm evaluation needs a 'segmentation' (RLE, polygons or a binary mask) in "
                             "every detection")
        key = (image_id, int(det["category_id"]) if use_cats else -1)
        dts.setdefault(key, []).append((k, det))
    if not use_cats:  # COCOeval pools an image's objects category by category: ties break in that order
        for lists in (gts, dts):
            for items in lists.values():
                items.sort(key=lambda x: int((x[1] if isinstance(x, tuple) else x)["category_id"]))
    return images, (cat_ids if use_cats else [-1]), gts, dts


def _evaluate_image(gt, dt, image, iou_type, max_det, thresholds, area_ranges):
    """Matching of one image and category at every area range: a list of per-range dicts, or None."""
    if not gt and not dt:
        return None
    dt = sorted(dt, key=lambda kd: -float(kd[1]["score"]))[:max_det]  # stable, as COCOeval's mergesort
    crowd = np.array([bool(g.get("iscrowd", 0)) for g in gt], bool)
    gt_area = np.array([float(g["area"]) for g in gt], np.float64)
    scores = np.array([float(d["score"]) for _, d in dt], np.float64)
    h, w = int(image.get("height", 0)), int(image.get("width", 0))
    if iou_type == "bbox":
        dt_area = np.array([float(d["bbox"][2]) * float(d["bbox"][3]) for _, d in dt], np.float64)
        ious = _box_iou([d["bbox"] for _, d in dt], [g["bbox"] for g in gt], crowd)
    else:
        dt_masks = [_to_mask(d["segmentation"], h, w) for _, d in dt]
        dt_area = np.array([m.sum() for m in dt_masks], np.float64)
        if dt and gt:
            gt_masks = np.stack([_to_mask(g["segmentation"], h, w) for g in gt])
            ious = _mask_iou(np.stack(dt_masks), gt_masks, crowd)
        else:
            ious = np.zeros((len(dt), len(gt)))
    out = []
    for lo, hi in area_ranges:
        ignore = crowd | (gt_area < lo) | (gt_area > hi)
        order = np.argsort(ignore, kind="stable")
        matched, on_ignored = _match(ious[:, order], ignore[order], crowd[order], thresholds)
        outside = (dt_area < lo) | (dt_area > hi)
        dt_ignore = on_ignored | (~matched & outside[None, :])
        out.append({"scores": scores, "matched": matched, "ignore": dt_ignore,
                    "num_gt": int((~ignore).sum())})
    return out


def _accumulate(per_image, thresholds, max_dets):
    """Precision (T, R, M) and recall (T, M) of one category and area range, -1 where it has no ground
    truth, from its per-image matchings (in image id order)."""
    T, R, M = len(thresholds), len(RECALL_THRESHOLDS), len(max_dets)
    precision, recall = -np.ones((T, R, M)), -np.ones((T, M))
    if not per_image:
        return precision, recall
    num_gt = sum(e["num_gt"] for e in per_image)
    if num_gt == 0:
        return precision, recall
    for m, max_det in enumerate(max_dets):
        scores = np.concatenate([e["scores"][:max_det] for e in per_image])
        order = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([e["matched"][:, :max_det] for e in per_image], axis=1)[:, order]
        ignore = np.concatenate([e["ignore"][:, :max_det] for e in per_image], axis=1)[:, order]
        tp = np.cumsum(matched & ~ignore, axis=1).astype(np.float64)
        fp = np.cumsum(~matched & ~ignore, axis=1).astype(np.float64)
        nd = tp.shape[1]
        for t in range(T):
            rc = tp[t] / num_gt
            pr = tp[t] / (fp[t] + tp[t] + np.spacing(1))
            recall[t, m] = rc[-1] if nd else 0.0
            pr = np.maximum.accumulate(pr[::-1])[::-1]  # the precision envelope
            q = np.zeros(R)
            idx = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            valid = idx < nd
            q[valid] = pr[idx[valid]]
            precision[t, :, m] = q
    return precision, recall


def _mean(values):
    values = values[values > -1]
    return float(values.mean()) if values.size else -1.0


def evaluate_coco(coco_gt, results, iou_type="bbox", max_dets=(1, 10, 100), use_cats=True,
                  iou_thresholds=None):
    """COCOeval on a ground-truth dict and a list of detections, without pycocotools.

    Args:
        coco_gt: a COCO annotation dict (``images`` with id/height/width, ``annotations`` with image_id,
            category_id, bbox ``[x, y, w, h]``, area, iscrowd and, for ``"segm"``, segmentation;
            ``categories``), or the path of such a json file.
        results: detections as pycocotools' ``loadRes`` takes them: dicts with image_id, category_id, score
            and ``bbox`` ``[x, y, w, h]`` or ``segmentation`` (RLE, polygons or an H x W binary mask).
        iou_type: ``"bbox"`` or ``"segm"``.
        max_dets: detections per image for AR (the last also for AP), as COCOeval's ``maxDets``.
        use_cats: False pools all categories into one, as ``params.useCats = 0``.
        iou_thresholds: default ``.5:.05:.95``.
    Returns ``{"stats": [12 floats as COCOeval.stats], "precision": (T, 101, K, 4, M) array,
    "recall": (T, K, 4, M) array, **{name: value for name in METRIC_NAMES}}``.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if isinstance(coco_gt, (str, os.PathLike)):
        with open(coco_gt) as f:
            coco_gt = json.load(f)
    if len(max_dets) != 3:
        raise ValueError(f"max_dets takes three values (for AR@small/medium/large and AP), got {max_dets}")
    thresholds = IOU_THRESHOLDS if iou_thresholds is None else np.asarray(iou_thresholds, np.float64)
    images, cat_ids, gts, dts = _index(coco_gt, results, iou_type, use_cats)
    image_ids = sorted(images)
    T, R, K, A, M = len(thresholds), len(RECALL_THRESHOLDS), len(cat_ids), len(AREA_RANGES), len(max_dets)
    precision, recall = -np.ones((T, R, K, A, M)), -np.ones((T, K, A, M))
    for k, cat in enumerate(cat_ids):
        per_range = [[] for _ in AREA_RANGES]
        for image_id in image_ids:
            r = _evaluate_image(gts.get((image_id, cat), []), dts.get((image_id, cat), []), images[image_id],
                                iou_type, max_dets[-1], thresholds, AREA_RANGES)
            if r is not None:
                for a in range(A):
                    per_range[a].append(r[a])
        for a in range(A):
            precision[:, :, k, a, :], recall[:, k, a, :] = _accumulate(per_range[a], thresholds, max_dets)

    def at(iou):
        return np.flatnonzero(np.abs(thresholds - iou) < 1e-9)

    last = M - 1
    stats = [_mean(precision[:, :, :, 0, last]), _mean(precision[at(0.5)][:, :, :, 0, last]),
             _mean(precision[at(0.75)][:, :, :, 0, last]), _mean(precision[:, :, :, 1, last]),
             _mean(precision[:, :, :, 2, last]), _mean(precision[:, :, :, 3, last]),
             _mean(recall[:, :, 0, 0]), _mean(recall[:, :, 0, 1]), _mean(recall[:, :, 0, 2]),
             _mean(recall[:, :, 1, last]), _mean(recall[:, :, 2, last]), _mean(recall[:, :, 3, last])]
    return {"stats": stats, "precision": precision, "recall": recall, **dict(zip(METRIC_NAMES, stats))}


# ------------------------------------------------------------------------------- model outputs and targets

def _np(x):
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _xyxy_to_xywh(boxes):
    boxes = _np(boxes).astype(np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def targets_to_coco(samples, categories=None):
    """A COCO ground-truth dict from detection samples ``(image, target)`` in TorchVision's format: the image
    a ``(C, H, W)`` tensor, the target a dict with ``boxes`` (XYXY), ``labels``, and optionally
    ``image_id``, ``masks`` (N, H, W), ``iscrowd`` and ``area`` (default: the mask's or box's area).
    ``categories``: names by label (index 0 is background) or None for the labels present."""
    images, annotations, labels_seen = [], [], set()
    for index, (image, target) in enumerate(samples):
        image_id = int(_np(target["image_id"]).reshape(-1)[0]) if "image_id" in target else index
        h, w = (int(s) for s in tuple(getattr(image, "shape", None) or _np(image).shape)[-2:])
        images.append({"id": image_id, "height": h, "width": w})
        boxes = _xyxy_to_xywh(target["boxes"])
        labels = _np(target["labels"]).reshape(-1).astype(np.int64)
        crowd = _np(target["iscrowd"]).reshape(-1) if "iscrowd" in target else np.zeros(len(labels))
        masks = _np(target["masks"]) if "masks" in target else None
        if "area" in target:
            areas = _np(target["area"]).reshape(-1).astype(np.float64)
        elif masks is not None:
            areas = (masks.reshape(len(labels), -1) != 0).sum(1).astype(np.float64)
        else:
            areas = boxes[:, 2] * boxes[:, 3]
        for i in range(len(labels)):
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(labels[i]),
                   "bbox": boxes[i].tolist(), "area": float(areas[i]), "iscrowd": int(crowd[i])}
            if masks is not None:
                ann["segmentation"] = encode_mask(masks[i])
            annotations.append(ann)
            labels_seen.add(int(labels[i]))
    if categories is not None:
        cats = [{"id": i, "name": str(n)} for i, n in enumerate(categories) if i > 0]
    else:
        cats = [{"id": i, "name": str(i)} for i in sorted(labels_seen)]
    return {"images": images, "annotations": annotations, "categories": cats}


def outputs_to_results(image_id, output, mask_threshold=0.5):
    """One image's model output (``boxes`` XYXY, ``scores``, ``labels``, optional ``masks`` (N, 1, H, W)
    probabilities) -> COCO result dicts with ``bbox`` and, where masks exist, ``segmentation`` (RLE)."""
    boxes = _xyxy_to_xywh(output["boxes"])
    scores = _np(output["scores"]).reshape(-1).astype(np.float64)
    labels = _np(output["labels"]).reshape(-1).astype(np.int64)
    masks = _np(output["masks"]) if "masks" in output else None
    out = []
    for i in range(len(scores)):
        det = {"image_id": int(image_id), "category_id": int(labels[i]), "bbox": boxes[i].tolist(),
               "score": float(scores[i])}
        if masks is not None:
            m = masks[i].reshape(masks.shape[-2:])
            det["segmentation"] = encode_mask(m > mask_threshold)
        out.append(det)
    return out


class COCOEvaluator:
    """Accumulates a model's outputs over a dataset and reports COCO metrics per IoU type.

    Args:
        coco_gt: COCO ground-truth dict or json path (see :func:`targets_to_coco`).
        iou_types: any of ``"bbox"``, ``"segm"``.
    ``update({image_id: output})`` takes TorchVision-style outputs; ``summarize()`` returns
    ``{iou_type: {"AP": ..., "AP50": ..., ...}}`` and keeps the full results in ``self.results``.
    """

    def __init__(self, coco_gt, iou_types=("bbox",), mask_threshold=0.5):
        if isinstance(coco_gt, (str, os.PathLike)):
            with open(coco_gt) as f:
                coco_gt = json.load(f)
        bad = [t for t in iou_types if t not in ("bbox", "segm")]
        if bad:
            raise ValueError(f"iou_types must be among 'bbox', 'segm'; got {bad}")
        self.coco_gt = coco_gt
        self.iou_types = tuple(iou_types)
        self.mask_threshold = mask_threshold
        self.detections = []
        self.results = {}

    def update(self, predictions):
        """Add ``{image_id: output dict}`` for a batch of images."""
        for image_id, output in predictions.items():
            if "segm" in self.iou_types and "masks" not in output:
                raise ValueError("segm evaluation needs 'masks' in the model outputs (a Mask R-CNN model)")
            self.detections.extend(outputs_to_results(image_id, output, self.mask_threshold))

    def summarize(self, verbose=False):
        """Compute the metrics; returns ``{iou_type: {metric name: value}}``."""
        out = {}
        for iou_type in self.iou_types:
            r = evaluate_coco(self.coco_gt, self.detections, iou_type)
            self.results[iou_type] = r
            out[iou_type] = {name: r[name] for name in METRIC_NAMES}
            if verbose:
                print(format_stats(r["stats"], iou_type))
        return out


def format_stats(stats, iou_type="bbox"):
    """COCOeval's 12-line summary of ``stats``."""
    rows = [("Precision", "0.50:0.95", "all", 100), ("Precision", "0.50", "all", 100),
            ("Precision", "0.75", "all", 100), ("Precision", "0.50:0.95", "small", 100),
            ("Precision", "0.50:0.95", "medium", 100), ("Precision", "0.50:0.95", "large", 100),
            ("Recall", "0.50:0.95", "all", 1), ("Recall", "0.50:0.95", "all", 10),
            ("Recall", "0.50:0.95", "all", 100), ("Recall", "0.50:0.95", "small", 100),
            ("Recall", "0.50:0.95", "medium", 100), ("Recall", "0.50:0.95", "large", 100)]
    lines = [f"IoU metric: {iou_type}"]
    for (kind, iou, area, md), value in zip(rows, stats):
        short = "(AP)" if kind == "Precision" else "(AR)"
        lines.append(f" Average {kind:<9} {short} @[ IoU={iou:<9} | area={area:>6s} | maxDets={md:>3d} ] = "
                     f"{value:0.3f}")
    return "\n".join(lines)
