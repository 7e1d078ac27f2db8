"""Feature extraction by graph node (models.feature_extraction on visionlite.fx) against TorchVision's
torch.fx-based feature_extraction: the same node names (function nodes included) in train and eval mode,
and the same tensors from extractors built on the same weights."""
import importlib
import io
import threading
import warnings

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.refs import require
from visionlite import fx, nn
from visionlite import models as vm
from visionlite.models.feature_extraction import create_feature_extractor, get_graph_node_names

torch = require("torch")
tvm = require("torchvision.models")
tv_fx = require("torchvision.models.feature_extraction")

VIT_SMALL = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)
SWIN_SMALL = dict(patch_size=[4, 4], embed_dim=8, depths=[2, 1], num_heads=[1, 2], window_size=[2, 2])


def _np(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _builders(name):
    if name == "vit_small":
        return (lambda: tvm.VisionTransformer(**VIT_SMALL)), (lambda: vm.VisionTransformer(**VIT_SMALL))
    if name in ("swin_small", "swin_v2_small"):
        tv_swin = require("torchvision.models.swin_transformer")
        vl_swin = importlib.import_module("visionlite.models.swin_transformer")
        if name == "swin_small":
            return (lambda: tv_swin.SwinTransformer(**SWIN_SMALL)), \
                (lambda: vl_swin.SwinTransformer(**SWIN_SMALL))

        def v2(lib):
            return lambda: lib.SwinTransformer(**SWIN_SMALL, block=lib.SwinTransformerBlockV2,
                                               downsample_layer=lib.PatchMergingV2)

        return v2(tv_swin), v2(vl_swin)
    return getattr(tvm, name), getattr(vm, name)


def _twins(name):
    """TorchVision's and visionlite's model with the same (perturbed) weights and norm statistics."""
    tv_build, vl_build = _builders(name)
    torch.manual_seed(0)
    theirs = tv_build()
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        for p in theirs.parameters():
            if p.dim() >= 2 and not p.abs().sum():
                p.normal_(std=0.05)  # zero-initialized heads and embeddings
    buffer = io.BytesIO()
    torch.save(theirs.state_dict(), buffer)
    buffer.seek(0)
    ours = vl_build()
    ours.load_state_dict(vl.load(buffer))
    return theirs, ours


def _input(name, batch=2):
    size = 32 if name in ("vit_small", "swin_small", "swin_v2_small") else 64
    return np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)


def _compare(got, expected, rtol=1e-4, atol=1e-4):
    """Same keys in the same order, same values (atol grows to 1e-5 of the tensor's largest value: deep
    float32 networks with perturbed norms reach activations in the thousands)."""
    assert list(got) == list(expected)
    for key in expected:
        e = expected[key]
        if isinstance(e, torch.Tensor):
            e = e.detach().numpy()
            tol = max(atol, 1e-5 * float(np.abs(e).max())) if e.size else atol
            np.testing.assert_allclose(_np(got[key]), e, rtol=rtol, atol=tol, err_msg=key)
        else:
            assert got[key] == e, key


# ------------------------------------------------------------------------------------------ node names

@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
                                  "efficientnet_v2_s", "vit_small", "regnet_y_400mf", "swin_small",
                                  "swin_v2_small", "shufflenet_v2_x0_5"])
def test_graph_node_names_match_torchvision(name):
    tv_build, vl_build = _builders(name)
    expected = tv_fx.get_graph_node_names(tv_build())
    ours = vl_build()
    got = get_graph_node_names(ours)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert ours.training  # the mode is restored


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v3_large", "efficientnet_b3", "vit_b_16",
                                  "resnext50_32x4d", "wide_resnet50_2", "regnet_x_400mf", "convnext_tiny"])
def test_graph_node_names_match_torchvision_more(name):
    tv_build, vl_build = _builders(name)
    assert get_graph_node_names(vl_build()) == tv_fx.get_graph_node_names(tv_build())


