"""visionlite.utils.coco_eval against pycocotools' COCOeval on the same random ground truths and detections:
boxes and masks (polygons, compressed and uncompressed RLE), crowds, empty images, many classes, tied
scores, small/medium/large objects, more detections than maxDets."""
import contextlib
import copy
import io

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite.utils import coco_eval

cocoeval = require("pycocotools.cocoeval", "the reference COCO evaluator (pip install pycocotools)")
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402


def _reference(gt, results, iou_type, use_cats=True):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results)) if results else COCO()
        ev = cocoeval.COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.useCats = int(use_cats)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _boxes(rng, n, h, w):
    """Random [x, y, w, h] boxes with sides from 2 px to most of the image (all three area ranges)."""
    bw = np.exp(rng.uniform(np.log(2), np.log(w * 0.9), n))
    bh = np.clip(bw * np.exp(rng.normal(0, 0.4, n)), 2, h * 0.9)
    x = rng.uniform(0, w - bw)
    y = rng.uniform(0, h - bh)
    return np.stack([x, y, bw, bh], 1)


def _make(rng, num_images=12, num_classes=4, crowd_p=0.1, empty_p=0.2, dets_per_gt=2, fp=5,
          tie_scores=False, masks=False):
    images, anns, results = [], [], []
    for i in range(num_images):
        h, w = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        image_id = 3 * i + 1
        images.append({"id": image_id, "height": h, "width": w})
        n = 0 if rng.random() < empty_p else int(rng.integers(1, 8))
        for box in _boxes(rng, n, h, w):
            cat = int(rng.integers(1, num_classes + 1))
            crowd = int(rng.random() < crowd_p)
            ann = {"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": box.tolist(),
                   "iscrowd": crowd}
            if masks:
                m = _ellipse(h, w, box)
                if crowd:
                    rle = mask_utils.encode(np.asfortranarray(m))
                    ann["segmentation"] = {"size": [h, w], "counts": _uncompressed(m)}
                    ann["area"] = float(mask_utils.area(rle))
                else:
                    x, y, bw, bh = box
                    poly = [x, y + bh / 2, x + bw / 2, y, x + bw, y + bh / 2, x + bw / 2, y + bh]  # a diamond
                    ann["segmentation"] = [poly]
                    rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
                    ann["area"] = float(mask_utils.area(rle))
            else:
                ann["area"] = float(box[2] * box[3] * rng.uniform(0.6, 1.0))
            anns.append(ann)
            for _ in range(int(rng.integers(0, dets_per_gt + 1))):
                jitter = box + rng.normal(0, 0.15, 4) * np.r_[box[2:], box[2:]]
                jitter[2:] = np.maximum(jitter[2:], 1.0)
                results.append(_det(rng, image_id, cat if rng.random() < 0.85 else
                                    int(rng.integers(1, num_classes + 1)), jitter, h, w, masks, tie_scores))
        for box in _boxes(rng, int(rng.integers(0, fp + 1)), h, w):
            results.append(_det(rng, image_id, int(rng.integers(1, num_classes + 1)), box, h, w, masks,
                                tie_scores))
    cats = [{"id": c, "name": f"c{c}"} for c in range(1, num_classes + 1)]
    return {"images": images, "annotations": anns, "categories": cats}, results


def _ellipse(h, w, box):
    x, y, bw, bh = box
    yy, xx = np.mgrid[:h, :w]
    cx, cy = x + bw / 2, y + bh / 2
    m = ((xx + 0.5 - cx) / max(bw / 2, 0.5)) ** 2 + ((yy + 0.5 - cy) / max(bh / 2, 0.5)) ** 2 <= 1
    return m.astype(np.uint8)


def _uncompressed(m):
    flat = m.T.reshape(-1)
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return counts


def _det(rng, image_id, cat, box, h, w, masks, tie_scores):
    score = float(np.round(rng.random(), 1)) if tie_scores else float(rng.random())
    det = {"image_id": image_id, "category_id": cat, "score": score}
    if masks:
        rle = mask_utils.encode(np.asfortranarray(_ellipse(h, w, box)))
        rle["counts"] = rle["counts"].decode("ascii")
        det["segmentation"] = rle
    else:
        det["bbox"] = [float(v) for v in box]
    return det


def _check(gt, results, iou_type, use_cats=True):
    ref = _reference(gt, results, iou_type, use_cats)
    ours = coco_eval.evaluate_coco(gt, results, iou_type, use_cats=use_cats)
    np.testing.assert_allclose(ours["stats"], ref.stats, atol=1e-3, rtol=0)
    np.testing.assert_allclose(ours["precision"], ref.eval["precision"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours["recall"], ref.eval["recall"], atol=1e-6, rtol=0)
    return ours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boxes_random(seed):
    gt, results = _make(np.random.default_rng(seed))
    ours = _check(gt, results, "bbox")
    assert 0 < ours["AP"] < 1  # a case with both hits and misses


def test_boxes_crowds_empty_images_many_classes():
    gt, results = _make(np.random.default_rng(10), num_images=20, num_classes=30, crowd_p=0.35, empty_p=0.4)
    _check(gt, results, "bbox")


def test_boxes_tied_scores_and_max_dets():
    # Scores rounded to one decimal tie often (stable ordering matters), and 150 false positives per image
    # exceed maxDets = 100.
    gt, results = _make(np.random.default_rng(11), num_images=6, num_classes=2, fp=150, tie_scores=True)
    _check(gt, results, "bbox")


@pytest.mark.parametrize("tie_scores", [False, True])
def test_boxes_category_agnostic(tie_scores):
    gt, results = _make(np.random.default_rng(12), num_classes=5, tie_scores=tie_scores)
    _check(gt, results, "bbox", use_cats=False)


def test_perfect_and_no_detections():
    gt, _ = _make(np.random.default_rng(13), crowd_p=0.0)
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
               for a in gt["annotations"]]
    ours = _check(gt, perfect, "bbox")
    assert ours["AP50"] == pytest.approx(1.0)
    ours = coco_eval.evaluate_coco(gt, [], "bbox")
    assert ours["AP"] == 0.0 and ours["AR100"] == 0.0


