"""Swin Transformer (V1/V2) and MaxViT equal TorchVision's: TorchVision's random models (norms, position
biases and temperatures perturbed so nothing is an identity) go through a real ``torch.save`` file into the
visionlite builders with ``strict=True``, and give the same logits on real photos, at 224x224 and at the odd
sizes Swin pads; weights enums and presets equal TorchVision's; training runs, matches PyTorch's gradients on
a small configuration, and learns."""
import importlib
import math
import os

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.nn_check import compare_modules, copy_torch_weights
from tests.helpers.refs import require
from visionlite import models as vm

torch = require("torch")
tvm = require("torchvision.models")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
FAST = ["swin_t", "swin_v2_t", "maxvit_t"]
SLOW = ["swin_s", "swin_v2_s", "swin_b", "swin_v2_b"]
ALL = FAST + SLOW


def _photos(height, width):
    """Two real photos resized to ``height x width``, ImageNet-normalised, ``(2, 3, H, W)`` float32."""
    batch = []
    for name in ("chelsea.png", "astronaut.png"):
        img = Image.open(os.path.join(ASSETS, name)).convert("RGB").resize((width, height), Image.BILINEAR)
        batch.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (np.stack(batch) - mean) / std


def _perturb(model, seed=1):
    """Move TorchVision's init away from identities: LayerNorm/BatchNorm affine and statistics, position-bias
    tables, V2 temperatures (one head above the cap of 100, so the clamp matters) and every bias, including
    V2's key-bias slot that the forward pass must ignore."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
                m.weight.copy_(rand(m.weight.shape) + 0.5)
                m.bias.copy_(rand(m.bias.shape) * 0.4 - 0.2)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(rand(m.num_features) * 0.4 - 0.2)
                m.running_var.copy_(rand(m.num_features) + 0.5)
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.bias is not None:
                m.bias.copy_(rand(m.bias.shape) * 0.2 - 0.1)
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.copy_(rand(p.shape) * 2 - 1)
            elif name.endswith("logit_scale"):
                p.copy_(math.log(10.0) + rand(p.shape) - 0.5)
                p[0] = 5.0  # exp(5) > 100: clamped


def _load_into_ours(name, tmp_path, **kwargs):
    torch.manual_seed(0)
    theirs = tvm.get_model(name, **kwargs).eval()
    _perturb(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = vm.get_model(name, **kwargs).eval()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in theirs_sd.items():
        assert tuple(ours_sd[key].shape) == tuple(value.shape), key
        assert str(ours_sd[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _assert_same_logits(ours, theirs, x):
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = ours(vl.tensor(x)).numpy()
    assert got.shape == expected.shape
    assert expected.std() > 0.1  # the comparison means something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.fixture(scope="module")
def fast_twins(tmp_path_factory):
    """``name -> (ours, theirs)`` for the small models, built once for the tests of this module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _load_into_ours(name, tmp_path_factory.mktemp(name))
        return cache[name]

    yield get
    cache.clear()


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW])
def test_logits_on_photos_match_torchvision(name, fast_twins, tmp_path):
    ours, theirs = fast_twins(name) if name in FAST else _load_into_ours(name, tmp_path)
    _assert_same_logits(ours, theirs, _photos(224, 224))


@pytest.mark.parametrize("name,size", [("swin_t", (97, 130)), ("swin_v2_t", (150, 61))])
def test_swin_pads_other_sizes_as_torchvision(name, size, fast_twins):
    # Odd sizes: patch merging pads, windows pad, and some stages fit in one window (no shift).
    ours, theirs = fast_twins(name)
    _assert_same_logits(ours, theirs, _photos(*size))


@pytest.mark.slow  # two full models; the default suite checks every builder's logits with its defaults
def test_builder_arguments_as_torchvision(tmp_path):
    ours, theirs = _load_into_ours("maxvit_t", tmp_path, num_classes=10, squeeze_ratio=0.5, mlp_ratio=2)
    _assert_same_logits(ours, theirs, _photos(224, 224)[:1])
    ours, theirs = _load_into_ours("swin_v2_t", tmp_path, num_classes=7, mlp_ratio=2.0)
    _assert_same_logits(ours, theirs, _photos(64, 64))


def _keywords(preset):
    return {k: str(v) if k == "interpolation" else v for k, v in preset.keywords.items()}


@pytest.mark.parametrize("name", ALL)
def test_weights_enum_equals_torchvision(name):
    ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__
    assert list(ours.__members__) == list(theirs.__members__)
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for member in theirs:
        mine = ours[member.name]
        assert mine.url == member.url
        assert _keywords(mine.transforms) == _keywords(member.transforms)
        assert {k: mine.meta[k] for k in member.meta if k != "_docs"} == \
            {k: v for k, v in member.meta.items() if k != "_docs"}
    assert getattr(vm, theirs.__name__) is ours


@pytest.mark.parametrize("name", FAST)
def test_parameter_count_matches_registry(name):
    model = vm.get_model(name)
    assert sum(math.prod(p.shape) for p in model.parameters()) == \
        vm.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("enum", ["Swin_T_Weights", "Swin_V2_T_Weights", "MaxVit_T_Weights"])