def test_graph_node_names_function_nodes():
    train, evaluation = get_graph_node_names(vm.resnet18())
    assert train == evaluation
    assert train[:2] == ["x", "conv1"] and train[-3:] == ["avgpool", "flatten", "fc"]
    assert "layer1.0.add" in train and "layer1.0.relu_1" in train and "layer4.1.add" in train
    vit = get_graph_node_names(vm.VisionTransformer(**VIT_SMALL))[1]
    for node in ("getattr", "getitem_3", "eq", "_assert", "floordiv", "class_token", "cat",
                 "encoder.encoder_pos_embedding", "encoder.layers.encoder_layer_0.add", "getitem_5"):
        assert node in vit, node


# --------------------------------------------------------------------------------- extracted features

CASES = {
    "resnet18": {"x": "input", "conv1": "stem", "layer1.0.add": "sum1", "layer1": "c2",
                 "layer2.0.relu_1": "mid", "layer4": "c5", "flatten": "flat"},
    "mobilenet_v2": {"features.0": "stem", "features.3.add": "res", "features.10": "f10", "flatten": "flat"},
    "mobilenet_v3_small": {"features.1.block.1": "se", "features.5.add": "res", "features.12": "last",
                           "avgpool": "pool"},
    "efficientnet_b0": {"features.2.1.stochastic_depth": "sd", "features.2.1.add": "res",
                        "features.4": "c4", "classifier.1": "logits"},
    "vit_small": {"getitem_3": "w", "floordiv": "n_h", "conv_proj": "patches", "permute": "tokens",
                  "cat": "with_cls", "encoder.layers.encoder_layer_0.getitem": "attn",
                  "encoder.layers.encoder_layer_1": "block1", "encoder.ln": "norm", "getitem_5": "cls"},
    "swin_small": {"features.1.0.attn._get_relative_position_bias": "bias",
                   "features.1.1.attn.shifted_window_attention": "shifted", "features.2": "merged",
                   "features.3.0.add_1": "block", "flatten": "flat"},
    "swin_v2_small": {"features.1.0.attn.mul": "bias", "features.1.1.add": "res", "features.3": "last",
                      "head": "logits"},
}
TRAIN_CASES = {  # deterministic in train mode (before any dropout or stochastic depth)
    "resnet18": ["layer1.0.add", "layer3", "fc"],
    "mobilenet_v3_small": ["features.3.add", "features.12"],
    "efficientnet_b0": ["features.1", "features.2.1.block.3"],
    "vit_small": ["conv_proj", "encoder.layers.encoder_layer_0.ln"],
}


@pytest.mark.parametrize("name", list(CASES))
def test_features_match_torchvision(name):
    theirs, ours = _twins(name)
    x = _input(name)
    ref = tv_fx.create_feature_extractor(theirs.eval(), return_nodes=CASES[name])
    ext = create_feature_extractor(ours.eval(), return_nodes=CASES[name])
    assert not ext.training
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    _compare(got, expected)
    assert list(ext.state_dict()) == list(ref.state_dict())  # only what the requested nodes need
    if name in TRAIN_CASES:
        nodes = TRAIN_CASES[name]
        ref = tv_fx.create_feature_extractor(theirs.train(), return_nodes=nodes)
        ext = create_feature_extractor(ours.train(), return_nodes=nodes)
        assert ext.training
        with torch.no_grad():
            expected = ref(torch.from_numpy(x))
        with vl.no_grad():
            got = ext(vl.tensor(x))
        _compare(got, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name,nodes", [
    ("efficientnet_v2_s", ["features.1.0.add", "features.2.0.block.1", "features.6.3.add", "flatten"]),
    ("vit_b_16", ["getitem_4", "encoder.layers.encoder_layer_5.add_1", "encoder.ln", "heads.head"]),
    ("mobilenet_v3_large", ["features.4.block.2", "features.15.add", "classifier.0"]),
    ("resnet50", ["layer1.2.add", "layer3.5.relu_2", "layer4", "fc"]),
])
def test_features_match_torchvision_large(name, nodes):
    theirs, ours = _twins(name)
    size = 224 if name == "vit_b_16" else 96
    x = np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)
    ref = tv_fx.create_feature_extractor(theirs.eval(), return_nodes=nodes)
    ext = create_feature_extractor(ours.eval(), return_nodes=nodes)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    _compare(got, expected, rtol=1e-3)


