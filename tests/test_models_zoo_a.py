"""EfficientNet (V1/V2), ConvNeXt, RegNet (X/Y) and MNASNet equal TorchVision's: TorchVision's random models
(norm statistics and affines, ConvNeXt layer scales perturbed so eval mode is not trivial) go through a real
``torch.save`` file into the visionlite builders with ``strict=True`` and give the same logits on real
photos; weights enums and presets equal TorchVision's; train mode matches PyTorch's gradients and learns."""
import gc
import importlib
import math
import os
import warnings

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
FAMILIES = {
    "efficientnet": ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
                     "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
                     "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"],
    "convnext": ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"],
    "regnet": ["regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf",
               "regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf", "regnet_x_400mf", "regnet_x_800mf",
               "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf", "regnet_x_16gf", "regnet_x_32gf"],
    "mnasnet": ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
}
ALL = [name for names in FAMILIES.values() for name in names]
# One default-suite logits test per family (two where the family has two kinds of block).
FAST = ["efficientnet_b0", "efficientnet_v2_s", "convnext_tiny", "regnet_y_400mf", "regnet_x_400mf",
        "mnasnet0_5"]
# Above ~100M parameters: efficientnet_v2_l 119M, convnext_large 198M, regnet_x_32gf 108M,
# regnet_y_32gf 145M, regnet_y_128gf 645M (its logits test holds both copies, about 6 GB).
HUGE = ["efficientnet_v2_l", "convnext_large", "regnet_x_32gf", "regnet_y_32gf", "regnet_y_128gf"]


def _photos(size):
    """Two real photos resized to ``size x size``, ImageNet-normalised, ``(2, 3, size, size)`` float32."""
    batch = []
    for name in ("chelsea.png", "coffee.png"):
        img = Image.open(os.path.join(ASSETS, name)).convert("RGB").resize((size, size), Image.BILINEAR)
        batch.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (np.stack(batch) - mean) / std


def _perturb(model, seed=1):
    """Move TorchVision's init away from identities: BatchNorm statistics and affines, LayerNorm affines,
    ConvNeXt's layer scales (1e-6 at init, which would make every block the identity)."""
    g = torch.Generator().manual_seed(seed)

    def rand(shape):
        return torch.rand(shape, generator=g)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
                m.weight.copy_(rand(m.weight.shape) + 0.5)
                m.bias.copy_(rand(m.bias.shape) * 0.4 - 0.2)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(rand(m.num_features) * 0.4 - 0.2)
                m.running_var.copy_(rand(m.num_features) + 0.5)
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(rand(p.shape) * 0.4 + 0.1)


def _check_logits_through_torch_save(name, tmp_path, size=64, **kwargs):
    """TorchVision's perturbed random model -> torch.save -> visionlite builder (strict) -> same logits.
    TorchVision's model is freed before visionlite's is built, so big models need memory for one at a time."""
    torch.manual_seed(0)
    theirs = tvm.get_model(name, **kwargs).eval()
    _perturb(theirs)
    x = _photos(size)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    shapes = {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in theirs.state_dict().items()}
    layout = repr(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    del theirs
    gc.collect()

    ours = vm.get_model(name, **kwargs).eval()
    assert repr(ours) == layout  # same modules, same order, same settings (eps, momentum, p, inplace...)
    ours_sd = ours.state_dict()
    assert list(ours_sd) == list(shapes)
    for key, (shape, dtype) in shapes.items():
        assert (tuple(ours_sd[key].shape), str(ours_sd[key].dtype).split(".")[-1]) == (shape, dtype), key
    del ours_sd
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with vl.no_grad():
        got = ours(vl.tensor(x)).numpy()
    assert got.shape == expected.shape
    assert expected.std() > 0.01  # the comparison means something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in ALL
                                         if n not in FAST])
def test_logits_on_photos_match_torchvision(name, tmp_path):
    _check_logits_through_torch_save(name, tmp_path)


@pytest.mark.slow
def test_regnet_y_128gf_structure_equals_torchvision():
    # The logits test of this 645M-parameter model holds both libraries' copies (about 6 GB); this one
    # builds TorchVision's on the meta device, so only visionlite's 2.6 GB are allocated (4 GB peak).
    tv_regnet = importlib.import_module("torchvision.models.regnet")
    # TorchVision's regnet_y_128gf, built in two steps: its stage widths come from real tensors.
    params = tv_regnet.BlockParams.from_init_params(depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264,
                                                    se_ratio=0.25)
    with torch.device("meta"):
        theirs = tv_regnet.RegNet(params, norm_layer=torch.nn.BatchNorm2d)
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    layout = repr(theirs)
    del theirs
    ours = vm.regnet_y_128gf()
    assert repr(ours) == layout
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected
    assert list(ours.state_dict()) == list(expected)
    assert sum(math.prod(p.shape) for p in ours.parameters()) == \
        vm.RegNet_Y_128GF_Weights.DEFAULT.meta["num_params"]


