"""The ``visionlite`` command line: download, cache list/verify/clear, classify and models, with weights
served by a local HTTP server."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.refs import require
from visionlite import cli, hub
from visionlite import download as dl
from visionlite import models as vm

ASSETS = os.path.join(os.path.dirname(__file__), "assets")


@pytest.fixture(autouse=True)
def clean_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)


@pytest.fixture
def served(local_http_server, monkeypatch, tmp_path):
    """MobileNet_V3_Small_Weights.IMAGENET1K_V1 pointing at a torch-saved random checkpoint on 127.0.0.1."""
    torch = require("torch")
    tvm = require("torchvision.models")
    torch.manual_seed(0)
    model = tvm.mobilenet_v3_small().eval()
    path = tmp_path / "ckpt.pth"
    torch.save(model.state_dict(), path)
    data = path.read_bytes()
    name = f"mobilenet_v3_small-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    local_http_server.add_file(name, data)
    value = vm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.value
    monkeypatch.setattr(value, "url", local_http_server.url(name))
    monkeypatch.setattr(value, "sha256", None)  # the official file's pinned hash is not this file's
    local_http_server.model, local_http_server.name = model, name
    return local_http_server


def run(capsys, *argv):
    code = cli.main(["--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_models_table(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("resnet50 "))
    assert "IMAGENET1K_V2" in line and "25.6M" in line and "80.858" in line and "95.434" in line
    code, out, _ = run(capsys, "models", "--include", "vgg16*", "--all-weights")
    lines = out.splitlines()
    assert sum(line.startswith("vgg16 ") for line in lines) == 2
    features = next(line for line in lines if "IMAGENET1K_FEATURES" in line)
    assert " - " in features  # no ImageNet accuracy for the SSD feature weights
    assert any(line.startswith("vgg16_bn ") for line in lines)


def test_resolve_weights():
    assert cli.resolve_weights("resnet50") is vm.ResNet50_Weights.IMAGENET1K_V2
    assert cli.resolve_weights("ResNet50.IMAGENET1K_V1") is vm.ResNet50_Weights.IMAGENET1K_V1
    assert cli.resolve_weights("ResNet50_Weights.IMAGENET1K_V1") is vm.ResNet50_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Unknown model"):
        cli.resolve_weights("resnet5")


def test_download_then_cache_list_verify_clear(served, capsys):
    code, out, _ = run(capsys, "download", "mobilenet_v3_small")
    assert code == 0 and served.name in out and "MobileNet_V3_Small_Weights.IMAGENET1K_V1" in out
    code, out, _ = run(capsys, "download", "mobilenet_v3_small.IMAGENET1K_V1")
    assert code == 0 and served.gets(served.name) == 1  # already cached: no request

    code, out, _ = run(capsys, "cache", "list")
    assert code == 0 and served.name in out and "MobileNet_V3_Small_Weights.IMAGENET1K_V1" in out
    code, out, _ = run(capsys, "cache", "verify")
    assert code == 0 and "ok (hash prefix)" in out

    path = os.path.join(hub.get_dir(), "checkpoints", served.name)
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00corrupt\x00")
    code, out, _ = run(capsys, "cache", "verify")
    assert code == 1 and "CORRUPT" in out and "visionlite cache clear" in out

    code, out, err = run(capsys, "cache", "clear", "nothere.pth", "--yes")
    assert code == 2 and "nothere.pth" in err
    code, out, _ = run(capsys, "cache", "clear", "--yes")
    assert code == 0 and f"deleted {served.name}" in out and not os.path.exists(path)


def test_download_errors_are_reported(served, capsys, monkeypatch):
    code, _, err = run(capsys, "download", "resnet5")
    assert code == 1 and "Unknown model" in err
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    code, _, err = run(capsys, "download", "mobilenet_v3_small")
    assert code == 1 and "VISIONLITE_OFFLINE" in err


def test_classify_matches_torchvision(served, capsys):
    torch = require("torch")
    tvm = require("torchvision.models")
    from PIL import Image

    image = os.path.join(ASSETS, "chelsea.png")
    code, out, _ = run(capsys, "classify", image, "--model", "mobilenet_v3_small", "--topk", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(image) and "MobileNet_V3_Small_Weights.IMAGENET1K_V1" in lines[0]
    ranked = [line.split(". ", 1)[1].rsplit(None, 1) for line in lines[1:4]]

    preprocess = tvm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.transforms()
    with Image.open(image) as img, torch.no_grad():
        probs = served.model(preprocess(img.convert("RGB")).unsqueeze(0)).softmax(-1)[0].numpy()
    top = np.argsort(-probs)[:3]
    categories = tvm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.meta["categories"]
    assert [name.strip() for name, _ in ranked] == [categories[i] for i in top]
    for (_, pct), i in zip(ranked, top):
        assert float(pct.rstrip("%")) == pytest.approx(100 * probs[i], abs=0.01)


def test_classify_unreadable_image(served, capsys, tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    code, _, err = run(capsys, "classify", str(bad), "--model", "mobilenet_v3_small")
    assert code == 2 and "cannot read image" in err


def test_console_entry_point():
    out = subprocess.run([sys.executable, "-m", "visionlite.cli", "models", "--include", "alexnet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "alexnet" in out.stdout and "61.1M" in out.stdout and "56.522" in out.stdout
    helped = subprocess.run([sys.executable, "-m", "visionlite.cli", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert all(cmd in helped.stdout for cmd in ("download", "cache", "classify", "models"))


def test_classify_checks_inputs_before_fetching_weights(capsys, tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("weights were fetched before the inputs were checked")

    monkeypatch.setattr(vm, "get_model", no_download)
    code, _, err = run(capsys, "classify", str(tmp_path / "missing.png"), "--model", "resnet18")
    assert code == 2 and "no such file" in err
    features_only = ("--model", "vgg16", "--weights", "IMAGENET1K_FEATURES")
    code, _, err = run(capsys, "classify", str(tmp_path), *features_only)
    assert code == 2 and "no category names" in err