def test_train_and_eval_graphs_and_gradients():
    theirs, ours = _twins("resnet18")
    theirs.double(), ours.double()  # float64, so gradients compare tightly
    x = _input("resnet18").astype(np.float64)
    kwargs = dict(train_return_nodes={"layer2.1.add": "a", "layer3": "b"}, eval_return_nodes=["fc"])
    ref = tv_fx.create_feature_extractor(theirs, **kwargs)
    ext = create_feature_extractor(ours, **kwargs)
    assert ext.training and ext.graph is ext.train_graph
    got = ext(vl.tensor(x))
    expected = ref(torch.from_numpy(x))
    _compare(got, expected)
    # gradients flow through the extracted graph to the shared parameters, as in TorchVision
    (got["a"].sum() + got["b"].square().mean()).backward()
    (expected["a"].sum() + expected["b"].square().mean()).backward()
    for key in ("conv1.weight", "layer2.1.bn2.weight", "layer3.0.conv1.weight"):
        ours_grad = ours.get_parameter(key).grad
        np.testing.assert_allclose(_np(ours_grad), theirs.get_parameter(key).grad.numpy(), rtol=1e-7,
                                   atol=1e-9, err_msg=key)
    ext.eval()
    assert ext.graph is ext.eval_graph
    with vl.no_grad():
        got = ext(vl.tensor(x))
    with torch.no_grad():
        expected = ref.eval()(torch.from_numpy(x))
    _compare(got, expected)
    assert list(ext.state_dict()) == list(ref.state_dict())
    assert repr(ext).startswith("ResNet(")


def test_extractor_runs_only_what_it_needs():
    model = vm.resnet18().eval()
    calls = []
    model.layer4.register_forward_hook(lambda *a: calls.append("layer4"))
    model.fc.register_forward_hook(lambda *a: calls.append("fc"))
    ext = create_feature_extractor(model, ["layer3", "layer2"])
    calls.clear()  # tracing ran the hooks once per mode (on proxies), as torch.fx does
    with vl.no_grad():
        out = ext(vl.randn(1, 3, 32, 32))
    assert list(out) == ["layer2", "layer3"] and calls == []  # execution order; layer4 and fc never run
    assert not any(k.startswith(("layer4", "fc")) for k in ext.state_dict())
    assert ext.get_submodule("layer1.0.conv1") is model.layer1[0].conv1  # leaf layers shared, not copied


def test_extractor_errors():
    model = vm.resnet18()
    with pytest.raises(ValueError, match="'layer5' is not present"):
        create_feature_extractor(model, ["layer5"])
    with pytest.raises(ValueError, match="Either `return_nodes`"):
        create_feature_extractor(model)
    with pytest.raises(ValueError, match="both should be specified"):
        create_feature_extractor(model, train_return_nodes=["layer1"])
    with pytest.raises(ValueError, match="not both kinds"):
        create_feature_extractor(model, ["layer1"], train_return_nodes=["layer1"], eval_return_nodes=["fc"])
    with pytest.raises(ValueError, match="empty"):
        create_feature_extractor(model, [])
    with pytest.raises(TypeError, match="tracer_kwargs"):
        get_graph_node_names(model, tracer_kwargs={"leaf_module": []})


class _ModeDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.extra = nn.ReLU()

    def forward(self, x):
        x = self.conv(x)
        if self.training:  # a Python attribute, not a traced value: each mode gets its own graph
            x = self.extra(x) * 2
        return x.mean((2, 3))


