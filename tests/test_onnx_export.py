"""visionlite.onnx.export: onnx.checker passes and ONNX Runtime (the reference) computes what visionlite
computes, at a batch size other than the exported one (dynamic batch), for small members of every
model family in the default suite and for the whole classification/segmentation zoo under ``slow``."""

import subprocess
import sys

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as M
from visionlite import nn
from visionlite.core.autograd import function as _function

onnx = require("onnx")
ort = require("onnxruntime")

from visionlite.onnx import ExportError, export  # noqa: E402

RTOL = 1e-4


def _randomize(model, seed=0):
    """Random weights everywhere a builder leaves zeros (ViT's head, layer scales) and random BatchNorm
    statistics, so that every weight (and BN folding) shows in the outputs."""
    vl.manual_seed(seed)
    with vl.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(vl.randn(*p.shape) * 0.05)
        for m in model.modules():
            if getattr(m, "running_var", None) is not None:
                m.running_var.copy_(vl.rand(*m.running_var.shape) + 0.5)
                m.running_mean.copy_(vl.randn(*m.running_mean.shape) * 0.1)
    return model.eval()


def _outputs(out):
    if isinstance(out, dict):
        return [o.numpy() for o in out.values()]
    if isinstance(out, (tuple, list)):
        return [o.numpy() for o in out]
    return [out.numpy()]


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _assert_close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(got - want).max()) / scale
    assert err <= RTOL, f"{what}: max relative error {err:.2e} > {RTOL}"


def check_model(model, size, batch=2, other_batch=3, opset=None, path=None, **kwargs):
    """Export at ``batch`` with a dynamic batch axis; ORT at ``other_batch`` must equal visionlite.
    With ``path`` the graph goes through a file (over 2 GiB of weights: external data beside it)."""
    model = _randomize(model)
    x = vl.randn(batch, 3, *size) if isinstance(size, tuple) else vl.randn(batch, 3, size, size)
    proto = export(model, x, path, input_names=["input"], dynamic_axes={"input": {0: "batch"}},
                   opset_version=opset, **kwargs)
    if path is None:
        onnx.checker.check_model(proto, full_check=True)
        sess = _session(proto)
    else:
        proto = None  # the weights stay in the file only
        onnx.checker.check_model(str(path), full_check=True)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x2 = vl.randn(other_batch, *x.shape[1:])
    with vl.no_grad():
        want = _outputs(model(x2))
    got = sess.run(None, {"input": x2.numpy()})
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_close(g, w, f"output {i}")
    return proto


# ---------------------------------------------------------------------------------- small model families
def _tiny_vit():
    from visionlite.models.vision_transformer import VisionTransformer

    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                             mlp_dim=64, num_classes=10)


def _tiny_swin(v2=False):
    from visionlite.models import swin_transformer as S

    parts = {"block": S.SwinTransformerBlockV2, "downsample_layer": S.PatchMergingV2} if v2 else {}
    return S.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                             window_size=[4, 4], num_classes=10, **parts)


def _tiny_convnext():
    from visionlite.models.convnext import CNBlockConfig, ConvNeXt

    return ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10)


def _tiny_maxvit():
    from visionlite.models.maxvit import MaxVit

    return MaxVit(input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[8, 16],
                  block_layers=[1, 1], head_dim=4, stochastic_depth_prob=0.0, num_classes=10)