@pytest.mark.parametrize("seed", [20, 21])
def test_masks_polygons_and_rle(seed):
    gt, results = _make(np.random.default_rng(seed), num_images=8, crowd_p=0.25, masks=True)
    ours = _check(gt, results, "segm")
    assert 0 < ours["AP"] < 1


def test_masks_as_bitmaps_and_encode_mask():
    rng = np.random.default_rng(30)
    gt, results = _make(rng, num_images=5, crowd_p=0.2, masks=True)
    sizes = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    bitmaps = []
    for det in results:
        m = mask_utils.decode(det["segmentation"])
        assert m.shape == sizes[det["image_id"]]
        bitmaps.append({**det, "segmentation": m})
        # encode_mask's uncompressed RLE reads back through pycocotools to the same mask
        rle = mask_utils.frPyObjects(coco_eval.encode_mask(m), *m.shape)
        np.testing.assert_array_equal(mask_utils.decode(rle), m)
    ref = _reference(gt, results, "segm")
    ours = coco_eval.evaluate_coco(gt, bitmaps, "segm")
    np.testing.assert_allclose(ours["stats"], ref.stats, atol=1e-3, rtol=0)


def test_evaluator_with_model_outputs():
    """COCOEvaluator on TorchVision-style targets and outputs (tensors, XYXY boxes, mask probabilities)."""
    import visionlite as vl

    rng = np.random.default_rng(40)
    samples, outputs = [], {}
    for image_id in range(4):
        h, w = 64, 80
        boxes = _boxes(rng, 3, h, w)
        xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        masks = np.stack([_ellipse(h, w, b) for b in boxes])
        target = {"boxes": vl.tensor(xyxy, dtype=vl.float32), "labels": vl.tensor([1, 2, 1]),
                  "masks": vl.tensor(masks), "image_id": image_id}
        samples.append((vl.zeros(3, h, w), target))
        noisy = xyxy + rng.normal(0, 1.5, xyxy.shape)
        probs = np.clip(masks + rng.normal(0, 0.3, masks.shape), 0, 1)[:, None]
        outputs[image_id] = {"boxes": vl.tensor(noisy, dtype=vl.float32), "labels": vl.tensor([1, 2, 2]),
                             "scores": vl.tensor(rng.random(3), dtype=vl.float32),
                             "masks": vl.tensor(probs, dtype=vl.float32)}
    gt = coco_eval.targets_to_coco(samples)
    ev = coco_eval.COCOEvaluator(gt, iou_types=("bbox", "segm"))
    ev.update(outputs)
    metrics = ev.summarize()
    dets = ev.detections
    for iou_type in ("bbox", "segm"):
        ref_results = dets
        if iou_type == "segm":
            ref_results = []
            for d in dets:
                rle = mask_utils.frPyObjects(d["segmentation"], *d["segmentation"]["size"])
                ref_results.append({k: v for k, v in d.items() if k != "bbox"} | {"segmentation": rle})
        ref = _reference(gt, ref_results, iou_type)
        got = [metrics[iou_type][name] for name in coco_eval.METRIC_NAMES]
        np.testing.assert_allclose(got, ref.stats, atol=1e-3, rtol=0)


def test_bad_input():
    gt, results = _make(np.random.default_rng(50), num_images=2, empty_p=0.0)
    with pytest.raises(ValueError, match="iou_type"):
        coco_eval.evaluate_coco(gt, results, "keypoints")
    with pytest.raises(ValueError, match="image_id 999"):
        coco_eval.evaluate_coco(gt, [{"image_id": 999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    with pytest.raises(ValueError, match="segmentation"):
        coco_eval.evaluate_coco(gt, results, "segm")


@pytest.mark.parametrize("order", [(1, 2), (2, 1)])
def test_equal_iou_tie_goes_to_the_later_ground_truth(order):
    # The first detection has IoU 0.5 with both ground truths; which one it takes decides whether the
    # second detection (IoU 1 with the upper one only) finds a match at IoU 0.5.
    boxes = {1: [0.0, 0.0, 10.0, 5.0], 2: [0.0, 5.0, 10.0, 5.0]}
    gt = {"images": [{"id": 1, "height": 20, "width": 20}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": k, "image_id": 1, "category_id": 1, "bbox": boxes[k], "area": 50.0,
                           "iscrowd": 0} for k in order]}
    results = [{"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.9},
               {"image_id": 1, "category_id": 1, "bbox": boxes[1], "score": 0.8}]
    _check(gt, results, "bbox")
