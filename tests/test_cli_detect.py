"""``visionlite detect``: a random-initialised detector from a local weights file (detections checked against
TorchVision's model with the same weights) and a model from a scripts/finetune_detection.py checkpoint."""
import importlib.util
import os
import re
import sys

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
LINE = re.compile(r"^\s+(.+?)\s+([0-9.]+)\s+\[([-0-9., ]+)\]$")


def _photo(path, h=120, w=160):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 90.0)], -1) + rng.normal(0, 10, (h, w, 3))
    img[30:90, 40:100] = (230, 40, 40)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def _detections(stdout):
    return [(m.group(1), float(m.group(2)), [float(v) for v in m.group(3).split(",")])
            for m in map(LINE.match, stdout.splitlines()) if m]


def test_detect_random_model_from_local_weights_matches_torchvision(tmp_path, capsys):
    torch = require("torch")
    tv = require("torchvision")
    from visionlite.models import detection

    vl.manual_seed(0)
    model = detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)
    state = model.state_dict()
    # Bias the classifier so that some detections are confident: "person" (label 1) wins everywhere.
    bias = state["roi_heads.box_predictor.cls_score.bias"].numpy().copy()
    bias[1] = 6.0
    state["roi_heads.box_predictor.cls_score.bias"] = vl.tensor(bias)
    weights = tmp_path / "random.pth"
    vl.save(state, weights, format="torch")
    photo = _photo(tmp_path / "photo.png")
    out = tmp_path / "drawn.png"
    assert cli.main(["detect", str(photo), "--model", MODEL, "--weights", str(weights), "--score-thresh",
                     "0.5", "--out", str(out)]) == 0
    ours = _detections(capsys.readouterr().out)
    assert ours and {name for name, _, _ in ours} == {"person"}

    ref = tv.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)
    ref.load_state_dict(torch.load(weights, weights_only=True))
    ref.eval()
    pixels = np.asarray(Image.open(photo).convert("RGB"))
    with torch.no_grad():
        r = ref([torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float() / 255])[0]
    keep = r["scores"] >= 0.5
    assert len(ours) == int(keep.sum())
    for (_, score, box), ref_score, ref_box in zip(ours, r["scores"][keep], r["boxes"][keep]):
        assert score == pytest.approx(float(ref_score), abs=2e-3)
        np.testing.assert_allclose(box, ref_box.numpy(), atol=0.15)  # printed to 0.1 px
    drawn = np.asarray(Image.open(out))
    assert drawn.shape == pixels.shape
    x0, y0 = (int(v) for v in ours[0][2][:2])
    assert (drawn != pixels).any(axis=-1)[y0, x0:x0 + 5].all()  # the top edge of the first box is drawn


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


def test_detect_with_finetune_checkpoint(tmp_path, capsys):
    from visionlite.datasets.shapes import SHAPE_CLASSES, make_shapes_dataset

    kw = {"height": 64, "width": 64, "min_side": 16, "max_side": 32, "max_shapes": 2}
    make_shapes_dataset(tmp_path / "data" / "train", num_images=2, seed=0, **kw)
    make_shapes_dataset(tmp_path / "data" / "val", num_images=1, seed=1, **kw)
    script = _load_script("finetune_detection")
    args = [str(tmp_path / "data"), "--weights", "none", "--epochs", "1", "--batch-size", "2", "--min-size",
            "64", "--max-size", "64", "--box-batch-size-per-image", "32", "--out", str(tmp_path / "run"),
            "--no-progress"]
    script.main(args)
    ckpt = tmp_path / "run" / "last.safetensors"
    image = tmp_path / "data" / "val" / "images" / "00000.png"
    out = tmp_path / "drawn.png"
    capsys.readouterr()
    assert cli.main(["detect", str(image), "--checkpoint", str(ckpt), "--score-thresh", "0", "--out",
                     str(out)]) == 0
    printed = _detections(capsys.readouterr().out)

    # The same detections as the model the script builds, with the checkpoint's weights.
    model = script.build_model(script.parse_args(args), len(SHAPE_CLASSES) + 1)
    model.load_state_dict(vl.load(ckpt)["model"])
    model.eval()
    pixels = np.asarray(Image.open(image).convert("RGB"))
    with vl.no_grad():
        ref = model([vl.tensor(pixels.transpose(2, 0, 1).copy()).float() / 255])[0]
    assert len(printed) == len(ref["scores"]) > 0
    names = ["__background__", *SHAPE_CLASSES]
    assert [p[0] for p in printed] == [names[k] for k in ref["labels"].numpy().tolist()]
    np.testing.assert_allclose([p[1] for p in printed], ref["scores"].numpy(), atol=1e-3)
    assert Image.open(out).size == (64, 64)

    capsys.readouterr()
    assert cli.main(["detect", str(image), "--checkpoint", str(ckpt), "--model",
                     "maskrcnn_resnet50_fpn"]) == 2
    assert "holds a fasterrcnn_mobilenet_v3_large_320_fpn" in capsys.readouterr().err


def test_detect_errors(tmp_path, capsys):
    photo = _photo(tmp_path / "p.png", 32, 32)
    assert cli.main(["detect", str(tmp_path / "none.png")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["detect", str(photo), "--model", "resnet50"]) == 2
    assert "unknown detection model" in capsys.readouterr().err
    assert cli.main(["detect", str(photo), "--checkpoint", str(photo)]) == 2
    assert "cannot read it" in capsys.readouterr().err
    assert cli.main(["detect", str(photo), "--score-thresh", "2"]) == 2
    assert "--score-thresh" in capsys.readouterr().err
    weights = tmp_path / "w.safetensors"
    vl.save({"a": vl.zeros(1)}, weights)
    assert cli.main(["detect", str(photo), "--weights", str(weights)]) == 2
    assert "does not fit" in capsys.readouterr().err
