"""Fine-tuning helpers (head replacement, freezing, parameter groups, EMA, feature extraction) and
scripts/finetune.py end to end on a small generated ImageFolder, including resume."""
import contextlib
import csv
import importlib.util
import io
import math
import os
import sys

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as vm
from visionlite import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _np(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("name,head", [("resnet18", "fc"), ("mobilenet_v2", "classifier.1"),
                                       ("mobilenet_v3_small", "classifier.3"),
                                       ("squeezenet1_1", "classifier.1")])
def test_replace_head(name, head):
    model = vm.get_model(name)
    assert vm.get_head(model) == head
    new = vm.replace_head(model, 7)
    assert model.get_submodule(head) is new
    with vl.no_grad():
        out = model.eval()(vl.randn(2, 3, 64, 64))
    assert tuple(out.shape) == (2, 7)
    assert [k for k in model.state_dict() if k.startswith(head)] == [f"{head}.weight", f"{head}.bias"]


def test_freeze_backbone_keeps_head_trainable_and_bn_stats_frozen():
    model = vm.resnet18(num_classes=3)
    kept = vm.freeze_backbone(model)
    assert kept == ["fc.weight", "fc.bias"]
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith("fc."))
    before = _np(model.bn1.running_mean).copy()
    model.train()
    assert not model.bn1.training and model.layer1[0].bn2.training is False
    loss = model(vl.randn(2, 3, 32, 32) * 3 + 1).sum()
    loss.backward()
    np.testing.assert_array_equal(_np(model.bn1.running_mean), before)
    assert model.conv1.weight.grad is None and model.fc.weight.grad is not None
    assert isinstance(model.bn1, nn.BatchNorm2d) and type(model.bn1).__name__ == "BatchNorm2d"
    vm.unfreeze_batchnorm(model)
    model.train()
    assert model.bn1.training


def test_freeze_backbone_with_bn_stats_updating():
    model = vm.resnet18(num_classes=3)
    vm.freeze_backbone(model, freeze_bn_stats=False)
    before = _np(model.bn1.running_mean).copy()
    model.train()
    model(vl.randn(2, 3, 32, 32) * 3 + 1)
    assert not np.allclose(_np(model.bn1.running_mean), before)
    assert not model.bn1.weight.requires_grad


def test_freeze_backbone_bad_pattern():
    with pytest.raises(ValueError, match="No parameter matches"):
        vm.freeze_backbone(vm.resnet18(), trainable="head.*")


