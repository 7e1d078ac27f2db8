"""Builders with ``weights=``: a PyTorch-written checkpoint served on 127.0.0.1 is downloaded once, verified,
cached, loaded with strict=True, and gives TorchVision's logits."""
import hashlib

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import download as dl
from visionlite import hub
from visionlite import models as vm
from visionlite.download import HashMismatchError

torch = require("torch")
tvm = require("torchvision.models")


@pytest.fixture(autouse=True)
def clean_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)


def serve_weights(server, monkeypatch, tmp_path, state_dict=None, pin=False):
    """Serve a torch-saved mobilenet_v3_small checkpoint as MobileNet_V3_Small_Weights.IMAGENET1K_V1.

    The file is named as TorchVision names its files (hash prefix); returns (torch model, file name, sha256).
    """
    torch.manual_seed(0)
    theirs = tvm.mobilenet_v3_small().eval()
    path = tmp_path / "ckpt.pth"
    torch.save(state_dict if state_dict is not None else theirs.state_dict(), path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    name = f"mobilenet_v3_small-{sha[:8]}.pth"
    server.add_file(f"models/{name}", data)
    value = vm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.value
    monkeypatch.setattr(value, "url", server.url(f"models/{name}"))
    monkeypatch.setattr(value, "sha256", sha if pin else None)
    return theirs, name, sha


def logits(model, x):
    with vl.no_grad():
        return model(vl.tensor(x)).numpy()


def test_download_once_then_cache_hit(local_http_server, monkeypatch, tmp_path):
    theirs, name, _ = serve_weights(local_http_server, monkeypatch, tmp_path)
    ours = vm.mobilenet_v3_small(weights=vm.MobileNet_V3_Small_Weights.DEFAULT, progress=False).eval()
    assert local_http_server.gets(f"models/{name}") == 1
    again = vm.mobilenet_v3_small(weights="IMAGENET1K_V1", progress=False).eval()
    assert local_http_server.gets(f"models/{name}") == 1  # the cache hit made no request
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits(ours, x), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_array_equal(logits(again, x), logits(ours, x))


def test_get_model_with_weights_name(local_http_server, monkeypatch, tmp_path):
    serve_weights(local_http_server, monkeypatch, tmp_path, pin=True)
    model = vm.get_model("mobilenet_v3_small", weights="DEFAULT", progress=False)
    assert model.classifier[3].out_features == 1000


def test_pinned_full_hash_mismatch_is_refused(local_http_server, monkeypatch, tmp_path):
    _, name, sha = serve_weights(local_http_server, monkeypatch, tmp_path, pin=True)
    wrong = sha[:8] + ("0" if sha[8] != "0" else "1") + sha[9:]
    monkeypatch.setattr(vm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.value, "sha256", wrong)
    with pytest.raises(HashMismatchError):
        vm.mobilenet_v3_small(weights="DEFAULT", progress=False)
    assert not (hub.list_cached())  # nothing unverified is left in the cache


def test_key_mismatch_is_an_error_not_a_partial_load(local_http_server, monkeypatch, tmp_path):
    torch.manual_seed(0)
    state = tvm.mobilenet_v3_small().state_dict()
    del state["classifier.3.bias"]
    serve_weights(local_http_server, monkeypatch, tmp_path, state_dict=state)
    with pytest.raises(RuntimeError, match="classifier.3.bias"):
        vm.mobilenet_v3_small(weights="DEFAULT", progress=False)


def test_offline_mode(local_http_server, monkeypatch, tmp_path):
    _, name, _ = serve_weights(local_http_server, monkeypatch, tmp_path)
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    with pytest.raises(hub.OfflineError, match="visionlite download"):
        vm.mobilenet_v3_small(weights="DEFAULT", progress=False)
    assert local_http_server.total_gets() == 0
    monkeypatch.delenv("VISIONLITE_OFFLINE")
    vm.mobilenet_v3_small(weights="DEFAULT", progress=False)
    monkeypatch.setenv("VISIONLITE_OFFLINE", "1")
    vm.mobilenet_v3_small(weights="DEFAULT", progress=False)  # from the cache, no network
    assert local_http_server.gets(f"models/{name}") == 1


def test_weights_transforms_preset():
    from visionlite.transforms import presets
    preset = vm.ResNet50_Weights.IMAGENET1K_V2.transforms()
    assert isinstance(preset, presets.ImageClassification)
    assert preset.crop_size == [224] and preset.resize_size == [232]


def test_pin_weights_records_full_hashes(local_http_server, tmp_path, capsys):
    import importlib.util
    import json
    import os

    data = b"weights bytes " * 1000
    sha = hashlib.sha256(data).hexdigest()
    name = f"tiny-{sha[:8]}.pth"
    local_http_server.add_file(name, data)
    registry = tmp_path / "weights.json"
    entry = {"url": local_http_server.url(name), "sha256": None}
    missing = {"url": local_http_server.url("gone-0123abcd.pth"), "sha256": None}
    registry.write_text(json.dumps({"models": {"tiny": {"V1": entry}, "gone": {"V1": missing}}}))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "scripts", "pin_weights.py")
    spec = importlib.util.spec_from_file_location("_pin_weights", path)
    pin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pin)

    assert pin.main(["--registry", str(registry), "--no-progress"]) == 1  # "gone" could not be fetched
    pinned = json.loads(registry.read_text())["models"]
    assert pinned["tiny"]["V1"]["sha256"] == sha and pinned["gone"]["V1"]["sha256"] is None
    assert pin.main(["--registry", str(registry), "--include", "tiny", "--dry-run"]) == 0
    assert f"pinned {sha}" in capsys.readouterr().out
    assert local_http_server.gets(name) == 1