SMALL = {
    "resnet18": (lambda: M.resnet18(num_classes=10), 32),
    "mobilenet_v3_small": (lambda: M.mobilenet_v3_small(num_classes=10), 32),
    "efficientnet_b0": (lambda: M.efficientnet_b0(num_classes=10), 32),
    "squeezenet1_1": (lambda: M.squeezenet1_1(num_classes=10), 48),
    "shufflenet_v2_x0_5": (lambda: M.shufflenet_v2_x0_5(num_classes=10), 32),
    "vit": (_tiny_vit, 32),
    "swin": (_tiny_swin, 32),
    "swin_v2": (lambda: _tiny_swin(v2=True), 32),
    "convnext": (_tiny_convnext, 32),
    "maxvit": (_tiny_maxvit, 32),
    "lraspp_mobilenet_v3_large": (lambda: M.segmentation.lraspp_mobilenet_v3_large(
        weights_backbone=None, num_classes=3), 48),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_families_match_onnxruntime_at_another_batch(name):
    build, size = SMALL[name]
    check_model(build(), size)


def test_vit_dynamic_batch_runs_at_many_batch_sizes():
    # torch.onnx.export's ViT with a dynamic batch fails in ORT at another batch; every size here runs.
    model = _randomize(_tiny_vit())
    proto = export(model, vl.randn(2, 3, 32, 32), None, dynamic_axes={"input": {0: "batch"}})
    sess = _session(proto)
    for b in (1, 4, 7):
        x = vl.randn(b, 3, 32, 32)
        with vl.no_grad():
            want = model(x).numpy()
        _assert_close(sess.run(None, {"input": x.numpy()})[0], want, f"batch {b}")


@pytest.mark.parametrize("opset", [13, 18])
def test_other_opsets(opset):
    proto = check_model(_tiny_swin(v2=True), 32, opset=opset)
    assert proto.opset_import[0].version == opset


def test_static_batch_and_names():
    model = _randomize(M.resnet18(num_classes=10))
    x = vl.randn(2, 3, 32, 32)
    proto = export(model, x, None, input_names=["images"], output_names=["logits"])
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 32, 32]
    with vl.no_grad():
        want = model(x).numpy()
    _assert_close(_session(proto).run(None, {"images": x.numpy()})[0], want, "static")
    # Weights are initializers under their state-dict names; BatchNorm is folded into the convolutions.
    names = {i.name for i in proto.graph.initializer}
    assert {"conv1.weight", "fc.bias"} <= names
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}
    # keep_initializers_as_inputs: the weights are also graph inputs (overridable), as in torch.
    proto = export(model, x, None, input_names=["images"], keep_initializers_as_inputs=True)
    onnx.checker.check_model(proto)
    assert {"images", "conv1.weight", "fc.bias"} <= {i.name for i in proto.graph.input}
    _assert_close(_session(proto).run(None, {"images": x.numpy()})[0], want, "initializers as inputs")


def test_no_constant_folding_keeps_batchnorm():
    proto = check_model(M.resnet18(num_classes=10), 32, do_constant_folding=False)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 20


def test_shared_convolution_keeps_its_weights_beside_the_folded_ones():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.bn = nn.BatchNorm2d(3)

        def forward(self, x):  # the same convolution once before a BatchNorm, once without
            return self.bn(self.conv(x)) + self.conv(x.flip(-1))

    proto = check_model(Shared(), 8)
    names = {i.name for i in proto.graph.initializer}
    assert {"conv.weight", "conv.weight.bn_folded"} <= names


def test_writes_file_and_file_object(tmp_path):
    model = _randomize(M.squeezenet1_1(num_classes=4))
    x = vl.randn(1, 3, 48, 48)
    path = tmp_path / "m.onnx"
    export(model, x, str(path))
    onnx.checker.check_model(str(path))
    with open(tmp_path / "f.onnx", "wb") as fh:
        export(model, x, fh)
    assert (tmp_path / "f.onnx").read_bytes() == path.read_bytes()
    assert model.training is False


def test_other_threads_ops_are_not_recorded():
    import threading

    model = _randomize(M.resnet18(num_classes=3))
    stop = threading.Event()

    def busy():  # ops in another thread while the export traces
        while not stop.is_set():
            (vl.randn(4, 4) @ vl.randn(4, 4)).relu()

    t = threading.Thread(target=busy)
    t.start()
    try:
        check_model(model, 32)
    finally:
        stop.set()
        t.join()


def test_restores_training_mode_and_tracer():
    model = M.resnet18(num_classes=3)
    model.train()
    export(model, vl.randn(2, 3, 32, 32), None)
    assert model.training is True
    assert not _function.is_op_tracing()