def test_mode_dependent_graphs_and_warning():
    model = _ModeDependent()
    with pytest.warns(UserWarning, match="eval mode are a subsequence"):
        train, evaluation = get_graph_node_names(model)
    assert train == ["x", "conv", "extra", "mul", "mean"] and evaluation == ["x", "conv", "mean"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_graph_node_names(model, suppress_diff_warning=True)
    with pytest.raises(ValueError, match="'mul' is not present in model \\(eval mode\\)"):
        create_feature_extractor(model, ["mul"], suppress_diff_warning=True)
    ext = create_feature_extractor(model, train_return_nodes=["mul"], eval_return_nodes=["conv"],
                                   suppress_diff_warning=True)
    x = vl.randn(1, 3, 8, 8)
    with vl.no_grad():
        assert np.allclose(_np(ext(x)["mul"]), _np(F.relu(model.conv(x)) * 2))
        assert np.allclose(_np(ext.eval()(x)["conv"]), _np(model.conv(x)))


# ------------------------------------------------------------------------------------------ visionlite.fx

class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = nn.Parameter(vl.ones(3))
        self.register_buffer("shift", vl.full((3,), 0.5))

    def forward(self, x, flag=True):
        n, d = x.shape
        y = F.relu(self.lin(x)) * self.scale + self.shift
        z = vl.cat([y, y.flip(1)], 1).reshape(n, 2, 3)
        return {"sum": z.sum(1), "width": d + 1, "first": z[:, 0]}


def test_symbolic_trace_records_and_runs():
    model = _Toy()
    gm = fx.symbolic_trace(model)
    ops = [(n.op, n.name) for n in gm.graph.nodes]
    assert ops[:2] == [("placeholder", "x"), ("placeholder", "flag")]
    names = [n.name for n in gm.graph.nodes]
    for expected in ("getattr_1", "getitem", "getitem_1", "lin", "relu", "scale", "mul", "add", "flip", "cat",
                     "reshape", "sum_1", "add_1", "output"):
        assert expected in names, expected
    assert {n.op for n in gm.graph.nodes} == {"placeholder", "call_function", "call_module", "get_attr",
                                              "call_method", "output"}
    gm.graph.lint()
    x = vl.randn(5, 4)
    with vl.no_grad():
        got, expected = gm(x), model(x)
    assert got["width"] == expected["width"] == 5
    np.testing.assert_allclose(_np(got["sum"]), _np(expected["sum"]), rtol=1e-6)
    np.testing.assert_allclose(_np(got["first"]), _np(expected["first"]), rtol=1e-6)
    assert gm.lin is model.lin and gm.scale is model.scale
    assert "%cat : call_function[target=cat]" in gm.code


class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x, mode=None):
        if mode == "double":
            x = x * 2
        if x.sum() > 0:
            return self.lin(x)
        return x


@fx.wrap
def _clip_positive(x):
    return x if x.sum() > 0 else -x  # control flow on the value: traced as one node thanks to wrap


def _halve_if_large(x):
    return x / 2 if x.abs().max() > 10 else x


fx.wrap("_halve_if_large")  # torch.fx.wrap's by-name form: patched in this module's globals during traces


class _UsesWrapped(nn.Module):
    def forward(self, x):
        return _halve_if_large(_clip_positive(x) + 1)


def test_trace_errors_concrete_args_wrap_and_cleanup():
    original_cat, original_call, original_add = vl.cat, nn.Module.__call__, vl.Tensor.__add__
    with pytest.raises(fx.TraceError, match="control flow"):
        fx.symbolic_trace(_Branchy())
    assert vl.cat is original_cat and nn.Module.__call__ is original_call  # restored after a failure
    with pytest.raises(fx.TraceError, match="control flow"):
        fx.symbolic_trace(_Branchy(), concrete_args={"mode": "double"})
    with pytest.raises(fx.TraceError, match="not arguments"):
        fx.symbolic_trace(_Branchy(), concrete_args={"nope": 1})
    gm = fx.symbolic_trace(_UsesWrapped())
    assert [n.name for n in gm.graph.nodes] == ["x", "_clip_positive", "add", "_halve_if_large", "output"]
    x = vl.tensor([[-1.0, -2.0]])
    np.testing.assert_allclose(_np(gm(x)), [[2.0, 3.0]])
    np.testing.assert_allclose(_np(gm(x * 10)), [[5.5, 10.5]])  # (10, 20) + 1, halved
    assert _halve_if_large.__name__ == "_halve_if_large" and not hasattr(_halve_if_large, "_fx_original")
    assert F.relu.__name__ == "relu" and not hasattr(F.relu, "_fx_original")
    assert vl.Tensor.__add__ is original_add and not fx.is_tracing()