def test_param_groups_by_pattern_and_no_decay():
    model = vm.resnet18(num_classes=4)
    groups = vm.param_groups(model, [("fc.*", {"lr": 0.1})], default={"lr": 0.01}, weight_decay=1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    by_key = {(g["lr"], g["weight_decay"]): sorted(names[id(p)] for p in g["params"]) for g in groups}
    assert by_key[(0.1, 1e-4)] == ["fc.weight"]
    assert by_key[(0.1, 0.0)] == ["fc.bias"]
    assert "bn1.weight" in by_key[(0.01, 0.0)] and "layer1.0.bn1.bias" in by_key[(0.01, 0.0)]
    assert "conv1.weight" in by_key[(0.01, 1e-4)] and "bn1.weight" not in by_key[(0.01, 1e-4)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    vm.freeze_backbone(model)
    assert sum(len(g["params"]) for g in vm.param_groups(model)) == 2
    opt = vl.optim.SGD(groups, lr=0.5, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in groups]


def test_model_ema_follows_formula():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = vm.ModelEMA(model, decay=0.9, warmup=False)
    w0 = _np(model[0].weight).copy()
    with vl.no_grad():
        model[0].weight.add_(1.0)
    model.train()
    model(vl.randn(4, 3))  # moves the BN running stats and counter
    ema.update(model)
    np.testing.assert_allclose(_np(ema.module[0].weight), 0.9 * w0 + 0.1 * (w0 + 1.0), rtol=1e-6)
    assert int(ema.module[1].num_batches_tracked.item()) == 1
    assert not ema.module.training and not ema.module[0].weight.requires_grad
    state = ema.state_dict()
    other = vm.ModelEMA(model, decay=0.5)
    other.load_state_dict(state)
    assert other.updates == 1 and other.decay == 0.9
    assert vm.ModelEMA(model, decay=0.999).current_decay() == pytest.approx(1 / 10)


# --------------------------------------------------------------------------------- feature extraction

def test_feature_extractor_matches_torchvision(tmp_path):
    torch = require("torch")
    tv_fx = require("torchvision.models.feature_extraction")
    tvm = require("torchvision.models")
    torch.manual_seed(0)
    theirs = tvm.resnet18().eval()
    torch.save(theirs.state_dict(), tmp_path / "r18.pth")
    ours = vm.resnet18().eval()
    ours.load_state_dict(vl.load(tmp_path / "r18.pth"))
    nodes = {"layer1": "c2", "layer4": "c5", "x": "input", "layer2.0.relu_1": "mid"}
    ref = tv_fx.create_feature_extractor(theirs, return_nodes=nodes)
    fx = vm.create_feature_extractor(ours, return_nodes=nodes)
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = fx(vl.tensor(x))
    assert list(got) == list(expected) == ["input", "c2", "mid", "c5"]  # execution order, as TorchVision
    for key in got:
        np.testing.assert_allclose(_np(got[key]), expected[key].numpy(), rtol=1e-4, atol=1e-4)
    assert list(fx.state_dict()) == list(ref.state_dict())  # only the layers up to layer4

    train_nodes, eval_nodes = vm.get_graph_node_names(ours)
    assert (train_nodes, eval_nodes) == tuple(tv_fx.get_graph_node_names(theirs))  # function nodes too


def test_feature_extractor_errors():
    model = vm.resnet18()
    with pytest.raises(ValueError, match="layer5.*not present"):
        vm.create_feature_extractor(model, ["layer5"])
    with pytest.raises(ValueError, match="layer1.0.relu_7.*not present"):
        vm.create_feature_extractor(model.eval(), ["layer1.0.relu_7"])


# ---------------------------------------------------------------------------------- finetune script

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


def make_image_folder(root, per_class=10, size=24):
    """Three easily told apart classes: a dark disc on red, a bright square on green, stripes on blue."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for k, label in enumerate(("disc", "square", "stripes")):
        os.makedirs(root / label)
        for i in range(per_class):
            img = rng.uniform(60, 120, size=(size, size, 3))
            img[..., k] += 100
            c, r = rng.integers(8, size - 8, size=2), rng.integers(4, 7)
            if label == "square":
                img[c[0] - r:c[0] + r, c[1] - r:c[1] + r] = 250
            elif label == "disc":
                img[(yy - c[0]) ** 2 + (xx - c[1]) ** 2 < r * r] = 5
            else:
                img[(yy // 3) % 2 == 0] *= 0.3
            Image.fromarray(img.astype(np.uint8)).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "shapes", per_class=20)


def _common(data):
    return [str(data), "--model", "resnet18", "--weights", "none", "--img-size", "32", "--batch-size", "8",
            "--opt", "adamw", "--accum-steps", "2", "--ema-decay", "0.9", "--val-split", "0.3",
            "--no-progress"]


def test_finetune_script_learns_with_frozen_backbone(shapes, tmp_path):
    finetune = _load_script("finetune")
    out = tmp_path / "run"
    best = finetune.main(_common(shapes) + ["--lr", "0.01", "--freeze-backbone", "--epochs", "4",
                                            "--out", str(out)])
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert float(rows[-1]["val_acc"]) >= 0.8 and best >= 0.8  # chance is 1/3 on 18 validation images
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    with Image.open(out / "metrics.png") as png:
        assert png.size == (1000, 420)
    saved = vl.load(out / "best.safetensors")
    assert saved["classes"] == ["disc", "square", "stripes"]
    model = vm.resnet18(num_classes=3)
    model.load_state_dict(saved["model"], strict=True)
    # Only the head was trained: the backbone, BatchNorm statistics included, is the initial one.
    last = vl.load(out / "last.safetensors")["model"]
    assert float(last["bn1.running_var"].sum().item()) == 64.0
    _check_classify_with_checkpoint(out / "best.safetensors", shapes, model, saved)


def _check_classify_with_checkpoint(best, data, model, saved):
    """``visionlite classify --checkpoint`` uses the run's model, classes and validation preprocessing."""
    from visionlite.cli import main as cli_main
    from visionlite.transforms.presets import ImageClassification

    assert saved["transform"] == {"crop_size": 32, "resize_size": 37, "mean": [0.485, 0.456, 0.406],
                                  "std": [0.229, 0.224, 0.225], "interpolation": "bilinear"}
    rebuilt, classes, preprocess = vm.load_finetuned(best)
    assert classes == ["disc", "square", "stripes"] and not rebuilt.training
    preset = ImageClassification(crop_size=32, resize_size=37)
    model.eval()
    images = [data / label / f"{i}.png" for label in classes for i in (0, 7)]
    right = 0
    for path in images:
        with Image.open(path) as img:
            x = preset(img.convert("RGB"))
            np.testing.assert_array_equal(_np(preprocess(img.convert("RGB"))), _np(x))
        with vl.no_grad():
            probs = model(x.unsqueeze(0)).softmax(-1)[0]
        again = rebuilt(x.unsqueeze(0)).softmax(-1)[0]
        np.testing.assert_allclose(_np(again), _np(probs), rtol=1e-5, atol=1e-6)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli_main(["classify", str(path), "--checkpoint", str(best), "--topk", "2"]) == 0
        first = out.getvalue().splitlines()[1].split(". ", 1)[1].rsplit(None, 1)
        top = int(np.argmax(_np(probs)))
        assert first[0].strip() == classes[top]
        assert float(first[1].rstrip("%")) == pytest.approx(100 * float(_np(probs)[top]), abs=0.01)
        right += classes[top] == path.parent.name
    assert right >= 5  # the run's validation accuracy was >= 0.8
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli_main(["classify", str(images[0]), "--checkpoint", str(best), "--model", "vgg11"]) == 2
    assert "holds a resnet18, not a vgg11" in err.getvalue()
    with contextlib.redirect_stderr(err):
        assert cli_main(["classify", str(images[0]), "--checkpoint", str(best.parent / "metrics.csv")]) == 2
    assert "metrics.csv" in err.getvalue()


def test_finetune_script_resume_continues_exactly(shapes, tmp_path):
    finetune = _load_script("finetune")
    common = _common(shapes) + ["--lr", "0.003", "--backbone-lr-mult", "0.5", "--epochs", "2"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    finetune.main(common + ["--out", str(straight)])
    finetune.main(common + ["--out", str(resumed), "--stop-after", "1"])
    with pytest.raises(SystemExit, match="--epochs 2"):  # another schedule would not continue this one
        finetune.main(common[:-1] + ["3", "--out", str(resumed), "--resume"])
    finetune.main(common + ["--out", str(resumed), "--resume"])

    with open(resumed / "metrics.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]
    a, b = vl.load(straight / "last.safetensors"), vl.load(resumed / "last.safetensors")
    assert a["epoch"] == b["epoch"] == 2
    for part in ("model", "ema"):
        sa = a[part] if part == "model" else a[part]["module"]
        sb = b[part] if part == "model" else b[part]["module"]
        for key in sa:
            np.testing.assert_allclose(_np(sb[key]), _np(sa[key]), rtol=1e-5, atol=1e-6, err_msg=key)
    assert a["scheduler"] == b["scheduler"]


def test_lr_schedule_warmup_then_cosine():
    finetune = _load_script("finetune")
    factors = [finetune.lr_factor(s, 4, 20) for s in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and factors[12] == pytest.approx(0.5) and factors[-1] < 0.05
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert math.isclose(finetune.lr_factor(20, 4, 20), 0.0, abs_tol=1e-12)


# -------------------------------------------------------------------------------------------- demo

@pytest.fixture
def weights_home(monkeypatch, tmp_path):
    from visionlite import hub

    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)
    return tmp_path / "home" / "checkpoints"


def test_demo_weights_lookup_never_uses_the_network(weights_home, local_http_server, monkeypatch):
    demo = _load_script("demo")
    weights = vm.ResNet18_Weights.DEFAULT
    monkeypatch.setattr(weights.value, "url", local_http_server.url("resnet18-f37072fd.pth"))
    assert demo.cached_weights(weights, allow_download=False) is None
    assert local_http_server.total_gets() == 0
    assert "VISIONLITE_OFFLINE" not in os.environ  # restored


@pytest.mark.slow
def test_demo_fine_tunes_from_cached_weights(weights_home, monkeypatch, tmp_path, capsys):
    torch = require("torch")
    tvm = require("torchvision.models")
    import hashlib

    torch.manual_seed(0)
    path = tmp_path / "r18.pth"
    torch.save(tvm.resnet18().state_dict(), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    name = f"resnet18-{sha[:8]}.pth"
    weights_home.mkdir(parents=True)
    (weights_home / name).write_bytes(path.read_bytes())
    value = vm.ResNet18_Weights.DEFAULT.value
    monkeypatch.setattr(value, "url", f"http://127.0.0.1:9/{name}")  # nothing listens there
    monkeypatch.setattr(value, "sha256", sha)
    demo = _load_script("demo")
    acc = demo.main(["--epochs", "2"])
    out = capsys.readouterr().out
    assert "found in the cache" in out and "ImageNet-pretrained ResNet-18 reaches" in out
    assert acc > 0.8


def test_finetune_crash_after_checkpoint_keeps_metrics_and_foreign_resume_is_clear(tmp_path):
    finetune = _load_script("finetune")
    data = make_image_folder(tmp_path / "tiny", per_class=3, size=20)
    common = [str(data), "--model", "resnet18", "--weights", "none", "--img-size", "16", "--batch-size", "4",
              "--ema-decay", "0", "--val-split", "0.34", "--no-progress", "--epochs", "3", "--lr", "0.001"]
    out = tmp_path / "run"
    real_save = finetune.save_checkpoint

    def save_then_die(path, *args, **kwargs):
        real_save(path, *args, **kwargs)
        if args[4] == 2:  # epoch 2's checkpoint is on disk: the process dies before anything else
            raise KeyboardInterrupt("killed")

    finetune.save_checkpoint = save_then_die
    with pytest.raises(KeyboardInterrupt):
        finetune.main(common + ["--out", str(out)])
    finetune.save_checkpoint = real_save
    with open(out / "metrics.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]

    os.remove(out / "metrics.csv")  # a lost CSV is rebuilt from the checkpoint's copy of the rows
    finetune.main(common + ["--out", str(out), "--resume"])
    with open(out / "metrics.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2", "3"]

    with pytest.raises(SystemExit, match="best-weights file .*lacks"):
        finetune.main(common + ["--out", str(out), "--resume", str(out / "best.safetensors")])
    other = tmp_path / "weights.safetensors"
    vl.save(vm.resnet18(num_classes=3).state_dict(), other)
    with pytest.raises(SystemExit, match="not a finetune.py checkpoint: it lacks model, optimizer"):
        finetune.main(common + ["--out", str(out), "--resume", str(other)])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="cannot read"):
        finetune.main(common + ["--out", str(out), "--resume", str(junk)])