# ------------------------------------------------------------------------------------------ single ops
class Ops(nn.Module):
    """Primitives the zoo needs less often: pooling edge cases, resampling modes, movement ops."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=(1, 2), dilation=(1, 2), groups=1)
        self.deconv = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        F = nn.functional
        y = self.conv(x)
        y = self.deconv(y)
        y = self.bn(y) + x[:, :, :16, :16].flip(-1)  # BN after a deconvolution: a BatchNormalization node
        a = F.max_pool2d(y, 3, 2, padding=1, ceil_mode=True)
        b = F.avg_pool2d(y, 3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        c = F.adaptive_avg_pool2d(y, (5, 3))
        d = F.interpolate(a, size=(7, 9), mode="bilinear", align_corners=False)
        e = F.interpolate(b, scale_factor=2, mode="nearest")
        f = F.interpolate(c, size=(6, 6), mode="bicubic", align_corners=True)
        g = vl.roll(d, shifts=(2, -1), dims=(2, 3)) + F.pad(d, (0, 0, 0, 0), value=0.0)
        h = F.leaky_relu(g, 0.2) + F.elu(g) + F.softplus(g, beta=2.0) + F.gelu(g, approximate="tanh")
        h = h + F.hardtanh(g, -0.5, 0.5) + g.clamp(min=-0.1) + F.silu(g) + g.exp().log1p() - g.abs().sqrt()
        flat = vl.cat([h.flatten(1), e.flatten(1), f.flatten(1)], 1)
        s = flat.softmax(-1) + flat.log_softmax(-1) * 0.01 + flat.amax(1, keepdim=True)
        z = s[:, ::-2].unsqueeze(1).expand(-1, 2, -1).reshape(s.shape[0], -1)
        return z.norm(dim=1, keepdim=True) * z.mean(1, keepdim=True) + z[:, None, 3:7].sum(-1), z.tanh()


def test_single_ops():
    check_model(Ops(), 16)


def test_two_inputs_and_dict_output():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)

        def forward(self, a, b):
            return {"sum": self.fc(a) + b, "prod": self.fc(a) * b.sigmoid()}

    model = Two()
    a, b = vl.randn(2, 6), vl.randn(2, 4)
    proto = export(model, (a, b), None, input_names=["a", "b"],
                   dynamic_axes={"a": {0: "n"}, "b": {0: "n"}, "sum": {0: "n"}})
    onnx.checker.check_model(proto)
    assert [o.name for o in proto.graph.output] == ["sum", "prod"]
    a3, b3 = vl.randn(5, 6), vl.randn(5, 4)
    got = _session(proto).run(None, {"a": a3.numpy(), "b": b3.numpy()})
    with vl.no_grad():
        want = model(a3, b3)
    _assert_close(got[0], want["sum"].numpy(), "sum")
    _assert_close(got[1], want["prod"].numpy(), "prod")


def test_constants_sized_by_the_batch():
    class Fill(nn.Module):
        def forward(self, x):  # zeros/full sized by the batch, made outside the input's ops
            n = x.shape[0]
            z = vl.zeros(n, 1, 4) + vl.full((n, 2, 1), 0.5)
            return vl.cat([x.unsqueeze(1) * z, vl.ones(n, 3, 4)], 1)

    model, x2 = Fill(), vl.randn(5, 4)
    proto = export(model, vl.randn(2, 4), None, dynamic_axes={"input": [0]})
    onnx.checker.check_model(proto, full_check=True)
    assert "ConstantOfShape" in {n.op_type for n in proto.graph.node}
    with vl.no_grad():
        want = model(x2).numpy()
    _assert_close(_session(proto).run(None, {"input": x2.numpy()})[0], want, "batch 5")


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("dynamic", [True, False])
def test_data_dependent_constant_is_an_error(dynamic):
    class Peek(nn.Module):
        def forward(self, x):
            return x * float(x.sum().item())  # a Python number read from the data: not in the graph

    # Also with a fixed batch of 1: the second trace runs on other values, so nothing is baked in silently.
    x = vl.randn(2, 3) if dynamic else vl.randn(1, 3)
    with pytest.raises(ExportError, match="changes with the input"):
        export(Peek(), x, None, dynamic_axes={"input": [0]} if dynamic else None)


def test_index_array_from_the_input_is_an_error():
    class Lookup(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)

        def forward(self, x):  # the embedding's indices come from the data
            return self.emb((x.abs() * 3).long().clamp(0, 9)).sum(1) * x

    with pytest.raises(ExportError, match="Embedding's indices"):
        export(Lookup(), vl.randn(2, 4), None)


def test_control_flow_that_changes_between_traces_is_an_error():
    class Branch(nn.Module):
        calls = 0

        def forward(self, x):  # stands for a branch on the input's values: each trace takes another path
            self.calls += 1
            return x.exp() if self.calls == 1 else x.tanh().sigmoid()

    with pytest.raises(ExportError, match="control flow depends on the input"):
        export(Branch(), vl.randn(1, 2), None)


def test_argument_errors():
    model = M.resnet18(num_classes=2)
    x = vl.randn(1, 3, 32, 32)
    with pytest.raises(NotImplementedError, match="batch axis"):
        export(model, x, None, dynamic_axes={"input": {2: "h"}})
    with pytest.raises(ValueError, match="neither an input nor an output"):
        export(model, x, None, dynamic_axes={"images": [0]})
    with pytest.raises(ValueError, match="opset_version"):
        export(model, x, None, opset_version=9)
    with pytest.raises(TypeError, match="Tensors"):
        export(model, np.zeros((1, 3, 32, 32), np.float32), None)
    with pytest.raises(TypeError, match="dynamic_axis"):
        export(model, x, None, dynamic_axis={"input": [0]})  # a typo is not silently ignored
    with pytest.raises(NotImplementedError, match="eval-mode"):
        export(model, x, None, training="TRAINING")
    export(model, x, None, dynamo=False, optimize=True)  # torch's exporter choices: accepted, no effect
    assert not _function.is_op_tracing()


def test_missing_onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "visionlite\[onnx\]"'):
        export(M.resnet18(num_classes=2), vl.randn(1, 3, 32, 32), None)


def test_import_visionlite_does_not_import_onnx():
    code = ("import sys, visionlite as vl; m = vl.onnx; assert callable(m.export); "
            "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules, 'onnx imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


# ---------------------------------------------------------------------------------------------------- CLI
def test_cli_export(tmp_path, capsys):
    from visionlite import cli

    out = tmp_path / "r18.onnx"
    code = cli.main(["--no-progress", "export", "resnet18", str(out), "--no-weights", "--dynamic-batch",
                     "--input-size", "32", "--opset", "18"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "opset 18" in text and "dynamic batch" in text
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    y = _session(proto).run(None, {"input": np.random.default_rng(0).random((3, 3, 32, 32), np.float32)})[0]
    assert y.shape == (3, 1000)

    code = cli.main(["--no-progress", "export", "no_such_model", str(tmp_path / "x.onnx"), "--no-weights"])
    assert code != 0 and "unknown model" in capsys.readouterr().err
    code = cli.main(["--no-progress", "export", "resnet18.IMAGENET1K_V1", str(tmp_path / "x.onnx"),
                     "--no-weights"])
    assert code != 0 and "--no-weights" in capsys.readouterr().err
    code = cli.main(["--no-progress", "export", "ssdlite320_mobilenet_v3_large", str(tmp_path / "x.onnx"),
                     "--no-weights"])
    assert code != 0 and "detection model" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


# ---------------------------------------------------------------------------------------------- the zoo
_SEGMENTATION = {"fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
                 "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}
_SIZES = {"inception_v3": 96, "googlenet": 64, "maxvit_t": 224}


def _zoo():
    """The image classification models (the registry minus its task subpackages), then segmentation."""
    others = set(_SEGMENTATION)
    for task in ("detection", "video", "optical_flow", "quantization"):
        if hasattr(M, task):  # video clips and image pairs take other inputs: not this test's
            others |= set(M.list_models(module=getattr(M, task)))
    return sorted(set(M.list_models()) - others) + sorted(_SEGMENTATION)


@pytest.mark.slow
@pytest.mark.parametrize("name", _zoo())
def test_zoo_matches_onnxruntime_at_another_batch(name, tmp_path):
    kwargs = {"weights_backbone": None} if name in _SEGMENTATION else {}
    if name in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = False  # (TorchVision's FutureWarning about the default init)
    size = _SIZES.get(name, 64)
    if name.startswith("vit_"):
        size = kwargs["image_size"] = 28 if name == "vit_h_14" else 32
    check_model(M.get_model(name, **kwargs), size, batch=2, other_batch=1, path=tmp_path / f"{name}.onnx")


# ssd300_vgg16 is left out: its extra layers need 300 px inputs (slow on a CPU).
_DETECTION = [n for n in M.list_models(module=M.detection) if not n.startswith("ssd300")]


@pytest.mark.slow
@pytest.mark.parametrize("name", _DETECTION)
def test_detection_backbones_export(name):
    # A detector's backbone (with its FPN) exports; the detector's box selection (NMS) does not (yet).
    model = M.get_model(name, weights=None, weights_backbone=None)
    check_model(model.backbone, 64, batch=2, other_batch=1)


@pytest.mark.slow
def test_whole_detector_is_a_clear_error():
    model = M.get_model("ssdlite320_mobilenet_v3_large", weights=None, weights_backbone=None).eval()
    with pytest.raises(ExportError):
        export(model, vl.rand(1, 3, 320, 320), None)
