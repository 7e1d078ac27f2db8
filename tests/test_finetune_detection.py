"""The rendered-shapes dataset (both formats, exact boxes and masks, deterministic), DetectionFolder, and
scripts/finetune_detection.py end to end (one tiny epoch, then --resume) with its COCO metrics checked
against pycocotools."""
import csv
import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite.datasets import CocoDetection, DetectionFolder, wrap_dataset_for_transforms_v2
from visionlite.datasets.shapes import SHAPE_CLASSES, make_shapes_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
mask_utils = require("pycocotools.mask", "decodes the COCO masks independently (pip install pycocotools)")
cocoeval = require("pycocotools.cocoeval")


def _load_script(name):
    path = os.path.join(ROOT, "scripts", f"{name}.py")
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.dirname(path))
    return module


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    kw = {"height": 64, "width": 64, "min_side": 16, "max_side": 32, "max_shapes": 2}
    make_shapes_dataset(root / "train", num_images=4, seed=0, **kw)
    make_shapes_dataset(root / "val", num_images=2, seed=1, **kw)
    return root


def test_shapes_deterministic_and_exact(shapes, tmp_path):
    make_shapes_dataset(tmp_path, num_images=4, seed=0, height=64, width=64, min_side=16, max_side=32,
                        max_shapes=2)
    for sub in ("annotations.json", "images/00003.png", "masks/00003.png", "labels/00003.json"):
        assert (tmp_path / sub).read_bytes() == (shapes / "train" / sub).read_bytes()
    with open(shapes / "train" / "annotations.json") as f:
        coco = json.load(f)
    assert [c["name"] for c in coco["categories"]] == list(SHAPE_CLASSES)
    assert coco["annotations"]
    for ann in coco["annotations"]:
        img = coco["images"][ann["image_id"] - 1]
        rle = mask_utils.frPyObjects(ann["segmentation"], img["height"], img["width"])
        mask = mask_utils.decode(rle)
        instance = np.asarray(Image.open(shapes / "train" / "masks" / img["file_name"]))
        k = [a["id"] for a in coco["annotations"] if a["image_id"] == ann["image_id"]].index(ann["id"]) + 1
        np.testing.assert_array_equal(mask, instance == k)  # both formats hold the same mask
        ys, xs = np.nonzero(mask)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert ann["area"] == mask.sum() == int(mask_utils.area(rle))
        pixels = np.asarray(Image.open(shapes / "train" / "images" / img["file_name"]), np.float64)
        # a solid shape: its pixels are close to one colour, unlike the gradient background around it
        assert pixels[mask.astype(bool)].std(0).max() < 12


def test_detection_folder_equals_coco_wrapper(shapes):
    folder = DetectionFolder(shapes / "train")
    coco = wrap_dataset_for_transforms_v2(
        CocoDetection(shapes / "train" / "images", shapes / "train" / "annotations.json"),
        target_keys=["boxes", "labels", "masks"])
    assert folder.classes == list(SHAPE_CLASSES) and len(folder) == len(coco) == 4
    for i in range(len(folder)):
        image, target = folder[i]
        pil, ref = coco[i]
        assert image.shape == (3, 64, 64) and image.dtype == vl.uint8
        np.testing.assert_array_equal(image.numpy().transpose(1, 2, 0), np.asarray(pil))
        np.testing.assert_array_equal(target["boxes"].numpy(), ref["boxes"].numpy())
        np.testing.assert_array_equal(target["labels"].numpy(), ref["labels"].numpy())
        np.testing.assert_array_equal(target["masks"].numpy(), ref["masks"].numpy())


def test_detection_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="images/"):
        DetectionFolder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
    (tmp_path / "labels" / "a.json").write_text(json.dumps({"boxes": [[0, 0, 4, 4]], "labels": []}))
    with pytest.raises(ValueError, match="1 boxes but 0 labels"):
        DetectionFolder(tmp_path)