def test_concrete_args_checked_at_run_time():
    class Scaled(nn.Module):
        def forward(self, x, factor):
            return x * factor

    gm = fx.symbolic_trace(Scaled(), concrete_args={"factor": 3})
    assert [n.name for n in gm.graph.nodes] == ["x", "factor_1", "eq", "_assert", "mul", "output"]
    np.testing.assert_allclose(_np(gm(vl.ones(2), 3)), [3.0, 3.0])
    with pytest.raises(AssertionError, match="specialized to have value 3"):
        gm(vl.ones(2), 4)


def test_other_threads_compute_normally_during_a_trace():
    model = vm.resnet18().eval()
    stop, errors = threading.Event(), []
    a, b = vl.ones(2, 3), vl.zeros(2, 3)

    def work():
        while not stop.is_set():
            try:
                out = vl.cat([a, b], 0) + vl.flatten(a)[0]
                assert isinstance(out, vl.Tensor) and out.shape == (4, 3)
                with vl.no_grad():
                    model.fc(vl.zeros(1, 512))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
                return

    thread = threading.Thread(target=work)
    thread.start()
    try:
        for _ in range(5):
            get_graph_node_names(model)
    finally:
        stop.set()
        thread.join()
    assert not errors


def test_other_models_trace_maxvit():
    # MaxViT's graph is not TorchVision's node for node (its attention uses matmul, not einsum), but it
    # traces, and tensors the forward creates (the bias index) become per-graph constants.
    maxvit = importlib.import_module("visionlite.models.maxvit")
    model = maxvit.MaxVit(input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[8, 16],
                          block_layers=[1, 1], head_dim=4, stochastic_depth_prob=0.0, num_classes=5).eval()
    train, evaluation = get_graph_node_names(model)
    assert train == evaluation and "blocks.1.layers.0.layers.grid_attention.partition_swap.swapaxes" in train
    ext = create_feature_extractor(model, ["blocks.0", "classifier.5"])
    x = vl.randn(2, 3, 32, 32)
    with vl.no_grad():
        np.testing.assert_allclose(_np(ext(x)["classifier.5"]), _np(model(x)), rtol=1e-5, atol=1e-6)
        assert tuple(ext.train()(x)["blocks.0"].shape) == (2, 8, 8, 8)
    assert not any(k.startswith("_tensor_constant") for k in ext.state_dict())


def test_detection_backbones_with_fpn():
    tv_bu = require("torchvision.models.detection.backbone_utils")
    vl_bu = importlib.import_module("visionlite.models.detection.backbone_utils")
    mobile = dict(backbone_name="mobilenet_v3_small", weights=None, fpn=True)
    assert get_graph_node_names(vl_bu.mobilenet_backbone(**mobile)) == \
        tv_fx.get_graph_node_names(tv_bu.mobilenet_backbone(**mobile))
    torch.manual_seed(0)
    theirs = tv_bu.resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5).eval()
    buffer = io.BytesIO()
    torch.save(theirs.state_dict(), buffer)
    buffer.seek(0)
    ours = vl_bu.resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5).eval()
    ours.load_state_dict(vl.load(buffer))
    assert get_graph_node_names(ours) == tv_fx.get_graph_node_names(theirs)
    nodes = {"body.layer2.0.add": "c3_sum", "fpn": "pyramid"}  # a leaf FPN's output is itself a dict
    ref = tv_fx.create_feature_extractor(theirs, nodes)
    ext = create_feature_extractor(ours, nodes)
    x = _input("resnet18", batch=1)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    assert list(got) == ["c3_sum", "pyramid"] and list(got["pyramid"]) == list(expected["pyramid"])
    np.testing.assert_allclose(_np(got["c3_sum"]), expected["c3_sum"].numpy(), rtol=1e-4, atol=1e-4)
    for level in expected["pyramid"]:
        np.testing.assert_allclose(_np(got["pyramid"][level]), expected["pyramid"][level].numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=level)