def test_preset_transform_gives_torchvision_tensor(enum):
    tv_transforms = getattr(tvm, enum).DEFAULT.transforms()
    ours_transforms = getattr(vm, enum).DEFAULT.transforms()
    img = Image.open(os.path.join(ASSETS, "chelsea.png")).convert("RGB")
    expected = tv_transforms(img).numpy()
    got = ours_transforms(img).numpy()
    crop = tv_transforms.crop_size[0]
    assert got.shape == expected.shape == (3, crop, crop)
    # PIL's bicubic resize runs in uint8 on both sides: equal up to float rounding.
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # uint8 tensor input: resampled to uint8 on both sides; a few values in 10^5 land on the other side of a
    # rounding tie (one level: 1/255/std after normalising), every other value is equal.
    tensor = np.asarray(img).transpose(2, 0, 1).copy()
    expected = tv_transforms(torch.from_numpy(tensor)).numpy()
    got = ours_transforms(vl.tensor(tensor)).numpy()
    diff = np.abs(got - expected)
    assert diff.max() <= 1 / 255 / 0.224 + 1e-5
    assert np.mean(diff > 1e-5) < 1e-4


@pytest.mark.parametrize("size,window,shift,v2", [
    ((14, 14), [7, 7], [3, 3], False),  # plain shifted windows
    ((13, 17), [7, 7], [3, 3], False),  # padded on both axes
    ((7, 20), [8, 8], [4, 4], True),    # one window tall: shifted along the width only
    ((9, 9), [3, 3], [0, 0], True),     # no shift
])
def test_shifted_window_attention_function_matches_torchvision(size, window, shift, v2):
    from torchvision.models.swin_transformer import shifted_window_attention as theirs

    swin = importlib.import_module("visionlite.models.swin_transformer")
    rng = np.random.default_rng(0)
    C, heads, n = 12, 3, window[0] * window[1]
    arrays = {"input": rng.standard_normal((2, *size, C)),
              "qkv_weight": rng.standard_normal((3 * C, C)) * 0.3, "qkv_bias": rng.standard_normal(3 * C),
              "proj_weight": rng.standard_normal((C, C)) * 0.3, "proj_bias": rng.standard_normal(C),
              "relative_position_bias": rng.standard_normal((1, heads, n, n))}
    if v2:
        arrays["logit_scale"] = np.array([2.0, 3.0, 5.0]).reshape(heads, 1, 1)  # the last one is clamped
    t_args = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    v_args = {k: vl.tensor(v, requires_grad=True) for k, v in arrays.items()}
    common = {"window_size": window, "num_heads": heads, "shift_size": shift, "training": False}
    expected, got = theirs(**t_args, **common), swin.shifted_window_attention(**v_args, **common)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.standard_normal(tuple(expected.shape))
    (expected * torch.tensor(w)).sum().backward()
    (got * vl.tensor(w)).sum().backward()
    for key in arrays:
        np.testing.assert_allclose(v_args[key].grad.numpy(), t_args[key].grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=key)


# --------------------------------------------------------------------------------------------- training

def _small(family, **kwargs):
    """Small configurations of each family with every component (padding, shifts, merges, MBConv, grid
    attention), for visionlite (``vm``) and for TorchVision (``tvm``)."""
    def module(lib, name):
        return importlib.import_module(f"{lib.__name__}.{name}")

    if family == "maxvit":
        def build(lib):
            return module(lib, "maxvit").MaxVit(input_size=(32, 32), stem_channels=8, partition_size=2,
                                     block_channels=[16, 32], block_layers=[1, 2], head_dim=8, **kwargs)
    else:
        def build(lib):
            swin = module(lib, "swin_transformer")
            parts = {} if family == "swin" else {"block": swin.SwinTransformerBlockV2,
                                                 "downsample_layer": swin.PatchMergingV2}
            return swin.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                          window_size=[3, 3], **parts, **kwargs)
    return build


@pytest.mark.parametrize("family", ["swin", "swin_v2", "maxvit"])
def test_train_mode_gradients_match_pytorch(family):
    # Without random drops, train mode is deterministic: every parameter's gradient equals PyTorch's
    # (BatchNorm on batch statistics, rolls, pads and the bias-table gathers all differentiated).
    import torchvision.models as tv

    build = _small(family, stochastic_depth_prob=0.0)
    torch.manual_seed(0)
    theirs = build(tv).train()
    _perturb(theirs)
    ours = build(vm).train()
    copy_torch_weights(ours, theirs)
    size = (32, 32) if family == "maxvit" else (30, 37)
    x = np.random.default_rng(0).standard_normal((2, 3, *size)).astype(np.float32)
    compare_modules(ours, theirs, [x], atol=1e-4, rtol=1e-3, grad_atol=1e-4, grad_rtol=2e-3)