@pytest.mark.parametrize("name,kwargs", [
    ("efficientnet_b0", dict(num_classes=10, dropout=0.5, stochastic_depth_prob=0.3)),
    ("convnext_tiny", dict(num_classes=5, layer_scale=0.5, stochastic_depth_prob=0.2)),
    ("regnet_y_800mf", dict(num_classes=3, stem_width=16)),
    ("mnasnet1_3", dict(num_classes=4, dropout=0.1)),
])
def test_builder_arguments_as_torchvision(name, kwargs, tmp_path):
    _check_logits_through_torch_save(name, tmp_path, size=48, **kwargs)


def _meta(meta):
    return {k: v for k, v in meta.items() if k != "_docs"}


def _preset(transforms):
    p = transforms()
    return (p.crop_size, p.resize_size, p.mean, p.std, getattr(p.interpolation, "value", p.interpolation),
            p.antialias)


@pytest.mark.parametrize("name", ALL)
def test_weights_enum_equals_torchvision(name):
    ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__
    assert list(ours.__members__) == list(theirs.__members__)  # DEFAULT included, as an alias
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for member in theirs:
        mine = ours[member.name]
        assert mine.url == member.url
        assert _preset(mine.transforms) == _preset(member.transforms)
        mine_meta = _meta(mine.meta)
        extra = set(mine_meta) - set(_meta(member.meta))
        assert extra <= {"_sha256_verified"}, extra  # visionlite's own record of what the download checks
        assert {k: mine_meta[k] for k in _meta(member.meta)} == _meta(member.meta)
    assert getattr(vm, theirs.__name__) is ours
    assert getattr(vm, name) is vm.get_model_builder(name)


# Every builder's structure in the default suite where it is cheap to build (up to ~30M parameters).
SMALL = ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
         "efficientnet_v2_s", "convnext_tiny", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf",
         "regnet_y_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf",
         "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]


@pytest.mark.parametrize("name", SMALL + [pytest.param(n, marks=pytest.mark.slow) for n in ALL
                                          if n not in SMALL and n not in HUGE])
def test_parameter_count_matches_registry(name):
    model = vm.get_model(name)
    assert sum(math.prod(p.shape) for p in model.parameters()) == \
        vm.get_model_weights(name).DEFAULT.meta["num_params"]


def test_regnet_stage_params_equal_torchvision_for_every_size():
    # The quantized-linear width rule (float32, round-half-even) decides every stage's width and depth.
    ours, theirs = importlib.import_module("visionlite.models.regnet"), importlib.import_module(
        "torchvision.models.regnet")
    for name, (depth, w_0, w_a, w_m, group_width, se_ratio) in ours._ARCHS.items():
        expected = theirs.BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m,
                                                       group_width=group_width, se_ratio=se_ratio)
        assert vars(ours._block_params(name)) == vars(expected), name


@pytest.mark.parametrize("enum,member", [
    ("EfficientNet_B0_Weights", "IMAGENET1K_V1"),       # bicubic 256 -> 224
    ("EfficientNet_V2_L_Weights", "IMAGENET1K_V1"),     # mean = std = 0.5
    ("ConvNeXt_Tiny_Weights", "IMAGENET1K_V1"),         # bilinear 236 -> 224
    ("RegNet_Y_16GF_Weights", "IMAGENET1K_SWAG_E2E_V1"),  # bicubic 384
    ("MNASNet0_5_Weights", "IMAGENET1K_V1"),
])
def test_preset_transform_gives_torchvision_tensor(enum, member):
    tv_transforms = getattr(tvm, enum)[member].transforms()
    ours_transforms = getattr(vm, enum)[member].transforms()
    img = Image.open(os.path.join(ASSETS, "chelsea.png")).convert("RGB")
    expected = tv_transforms(img).numpy()
    got = ours_transforms(img).numpy()
    crop = tv_transforms.crop_size[0]
    assert got.shape == expected.shape == (3, crop, crop)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # PIL resamples in uint8 on both sides
    tensor = np.asarray(img).transpose(2, 0, 1).copy()
    expected = tv_transforms(torch.from_numpy(tensor)).numpy()
    got = ours_transforms(vl.tensor(tensor)).numpy()
    # uint8 tensors are resized in float and rounded: at most one level (1/255) apart before normalizing.
    np.testing.assert_allclose(got, expected, atol=1.01 / 255 / min(tv_transforms.std))
    assert np.mean(np.abs(got - expected)) < 1e-3