def test_finetune_detection_one_epoch_then_resume(shapes, tmp_path):
    script = _load_script("finetune_detection")
    out = tmp_path / "run"
    common = [str(shapes), "--weights", "none", "--epochs", "2", "--batch-size", "2", "--min-size", "64",
              "--max-size", "64", "--box-batch-size-per-image", "32", "--out", str(out), "--no-progress"]
    script.main(common + ["--stop-after", "1"])
    with open(out / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1"]
    ckpt = vl.load(out / "last.safetensors")
    assert ckpt["epoch"] == 1 and ckpt["classes"] == list(SHAPE_CLASSES)
    assert ckpt["scheduler"]["last_epoch"] == 2  # 4 images / batch 2 = 2 steps
    with pytest.raises(SystemExit, match="3-epoch|2-epoch"):
        script.main(common[:4] + ["3"] + common[5:] + ["--resume"])
    script.main(common + ["--resume"])
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    ckpt = vl.load(out / "last.safetensors")
    assert ckpt["epoch"] == 2 and ckpt["scheduler"]["last_epoch"] == 4
    assert os.path.getsize(out / "metrics.png") > 0 and (out / "best.safetensors").exists()

    # The reported box metrics equal pycocotools' on the same model outputs.
    model = script.build_model(script.parse_args(common), len(SHAPE_CLASSES) + 1)
    model.load_state_dict(ckpt["model"])
    model.eval()
    val = script.open_folder(str(shapes / "val"), False, False)[0]
    results = []
    from visionlite.utils.coco_eval import outputs_to_results

    with vl.no_grad():
        for i in range(len(val)):
            image, target = val[i]
            results += outputs_to_results(target["image_id"], model([image])[0])
    from pycocotools.coco import COCO

    gt = COCO(str(shapes / "val" / "annotations.json"))
    ev = cocoeval.COCOeval(gt, gt.loadRes(results) if results else COCO(), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    for name, ref in zip(("bbox_AP", "bbox_AP50", "bbox_AP75"), ev.stats[:3]):
        assert float(rows[-1][name]) == pytest.approx(ref, abs=1e-3)


def test_finetune_detection_bad_data(tmp_path):
    script = _load_script("finetune_detection")
    with pytest.raises(SystemExit, match="make-shapes"):
        script.main([str(tmp_path / "missing"), "--weights", "none"])
    (tmp_path / "x").mkdir()
    with pytest.raises(SystemExit, match="neither COCO"):
        script.main([str(tmp_path / "x"), "--weights", "none"])


def _tv_recipe(tv, name, num_classes):
    """TorchVision's fine-tuning swap on its own model: the tutorial's predictors, or new last convs."""
    import torch
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

    model = getattr(tv.models.detection, name)(weights=None, weights_backbone=None)
    if hasattr(model, "roi_heads"):
        model.roi_heads.box_predictor = FastRCNNPredictor(model.roi_heads.box_predictor.cls_score.in_features,
                                                          num_classes)
        if model.roi_heads.mask_predictor is not None:
            model.roi_heads.mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
    else:
        head = model.head.classification_head
        for i, block in enumerate(head.module_list):
            conv = block if isinstance(block, torch.nn.Conv2d) else block[-1]
            new = type(conv)(conv.in_channels, conv.out_channels // head.num_columns * num_classes,
                             conv.kernel_size, padding=conv.padding)
            if block is conv:
                head.module_list[i] = new
            else:
                block[-1] = new
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["fasterrcnn_mobilenet_v3_large_320_fpn", "ssdlite320_mobilenet_v3_large",
                                  pytest.param("maskrcnn_resnet50_fpn", marks=pytest.mark.slow)])
def test_replace_predictors_as_torchvision_recipe(name):
    tv = require("torchvision")
    from visionlite.models import detection

    script = _load_script("finetune_detection")
    model = getattr(detection, name)(weights=None, weights_backbone=None)
    script.replace_predictors(model, 4)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == _tv_recipe(tv, name, 4)
    model.eval()
    with vl.no_grad():
        out = model([vl.rand(3, 64, 64)])[0]
    assert int(out["labels"].numpy().max(initial=0)) < 4


@pytest.mark.slow
def test_finetune_detection_reaches_real_map(tmp_path):
    """From random initialisation (no weights offline) on 96 rendered-shape images: a real box mAP on the
    24 held-out ones. About 5 minutes on a quiet 2-core machine (about 9 s an epoch)."""
    script = _load_script("finetune_detection")
    script.main(["--make-shapes", str(tmp_path / "data"), "--num-images", "96"])
    best = script.main([str(tmp_path / "data"), "--weights", "none", "--epochs", "30", "--batch-size", "4",
                        "--lr", "0.02", "--warmup-iters", "50", "--min-size", "128", "--max-size", "128",
                        "--box-batch-size-per-image", "128", "--out", str(tmp_path / "run"), "--no-progress"])
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30
    # Measured (seed 0): box AP 0.000 after the first epoch (a random model), 0.10 after 20, 0.17-0.20 (AP50
    # 0.40-0.46, AP75 0.10-0.16) over the last ten.
    assert best >= 0.12
    assert max(float(r["bbox_AP50"]) for r in rows[-10:]) >= 0.3


@pytest.mark.slow
def test_finetune_detection_mask_rcnn(shapes, tmp_path):
    """Mask R-CNN through the script: masks reach the model, and mask AP is reported beside box AP."""
    script = _load_script("finetune_detection")
    out = tmp_path / "run"
    script.main([str(shapes), "--model", "maskrcnn_resnet50_fpn", "--weights", "none", "--epochs", "1",
                 "--batch-size", "2", "--min-size", "64", "--max-size", "64", "--box-batch-size-per-image",
                 "32", "--box-score-thresh", "0", "--out", str(out), "--no-progress"])
    with open(out / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    for name in ("bbox_AP", "bbox_AP50", "segm_AP", "segm_AP50", "segm_AR100"):
        assert 0.0 <= float(row[name]) <= 1.0
    ckpt = vl.load(out / "last.safetensors")
    assert ckpt["model"]["roi_heads.mask_predictor.mask_fcn_logits.weight"].shape[0] == len(SHAPE_CLASSES) + 1