@pytest.mark.parametrize("name", ["lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large"])
def test_segmentation_models(name):
    tv_seg = require("torchvision.models.segmentation")
    torch.manual_seed(0)
    theirs = getattr(tv_seg, name)(weights_backbone=None, num_classes=3).eval()
    buffer = io.BytesIO()
    torch.save(theirs.state_dict(), buffer)
    buffer.seek(0)
    ours = vm.get_model(name, weights_backbone=None, num_classes=3).eval()
    ours.load_state_dict(vl.load(buffer))
    assert get_graph_node_names(ours) == tv_fx.get_graph_node_names(theirs)
    nodes = ["getattr", "backbone.4", "interpolate"] if name.startswith("deeplab") else \
        ["classifier.mul", "classifier.interpolate", "interpolate"]
    ref = tv_fx.create_feature_extractor(theirs, nodes)
    ext = create_feature_extractor(ours, nodes)
    x = _input(name, batch=1)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    if "getattr" in expected:  # the input's Size
        assert tuple(got.pop("getattr")) == tuple(expected.pop("getattr"))
    _compare(got, expected)


def test_video_resnet_subclassed_conv3d():
    # Conv3DSimple subclasses nn.Conv3d without its own forward: traced through, as torch.nn's functional form
    tv_video = require("torchvision.models.video")
    torch.manual_seed(0)
    theirs = tv_video.r3d_18(num_classes=4).eval()
    buffer = io.BytesIO()
    torch.save(theirs.state_dict(), buffer)
    buffer.seek(0)
    ours = vm.get_model("r3d_18", num_classes=4).eval()
    ours.load_state_dict(vl.load(buffer))
    assert get_graph_node_names(ours) == tv_fx.get_graph_node_names(theirs)
    nodes = ["layer1.0.conv1.0.layer1_0_conv1_0_weight", "layer1.0.conv1.0.conv3d", "layer2.0.add", "fc"]
    ref = tv_fx.create_feature_extractor(theirs, nodes)
    ext = create_feature_extractor(ours, nodes)
    x = np.random.default_rng(0).standard_normal((1, 3, 2, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    _compare(got, expected)
    assert list(ext.state_dict()) == list(ref.state_dict())


def test_extractor_on_gpu_matches_cpu(gpu):
    theirs, ours = _twins("vit_small")
    ext = create_feature_extractor(ours.eval(), ["getitem_3", "encoder.layers.encoder_layer_0.add", "heads"])
    x = vl.tensor(_input("vit_small"))
    with vl.no_grad():
        expected = ext(x)
        ext.to(gpu)
        got = ext(x.to(gpu))
    assert got["getitem_3"] == expected["getitem_3"] == 32
    for key in ("encoder.layers.encoder_layer_0.add", "heads"):
        assert got[key].device.type == "cuda"
        np.testing.assert_allclose(_np(got[key]), _np(expected[key]), rtol=1e-4, atol=1e-5)


def test_video_swin3d():
    tv_swin3d = require("torchvision.models.video.swin_transformer")
    vl_swin3d = importlib.import_module("visionlite.models.video.swin_transformer")
    config = dict(patch_size=[2, 4, 4], embed_dim=8, depths=[2, 1], num_heads=[1, 2], window_size=[2, 2, 2],
                  num_classes=3)
    torch.manual_seed(0)
    theirs = tv_swin3d.SwinTransformer3d(**config).eval()
    buffer = io.BytesIO()
    torch.save(theirs.state_dict(), buffer)
    buffer.seek(0)
    ours = vl_swin3d.SwinTransformer3d(**config).eval()
    ours.load_state_dict(vl.load(buffer))
    assert get_graph_node_names(ours) == tv_fx.get_graph_node_names(theirs)
    nodes = ["patch_embed.pad", "features.0.1.attn.shifted_window_attention_3d", "features.2", "head"]
    ref = tv_fx.create_feature_extractor(theirs, nodes)
    ext = create_feature_extractor(ours, nodes)
    x = np.random.default_rng(0).standard_normal((1, 3, 3, 30, 30)).astype(np.float32)  # padded to patches
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    with vl.no_grad():
        got = ext(vl.tensor(x))
    _compare(got, expected)