def test_mnasnet_version1_checkpoint_loads_with_its_fixed_stem(tmp_path):
    # TorchVision rebuilds a version-1 stem (32/16 channels whatever alpha) when it loads one: make such a
    # model there, save it, and load the file into visionlite's mnasnet0_5.
    torch.manual_seed(0)
    theirs = tvm.mnasnet0_5()
    v1 = theirs.state_dict()
    v1._metadata[""]["version"] = 1
    with pytest.warns(UserWarning, match="new version of MNASNet"), pytest.raises(RuntimeError):
        theirs.load_state_dict(v1)  # swaps in the v1 stem, then refuses the v2-shaped stem weights
    theirs.eval()
    _perturb(theirs)
    assert theirs.layers[0].out_channels == 32 and theirs._version == 1
    path = tmp_path / "mnasnet_v1.pth"
    torch.save(theirs.state_dict(), path)

    ours = vm.mnasnet0_5().eval()
    assert ours.layers[0].out_channels == 16
    with pytest.warns(UserWarning, match="new version of MNASNet"):
        ours.load_state_dict(vl.load(path), strict=True)
    assert ours.layers[0].out_channels == 32 and ours._version == 1
    assert list(ours.layers._modules) == [str(i) for i in range(len(ours.layers))]  # swapped in place
    assert vl.models.mnasnet0_5().state_dict()._metadata[""]["version"] == 2
    assert ours.state_dict()._metadata[""]["version"] == 1
    x = _photos(48)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = ours(vl.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # version 2 and alpha 1.0 load silently
        vm.mnasnet1_0().load_state_dict(vm.mnasnet1_0().state_dict())


# --------------------------------------------------------------------------------------------- training

def _small(family, lib, **kwargs):
    """Small configurations with every block kind of each family, for visionlite or TorchVision (``lib``)."""
    mod = importlib.import_module(f"{lib.__name__}.{family}")
    if family == "efficientnet":
        setting = [mod.FusedMBConvConfig(1, 3, 1, 8, 8, 1), mod.FusedMBConvConfig(4, 3, 2, 8, 16, 1),
                   mod.MBConvConfig(4, 3, 2, 16, 16, 2), mod.MBConvConfig(6, 5, 1, 16, 24, 1)]
        return mod.EfficientNet(setting, dropout=kwargs.pop("dropout", 0.0), last_channel=32, **kwargs)
    if family == "convnext":
        setting = [mod.CNBlockConfig(8, 16, 2), mod.CNBlockConfig(16, None, 2)]
        return mod.ConvNeXt(setting, **kwargs)
    if family == "regnet":
        params = mod.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8,
                                                  se_ratio=0.25)
        return mod.RegNet(params, stem_width=8, **kwargs)
    return mod.MNASNet(0.25, **kwargs)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_mode_gradients_match_pytorch(family):
    # Without random drops train mode is deterministic: outputs (BatchNorm on batch statistics) and every
    # parameter's gradient equal PyTorch's.
    kwargs = {"mnasnet": dict(dropout=0.0), "regnet": {}}.get(family, dict(stochastic_depth_prob=0.0))
    torch.manual_seed(0)
    theirs = _small(family, tvm, num_classes=5, **kwargs).train()
    _perturb(theirs)
    ours = _small(family, vm, num_classes=5, **kwargs).train()
    copy_torch_weights(ours, theirs)
    # In float64: batch statistics over a few values per channel, chained through a dozen BatchNorms, make
    # float32 gradients ill-conditioned (PyTorch's own float32 input gradient of the small MNASNet is 0.2%
    # away from its float64 one).
    theirs.double()
    ours.double()
    x = _photos(64 if family == "mnasnet" else 32).astype(np.float64)
    compare_modules(ours, theirs, [x], atol=1e-9, rtol=1e-7, grad_atol=1e-9, grad_rtol=1e-6)
    for name, buf in theirs.named_buffers():  # the batch statistics were folded in as PyTorch does
        if name.endswith("running_mean"):
            np.testing.assert_allclose(ours.get_buffer(name).numpy(), buf.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_small_models_on_device_match_cpu(family, device):
    # Eval logits and train-mode gradients (no random drops) on ``device`` equal the CPU ones.
    kwargs = {"mnasnet": dict(dropout=0.0), "regnet": {}}.get(family, dict(stochastic_depth_prob=0.0))
    vl.manual_seed(0)
    cpu = _small(family, vm, num_classes=5, **kwargs).eval()
    other = _small(family, vm, num_classes=5, **kwargs)
    other.load_state_dict(cpu.state_dict())
    # float64: float32 train-mode gradients of these nets are ill-conditioned (see the test above)
    cpu.double()
    other.to(device).double().eval()
    x = _photos(64 if family == "mnasnet" else 32).astype(np.float64)
    with vl.no_grad():
        np.testing.assert_allclose(other(vl.tensor(x, device=device)).cpu().numpy(),
                                   cpu(vl.tensor(x)).numpy(), rtol=1e-7, atol=1e-9)
    for model, dev in ((cpu, "cpu"), (other, device)):
        model.train()
        model(vl.tensor(x, device=dev)).square().sum().backward()
    for (name, p), q in zip(cpu.named_parameters(), other.parameters()):
        assert q.grad is not None and q.grad.device == q.device, name
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


def _train_step_lowers_loss(model, x, target, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = vl.optim.SGD(params, lr=lr)
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


# Batch statistics of two images over the last tiny feature maps make the loss of a freshly initialised
# BatchNorm network very rough (gradient norms of 1e3 at 96x96, 1e10 at 32x32, in PyTorch as here): the
# BatchNorm families train at 96x96 with a small step.
@pytest.mark.parametrize("name,kwargs,size,lr", [
    ("efficientnet_b0", dict(dropout=0.2, stochastic_depth_prob=0.2), 96, 1e-3),
    ("convnext_tiny", dict(stochastic_depth_prob=0.1), 32, 1e-2),
    ("regnet_y_400mf", {}, 96, 1e-3),
    ("mnasnet0_5", dict(dropout=0.2), 96, 1e-3),
])
def test_builders_train_with_dropout_and_stochastic_depth(name, kwargs, size, lr):
    vl.manual_seed(0)
    model = vm.get_model(name, num_classes=5, **kwargs).train()
    _train_step_lowers_loss(model, vl.tensor(_photos(size)), vl.tensor([1, 3]), lr)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="pretrained"):
        vm.efficientnet_b0(pretrained=True)
    with pytest.raises(ValueError, match="num_classes"):
        vm.convnext_tiny(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="Unknown weights"):
        vm.regnet_y_400mf(weights="IMAGENET1K_SWAG_E2E_V1")
    with pytest.raises(ValueError, match="alpha"):
        vm.mnasnet.MNASNet(0.0) if hasattr(vm, "mnasnet") else importlib.import_module(
            "visionlite.models.mnasnet").MNASNet(0.0)
    with pytest.raises(ValueError, match="Invalid RegNet settings"):
        importlib.import_module("visionlite.models.regnet").BlockParams.from_init_params(8, 12, 8.0, 2.0, 8)
    with pytest.raises(ValueError, match="block_setting"):
        importlib.import_module("visionlite.models.convnext").ConvNeXt([])
    with pytest.raises(TypeError, match="MBConvConfig"):
        importlib.import_module("visionlite.models.efficientnet").EfficientNet([object()], dropout=0.1)


# ------------------------------------------------------------------------------------------ fine-tuning

HEADS = [("efficientnet_b0", "classifier.1"), ("convnext_tiny", "classifier.2"), ("regnet_y_400mf", "fc"),
         ("mnasnet0_5", "classifier.1")]


@pytest.mark.parametrize("name,head", HEADS)
def test_head_is_found_and_replaced(name, head):
    model = vm.get_model(name)
    assert vm.get_head(model) == head
    new = vm.replace_head(model, 3)
    assert model.get_submodule(head) is new and new.out_features == 3
    with vl.no_grad():
        assert tuple(model.eval()(vl.tensor(_photos(32))).shape) == (2, 3)


# convnext_tiny's run is left out only for time (its 28M parameters are written twice per epoch).
@pytest.mark.parametrize("name,head", [h for h in HEADS if h[0] != "convnext_tiny"])
def test_finetune_script_accepts_the_family(name, head, tmp_path):
    from tests.test_finetune import _load_script, make_image_folder

    data = make_image_folder(tmp_path / "data", per_class=4, size=32)
    out = tmp_path / "run"
    finetune = _load_script("finetune")
    finetune.main([str(data), "--model", name, "--weights", "none", "--img-size", "32", "--batch-size", "4",
                   "--epochs", "1", "--freeze-backbone", "--ema-decay", "0", "--val-split", "0.25",
                   "--no-progress", "--out", str(out)])
    saved = vl.load(out / "last.safetensors")
    assert saved["model_name"] == name and saved["classes"] == ["disc", "square", "stripes"]
    assert tuple(saved["model"][f"{head}.weight"].shape)[0] == 3
    trained = vm.get_model(name, num_classes=3)
    trained.load_state_dict(saved["model"], strict=True)