def _train_step_lowers_loss(model, x, target):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = vl.optim.SGD(params, lr=0.05)
    loss_fn = vl.nn.CrossEntropyLoss()
    vl.manual_seed(3)  # the same dropout and stochastic-depth draws before and after the step
    loss = loss_fn(model(x), target)
    opt.zero_grad()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert all(np.isfinite(p.grad.numpy()).all() for p in params)
    opt.step()
    vl.manual_seed(3)
    with vl.no_grad():
        after = loss_fn(model(x), target)
    assert float(after.item()) < float(loss.item())


@pytest.mark.parametrize("name", ["swin_t", "swin_v2_t"])
def test_swin_trains_with_dropout_and_stochastic_depth(name):
    vl.manual_seed(0)
    model = vm.get_model(name, num_classes=5, dropout=0.1, attention_dropout=0.1).train()
    x = vl.tensor(_photos(64, 64))
    _train_step_lowers_loss(model, x, vl.tensor([1, 3]))


def test_maxvit_small_trains_with_dropout_and_stochastic_depth():
    vl.manual_seed(0)
    model = _small("maxvit", stochastic_depth_prob=0.3, mlp_dropout=0.1, attention_dropout=0.1,
                   num_classes=5)(vm).train()
    _train_step_lowers_loss(model, vl.tensor(_photos(32, 32)), vl.tensor([1, 3]))


@pytest.mark.slow
def test_maxvit_t_trains():
    vl.manual_seed(0)
    model = vm.maxvit_t(num_classes=5, mlp_dropout=0.1, attention_dropout=0.1).train()
    _train_step_lowers_loss(model, vl.tensor(_photos(224, 224)), vl.tensor([1, 3]))


def test_stochastic_depth_rates_follow_torchvision():
    swin, tv_swin = vm.swin_t(), tvm.swin_t()
    ours = [m.p for m in swin.modules() if type(m).__name__ == "StochasticDepth"]
    theirs = [m.p for m in tv_swin.modules() if type(m).__name__ == "StochasticDepth"]
    assert ours == pytest.approx(theirs) and max(ours) == pytest.approx(0.2)
    maxvit, tv_maxvit = vm.maxvit_t(), tvm.maxvit_t()
    ours = [m.p for m in maxvit.modules() if type(m).__name__ == "StochasticDepth"]
    theirs = [m.p for m in tv_maxvit.modules() if type(m).__name__ == "StochasticDepth"]
    assert ours == pytest.approx(theirs)


def test_bad_configurations_raise_clear_errors():
    with pytest.raises(ValueError, match="not divisible by partition size"):
        vm.maxvit_t(input_size=(200, 200))
    model = vm.maxvit_t()
    with pytest.raises(ValueError, match="input_size"):
        model.blocks[0](vl.zeros(1, 64, 56, 64))
    with pytest.raises(ValueError, match="window_size and shift_size must be of length 2"):
        swin = importlib.import_module("visionlite.models.swin_transformer")
        swin.ShiftedWindowAttention(8, [7], [0, 0], 2)
    with pytest.raises(TypeError, match="pretrained"):
        vm.swin_t(pretrained=True)
    with pytest.raises(ValueError, match="num_classes"):
        vm.swin_t(weights="DEFAULT", num_classes=10)


# ------------------------------------------------------------------------------------------- fine-tuning

@pytest.mark.parametrize("name,head", [("swin_t", "head"), ("swin_v2_t", "head"),
                                       ("maxvit_t", "classifier.5")])
def test_head_is_found_and_replaced(name, head):
    model = vm.get_model(name)
    assert vm.get_head(model) == head
    new = vm.replace_head(model, 4)
    assert model.get_submodule(head) is new and new.out_features == 4
    assert (new.bias is None) == (name == "maxvit_t")  # MaxViT's last layer has no bias, as TorchVision's


@pytest.mark.slow  # ~5 s on a quiet machine: initialising 28M parameters and writing two 110 MB checkpoints
def test_finetune_script_runs_swin_t(tmp_path, monkeypatch):
    import importlib.util
    import sys

    rng = np.random.default_rng(0)
    for k, label in enumerate(("red", "green")):
        os.makedirs(tmp_path / "data" / label)
        for i in range(6):
            img = rng.uniform(40, 120, size=(32, 32, 3))
            img[..., k] += 120
            Image.fromarray(img.astype(np.uint8)).save(tmp_path / "data" / label / f"{i}.png")
    scripts = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
    monkeypatch.setattr(sys, "path", [scripts, *sys.path])  # the script imports its sibling helpers
    path = os.path.join(scripts, "finetune.py")
    spec = importlib.util.spec_from_file_location("_script_finetune_swin", path)
    finetune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(finetune)
    out = tmp_path / "run"
    finetune.main([str(tmp_path / "data"), "--model", "swin_t", "--weights", "none", "--img-size", "32",
                   "--batch-size", "4", "--epochs", "1", "--val-split", "0.34", "--ema-decay", "0",
                   "--no-progress", "--out", str(out)])
    saved = vl.load(out / "last.safetensors")
    assert saved["model_name"] == "swin_t" and saved["classes"] == ["green", "red"]
    model = vm.swin_t(num_classes=2)
    model.load_state_dict(saved["model"], strict=True)
    assert tuple(saved["model"]["head.weight"].shape) == (2, 768)
