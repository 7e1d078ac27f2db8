"""A small synthetic detection dataset, generated offline: rectangles, ellipses and triangles in a few
colours on noisy backgrounds, with exact boxes and instance masks (shapes never overlap, so each mask is
exactly the pixels painted). Deterministic for a seed.

    make_shapes_dataset("data/shapes/train", num_images=200, seed=0)
    make_shapes_dataset("data/shapes/val", num_images=50, seed=1)

writes, in each folder, both formats that ``scripts/finetune_detection.py`` reads:

- COCO: ``images/*.png`` and ``annotations.json`` (boxes ``[x, y, w, h]``, uncompressed-RLE masks, areas
  in pixels, ``iscrowd`` 0);
- the simple folder format of :class:`~visionlite.datasets.DetectionFolder`: ``labels/<name>.json``
  (``boxes`` XYXY, ``labels`` names, ``masks`` an instance-index PNG under ``masks/``) and
  ``classes.txt``.
"""
import json
import os

import numpy as np

__all__ = ["SHAPE_CLASSES", "make_shapes_dataset", "render_shapes"]

SHAPE_CLASSES = ("rectangle", "ellipse", "triangle")
COLORS = ((220, 40, 40), (40, 180, 60), (50, 90, 230), (240, 200, 30), (200, 60, 200))


def _shape_mask(kind, rng, height, width, box):
    """Pixels (bool ``H x W``) of one shape of ``kind`` inscribed in integer ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[:height, :width]
    px, py = xx + 0.5, yy + 0.5
    if kind == "rectangle":
        return (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    if kind == "ellipse":
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        return ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1.0
    # triangle: apex on the top edge, base on the bottom edge (both ends may move inward a little)
    apex = (rng.uniform(x0, x1), y0)
    left, right = (x0 + rng.uniform(0, 0.2) * (x1 - x0), y1), (x1 - rng.uniform(0, 0.2) * (x1 - x0), y1)
    pts = [apex, right, left]
    edges = zip(pts, pts[1:] + pts[:1])
    sides = [(bx - ax) * (py - ay) - (by - ay) * (px - ax) for (ax, ay), (bx, by) in edges]
    return np.all([s >= 0 for s in sides], 0) | np.all([s <= 0 for s in sides], 0)


def render_shapes(rng, height=128, width=128, min_shapes=1, max_shapes=3, min_side=24, max_side=64):
    """One image: ``(uint8 H x W x 3 array, labels (1-based into SHAPE_CLASSES), bool masks (N, H, W))``.

    The background is a random colour gradient with Gaussian noise; shapes are solid, slightly noisy."""
    base = rng.uniform(60, 200, 3)
    tilt = rng.uniform(-40, 40, (2, 3))
    yy, xx = np.mgrid[:height, :width] / np.array([height, width])[:, None, None]
    img = base + yy[..., None] * tilt[0] + xx[..., None] * tilt[1] + rng.normal(0, 12, (height, width, 3))
    taken = np.zeros((height, width), bool)
    labels, masks = [], []
    for _ in range(int(rng.integers(min_shapes, max_shapes + 1))):
        for _attempt in range(20):
            w = int(rng.integers(min_side, min(max_side, width) + 1))
            h = int(rng.integers(min_side, min(max_side, height) + 1))
            x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            kind = int(rng.integers(len(SHAPE_CLASSES)))
            mask = _shape_mask(SHAPE_CLASSES[kind], rng, height, width, (x0, y0, x0 + w, y0 + h))
            pad = taken[max(0, y0 - 2):y0 + h + 2, max(0, x0 - 2):x0 + w + 2]
            if mask.sum() >= 16 and not pad.any():
                break
        else:
            continue
        color = np.array(COLORS[int(rng.integers(len(COLORS)))], np.float64)
        img[mask] = color + rng.normal(0, 8, (int(mask.sum()), 3))
        taken |= mask
        labels.append(kind + 1)
        masks.append(mask)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img, labels, np.array(masks, bool).reshape(-1, height, width)


def _rle(mask):
    from visionlite.utils.coco_eval import encode_mask

    return encode_mask(mask)


def mask_box(mask):
    """Tight XYXY box of a bool mask, pixel edges included: ``[x0, y0, x1 + 1, y1 + 1]``."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def make_shapes_dataset(root, num_images=64, seed=0, height=128, width=128, **render_kwargs):
    """Write ``num_images`` rendered images with COCO and folder-format annotations under ``root``.

    ``render_kwargs`` go to :func:`render_shapes` (``min_shapes``, ``max_shapes``, ``min_side``,
    ``max_side``).
    Returns the path of ``annotations.json``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("images", "labels", "masks"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        img, labels, masks = render_shapes(rng, height, width, **render_kwargs)
        name = f"{i:05d}"
        Image.fromarray(img).save(os.path.join(root, "images", name + ".png"))
        instance = np.zeros((height, width), np.uint8)
        for k, m in enumerate(masks):
            instance[m] = k + 1
        Image.fromarray(instance).save(os.path.join(root, "masks", name + ".png"))
        boxes = [mask_box(m) for m in masks]
        with open(os.path.join(root, "labels", name + ".json"), "w") as f:
            json.dump({"boxes": boxes, "labels": [SHAPE_CLASSES[c - 1] for c in labels],
                       "masks": f"masks/{name}.png"}, f)
        images.append({"id": i + 1, "file_name": name + ".png", "height": height, "width": width})
        for box, label, m in zip(boxes, labels, masks):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": label,
                                "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                                "area": int(m.sum()), "iscrowd": 0, "segmentation": _rle(m)})
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("\n".join(SHAPE_CLASSES) + "\n")
    path = os.path.join(root, "annotations.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations,
                   "categories": [{"id": k + 1, "name": n} for k, n in enumerate(SHAPE_CLASSES)]}, f)
    return path
