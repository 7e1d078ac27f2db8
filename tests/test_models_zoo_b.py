"""DenseNet, ShuffleNetV2, GoogLeNet, Inception v3 and the Vision Transformer equal TorchVision's.

TorchVision's random models (BatchNorm statistics and affine, LayerNorm affine, biases and the
zero-initialised ViT head/class token perturbed so nothing is trivial) go through a real ``torch.save`` file
into the visionlite builders with ``strict=True`` and give the same logits on real photos; the weights enums
and presets equal TorchVision's; the legacy checkpoint layouts TorchVision still accepts (DenseNet's
``norm.1``, ViT's ``mlp.linear_1``) load; ViT's positional embeddings are resampled for another
``image_size`` exactly as TorchVision's ``interpolate_embeddings``; training runs, matches PyTorch's
gradients, and learns.
"""
import gc
import inspect
import math
import os
import re
import warnings

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.nn_check import copy_torch_weights, to_np
from tests.helpers.refs import require
from visionlite import models as vm

torch = require("torch")
tvm = require("torchvision.models")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")

# (builder, photo size): one default-suite case per family at least; >100M parameters or slow -> slow.
FAST = [("densenet121", 64), ("shufflenet_v2_x0_5", 64), ("shufflenet_v2_x1_0", 64),
        ("shufflenet_v2_x1_5", 64), ("shufflenet_v2_x2_0", 64), ("googlenet", 96), ("inception_v3", 299),
        ("vit_b_32", 224)]
SLOW = [("densenet161", 64), ("densenet169", 64), ("densenet201", 64), ("vit_b_16", 224), ("vit_l_16", 224),
        ("vit_l_32", 224), ("vit_h_14", 224)]
FAMILIES = ["densenet121", "densenet161", "densenet169", "densenet201", "shufflenet_v2_x0_5",
            "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "googlenet", "inception_v3",
            "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"]


@pytest.fixture(autouse=True)
def _quiet_init_warnings():
    # GoogLeNet/Inception3 warn (FutureWarning) when init_weights is left at None, on both sides.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The default weight initialization", FutureWarning)
        yield


def _photos(size, names=("chelsea.png", "coffee.png")):
    """Real photos resized to ``size x size``, normalised: ``(len(names), 3, size, size)`` float32."""
    batch = []
    for name in names:
        img = Image.open(os.path.join(ASSETS, name)).convert("RGB").resize((size, size), Image.BILINEAR)
        batch.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (np.stack(batch) - mean) / std


def _perturb(model, seed=1):
    """Norm statistics and affine parameters, and every parameter TorchVision starts at zero (ViT's head and
    class token, biases), drawn at random so eval-mode norms and heads matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        for p in model.parameters():
            if float(p.abs().max()) < 1e-4:
                p.normal_(std=0.05, generator=g)
    return model


def _save(model, path):
    torch.save(model.state_dict(), path)
    return path


def _assert_close_logits(got, expected):
    assert got.shape == expected.shape
    assert expected.std() > 1e-3  # the comparison means something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _assert_same_logits(ours, theirs, x):
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = to_np(ours(vl.tensor(x)))
    _assert_close_logits(got, expected)


@pytest.mark.parametrize("name,size", FAST + [pytest.param(n, s, marks=pytest.mark.slow) for n, s in SLOW])
def test_logits_on_photos_match_torchvision(name, size, tmp_path):
    x = _photos(size, names=("chelsea.png",) if size > 250 else ("chelsea.png", "coffee.png"))
    torch.manual_seed(0)
    theirs = _perturb(tvm.get_model(name).eval())
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    layout = [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in theirs.state_dict().items()]
    path = _save(theirs, tmp_path / f"{name}.pth")
    del theirs  # ViT-L holds 300M parameters: one copy at a time
    gc.collect()
    ours = vm.get_model(name).eval()
    assert [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in ours.state_dict().items()] == layout
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with vl.no_grad():
        got = to_np(ours(vl.tensor(x)))
    _assert_close_logits(got, expected)


def _vit_builder_config(lib, name):
    """The arguments each library's ``name`` builder hands its private ``_vision_transformer``."""
    module = lib.vision_transformer if lib is tvm else __import__("visionlite.models.vision_transformer",
                                                                  fromlist=["x"])
    private = module._vision_transformer
    seen = {}

    def record(*args, **kwargs):
        bound = inspect.signature(private).bind(*args, **kwargs)
        seen.update({k: v for k, v in bound.arguments.items() if k != "kwargs"}, **bound.arguments["kwargs"])
        return "built"

    mp = pytest.MonkeyPatch()
    mp.setattr(module, "_vision_transformer", record)
    try:
        assert getattr(module, name)(image_size=448, num_classes=3) == "built"
    finally:
        mp.undo()
    return seen


@pytest.mark.parametrize("name", ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"])
def test_vit_builders_configure_as_torchvision(name):
    ours, theirs = _vit_builder_config(vm, name), _vit_builder_config(tvm, name)
    assert set(ours) >= {"patch_size", "num_layers", "num_heads", "hidden_dim", "mlp_dim", "image_size"}
    assert ours == theirs


def test_vit_h_14_shallow_twin_and_parameter_count(tmp_path):
    """ViT-H/14 holds 632M parameters (too big for the suite): a two-layer twin with its exact widths must
    match TorchVision, and the per-layer parameter count extrapolated to 32 layers must equal the registry."""
    config = dict(patch_size=14, num_heads=16, hidden_dim=1280, mlp_dim=5120)
    torch.manual_seed(0)
    theirs = _perturb(tvm.VisionTransformer(image_size=112, num_layers=2, **config).eval())
    ours = vm.VisionTransformer(image_size=112, num_layers=2, **config).eval()
    ours.load_state_dict(vl.load(_save(theirs, tmp_path / "h14.pth")), strict=True)
    _assert_same_logits(ours, theirs, _photos(112, names=("astronaut.png",)))
    one, two = (sum(math.prod(p.shape) for p in vm.VisionTransformer(image_size=224, num_layers=n,
                                                                      **config).parameters()) for n in (1, 2))
    assert one + 31 * (two - one) == vm.ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1.meta["num_params"]


def test_vit_conv_stem_and_representation_size(tmp_path):
    from torchvision.models.vision_transformer import ConvStemConfig as TvStem

    from visionlite.models.vision_transformer import ConvStemConfig

    def build(lib, stem):
        return lib.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
                                     mlp_dim=24, num_classes=5, representation_size=12,
                                     conv_stem_configs=[stem(8, 3, 2), stem(12, 3, 2), stem(16, 3, 2)])
    torch.manual_seed(0)
    theirs = _perturb(build(tvm, TvStem).eval())
    ours = build(vm, ConvStemConfig).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(vl.load(_save(theirs, tmp_path / "stem.pth")), strict=True)
    _assert_same_logits(ours, theirs, _photos(32))
    with pytest.raises(AssertionError, match="indivisible"):
        vm.VisionTransformer(image_size=30, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=8)
    with pytest.raises(AssertionError, match="Wrong image height"):
        ours(vl.zeros(1, 3, 40, 32))


# ------------------------------------------------------------------ ViT at another image size, SWAG weights

def _interpolate_pair():
    from torchvision.models.vision_transformer import interpolate_embeddings as theirs

    from visionlite.models.vision_transformer import interpolate_embeddings as ours

    return ours, theirs


@pytest.mark.slow  # two ViT-B/32 pairs; the small twins below run in the default suite
def test_vit_b_32_at_another_size_with_interpolated_embeddings(tmp_path):
    """The user's path: a 224 checkpoint, ``interpolate_embeddings`` to 288, ``vit_b_32(image_size=288)``."""
    ours_fn, theirs_fn = _interpolate_pair()
    torch.manual_seed(0)
    source = _perturb(tvm.vit_b_32().eval())
    expected_state = theirs_fn(288, 32, source.state_dict())
    got_state = ours_fn(288, 32, {k: vl.tensor(v.numpy()) for k, v in source.state_dict().items()})
    assert tuple(got_state["encoder.pos_embedding"].shape) == (1, 82, 768)
    np.testing.assert_allclose(to_np(got_state["encoder.pos_embedding"]),
                               expected_state["encoder.pos_embedding"].numpy(), rtol=1e-5, atol=1e-6)
    del source
    theirs = tvm.vit_b_32(image_size=288).eval()
    theirs.load_state_dict(expected_state)
    ours = vm.vit_b_32(image_size=288).eval()
    ours.load_state_dict(got_state, strict=True)
    _assert_same_logits(ours, theirs, _photos(288, names=("coffee.png",)))


@pytest.mark.parametrize("mode,size", [("bicubic", 160), ("bicubic", 48), ("bilinear", 112)])
def test_vit_interpolated_position_embeddings_as_torchvision(mode, size):
    ours_fn, theirs_fn = _interpolate_pair()

    def build(lib, image_size):
        return lib.VisionTransformer(image_size, 16, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=24)
    torch.manual_seed(0)
    source = _perturb(build(tvm, 80).eval())  # a 5x5 grid of patches
    expected_state = theirs_fn(size, 16, source.state_dict(), interpolation_mode=mode)
    got_state = ours_fn(size, 16, {k: vl.tensor(v.numpy()) for k, v in source.state_dict().items()},
                        interpolation_mode=mode)
    np.testing.assert_allclose(to_np(got_state["encoder.pos_embedding"]),
                               expected_state["encoder.pos_embedding"].numpy(), rtol=1e-5, atol=1e-6)
    theirs = build(tvm, size).eval()
    theirs.load_state_dict(expected_state)
    ours = build(vm, size).eval()
    ours.load_state_dict(got_state, strict=True)
    _assert_same_logits(ours, theirs, _photos(size))
    # "nearest" takes no align_corners: both libraries refuse it the same way.
    with pytest.raises(ValueError, match="align_corners"):
        theirs_fn(size, 16, source.state_dict(), interpolation_mode="nearest")
    with pytest.raises(ValueError, match="align_corners"):
        ours_fn(size, 16, got_state if size == 80 else dict(got_state, **{
            "encoder.pos_embedding": vl.tensor(source.encoder.pos_embedding.detach().numpy())}),
            interpolation_mode="nearest")


def test_vit_interpolate_reset_heads_and_same_size():
    interpolate_embeddings, tv_interpolate = _interpolate_pair()
    torch.manual_seed(0)
    state = tvm.VisionTransformer(64, 16, 1, 2, 8, 8).state_dict()
    ours_state = {k: vl.tensor(v.numpy()) for k, v in state.items()}
    same = interpolate_embeddings(64, 16, dict(ours_state), reset_heads=True)
    assert list(same) == list(tv_interpolate(64, 16, dict(state), reset_heads=True))  # unchanged, heads kept
    resized = interpolate_embeddings(96, 16, dict(ours_state), reset_heads=True)
    assert list(resized) == list(tv_interpolate(96, 16, dict(state), reset_heads=True))
    assert not any(k.startswith("heads") for k in resized)
    bad = dict(ours_state, **{"encoder.pos_embedding": vl.zeros(1, 11, 8)})
    with pytest.raises(ValueError, match="perfect square"):
        interpolate_embeddings(96, 16, bad)


def _offline_weights(monkeypatch, enum, path):
    """Serve ``path`` as the checkpoint of every member of ``enum`` (no network in the suite)."""
    monkeypatch.setattr(enum, "get_state_dict", lambda self, progress=True, **kw: vl.load(path))


def test_vit_swag_weights_build_at_their_resolution(tmp_path, monkeypatch):
    # The SWAG end-to-end weights fix image_size to 384 (ViT-B/16); another size is refused, as TorchVision.
    torch.manual_seed(0)
    theirs = _perturb(tvm.vit_b_16(image_size=384))
    state = {k: vl.tensor(v.numpy()) for k, v in theirs.state_dict().items()}  # the file path: tested above
    monkeypatch.setattr(vm.ViT_B_16_Weights, "get_state_dict", lambda self, progress=True, **kw: state)
    model = vm.vit_b_16(weights="IMAGENET1K_SWAG_E2E_V1")
    assert model.image_size == 384 and tuple(model.encoder.pos_embedding.shape) == (1, 577, 768)
    np.testing.assert_array_equal(to_np(model.encoder.pos_embedding), theirs.encoder.pos_embedding.detach())
    with pytest.raises(ValueError, match="image_size"):
        vm.vit_b_16(weights=vm.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1, image_size=224)
    with pytest.raises(ValueError, match="num_classes"):
        vm.vit_h_14(weights="DEFAULT", num_classes=10)


def test_vit_legacy_mlp_keys_load(tmp_path):
    """Checkpoints from before TorchVision 0.14 (the official IMAGENET1K_V1 files) name the MLP's linears
    ``mlp.linear_1``/``mlp.linear_2`` and carry no version; both libraries rename them on load."""
    torch.manual_seed(0)
    source = _perturb(tvm.VisionTransformer(32, 16, 2, 2, 8, 12).eval())
    legacy = {re.sub(r"mlp\.([03])\.", lambda m: f"mlp.linear_{int(m.group(1)) // 3 + 1}.", k): v
              for k, v in source.state_dict().items()}
    assert "encoder.layers.encoder_layer_0.mlp.linear_2.bias" in legacy
    torch.save(legacy, tmp_path / "legacy.pth")  # a plain dict: no version metadata
    theirs = tvm.VisionTransformer(32, 16, 2, 2, 8, 12).eval()
    theirs.load_state_dict(torch.load(tmp_path / "legacy.pth"))
    ours = vm.VisionTransformer(32, 16, 2, 2, 8, 12).eval()
    ours.load_state_dict(vl.load(tmp_path / "legacy.pth"), strict=True)
    _assert_same_logits(ours, theirs, _photos(32))


# ----------------------------------------------------------------------------- DenseNet legacy checkpoints

def _legacy_densenet_keys(state):
    """The LuaTorch-era names of the official DenseNet files: ``...denselayer1.norm1.weight`` ->
    ``...denselayer1.norm.1.weight``."""
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\."
                         r"(weight|bias|running_mean|running_var)$")
    return {pattern.sub(r"\1.\2.\3", k): v for k, v in state.items()}


def test_densenet_legacy_checkpoint_keys(tmp_path, monkeypatch):
    torch.manual_seed(0)
    theirs = _perturb(tvm.densenet121().eval())
    legacy = _legacy_densenet_keys(theirs.state_dict())
    assert "features.denseblock1.denselayer1.norm.1.running_var" in legacy
    assert "features.denseblock1.denselayer1.norm1.weight" not in legacy
    torch.save(legacy, tmp_path / "densenet121-legacy.pth")
    _offline_weights(monkeypatch, vm.DenseNet121_Weights, tmp_path / "densenet121-legacy.pth")
    ours = vm.densenet121(weights="DEFAULT").eval()  # strict=True inside the builder
    _assert_same_logits(ours, theirs, _photos(64))
    # The legacy layout is the one TorchVision's own loader rewrites (shown on a small DenseNet), and a
    # direct load_state_dict of such a file works too (TorchVision renames only inside its builder).
    small = _perturb(_small("densenet", tvm)).eval()
    torch.save(_legacy_densenet_keys(small.state_dict()), tmp_path / "small-legacy.pth")
    reference = _small("densenet", tvm).eval()
    monkeypatch.setattr(tvm.DenseNet121_Weights, "get_state_dict",
                        lambda self, progress=True, **kw: torch.load(tmp_path / "small-legacy.pth"))
    tvm.densenet._load_state_dict(reference, tvm.DenseNet121_Weights.DEFAULT, progress=False)
    direct = _small("densenet", vm).eval()
    direct.load_state_dict(vl.load(tmp_path / "small-legacy.pth"), strict=True)
    _assert_same_logits(direct, small, _photos(64))
    _assert_same_logits(direct, reference, _photos(64))


# ------------------------------------------------------------------------------ GoogLeNet / Inception v3

@pytest.mark.parametrize("name,size", [("googlenet", 64), ("inception_v3", 75)])
def test_pretrained_builder_defaults_as_torchvision(name, size, tmp_path, monkeypatch):
    """With weights: transform_input defaults to True; GoogLeNet drops its untrained auxiliary heads unless
    asked for them, Inception keeps its head unless aux_logits=False."""
    torch.manual_seed(0)
    source = _perturb(tvm.get_model(name, aux_logits=True, init_weights=False))
    path = _save(source, tmp_path / f"{name}.pth")
    _offline_weights(monkeypatch, vm.get_model_weights(name), path)
    monkeypatch.setattr(tvm.get_model_weights(name), "get_state_dict",
                        lambda self, progress=True, **kw: torch.load(path))
    aux = "aux1" if name == "googlenet" else "AuxLogits"
    variants = [{}, {"aux_logits": True}, {"aux_logits": False}, {"transform_input": False}]
    if name == "inception_v3":  # aux_logits=True is its default; transform_input as GoogLeNet (shared code)
        variants = [{}, {"aux_logits": False}]
    for kwargs in variants:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "auxiliary heads ... are NOT pretrained"
            try:
                theirs = tvm.get_model(name, weights="DEFAULT", **kwargs).eval()
            except ValueError as e:  # GoogLeNet's weights refuse aux_logits=False: ours must refuse too
                with pytest.raises(ValueError, match=re.escape(str(e)[:40])):
                    vm.get_model(name, weights="DEFAULT", **kwargs)
                continue
            ours = vm.get_model(name, weights="DEFAULT", **kwargs).eval()
        assert (ours.transform_input, ours.aux_logits) == (theirs.transform_input, theirs.aux_logits), kwargs
        assert (getattr(ours, aux) is None) == (getattr(theirs, aux) is None), kwargs
        assert list(ours.state_dict()) == list(theirs.state_dict())
        if "aux_logits" not in kwargs:  # transform_input on and off: the logits
            _assert_same_logits(ours, theirs, _photos(size, names=("astronaut.png",)))


def test_googlenet_and_inception_warn_and_check_arguments():
    with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
        vm.GoogLeNet(aux_logits=False)
    with pytest.warns(FutureWarning, match="default weight initialization of inception_v3"):
        vm.Inception3(aux_logits=False)
    with pytest.raises(ValueError, match="blocks length should be 3"):
        vm.GoogLeNet(blocks=[None], init_weights=True)
    with pytest.raises(ValueError, match="inception_blocks should be 7"):
        vm.Inception3(inception_blocks=[None], init_weights=True)
    with pytest.raises(ValueError, match="stages_repeats"):
        vm.ShuffleNetV2([4, 8], [24, 48, 96, 192, 1024])


def _build(lib, name, **kwargs):
    if name == "vit":  # ViT-B/16's stem and embeddings at a fraction of its width and depth
        return lib.VisionTransformer(224, 16, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128, **kwargs)
    return lib.get_model(name, **kwargs)


@pytest.mark.parametrize("name", ["googlenet", "inception_v3", "vit"])
def test_init_weights_as_torchvision_statistics(name):
    """Each weight's initial spread equals TorchVision's (truncated normals: GoogLeNet std 0.01, Inception
    0.1 and 0.001 for its auxiliary fc; ViT's lecun-normal stem, BERT position embeddings, zero head)."""
    kwargs = {} if name == "vit" else {"init_weights": True}
    torch.manual_seed(0)
    vl.manual_seed(0)
    theirs = dict(_build(tvm, name, **kwargs).named_parameters())
    for key, p in _build(vm, name, **kwargs).named_parameters():
        ours, ref = to_np(p), theirs[key].detach().numpy()
        if ref.size < 2000 or ref.std() == 0:
            assert np.array_equal(ours, ref) or ref.std() > 0, key
            continue
        assert abs(ours.std() / ref.std() - 1) < 0.05, key
        assert abs(ours.mean()) < 0.1 * ref.std() + 1e-6, key


# ------------------------------------------------------------------------------- weights enums, presets

def _keywords(preset):
    return {k: str(v) if k == "interpolation" else v for k, v in preset.keywords.items()}


@pytest.mark.parametrize("name", FAMILIES)
def test_weights_enum_equals_torchvision(name):
    ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__
    assert list(ours.__members__) == list(theirs.__members__)
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for member in theirs:
        mine = ours[member.name]
        assert mine.url == member.url
        assert _keywords(mine.transforms) == _keywords(member.transforms)
        for key, value in member.meta.items():
            if key != "_docs":
                assert mine.meta[key] == value, (member, key)
    assert getattr(vm, theirs.__name__) is ours


@pytest.mark.parametrize("name", ["densenet121", "shufflenet_v2_x1_0", "googlenet", "inception_v3"])
def test_parameter_count_matches_registry(name):
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet",) else {}
    model = vm.get_model(name, **kwargs)
    count = sum(math.prod(p.shape) for p in model.parameters())
    assert count == vm.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("enum,member", [
    ("DenseNet121_Weights", "IMAGENET1K_V1"), ("ShuffleNet_V2_X1_0_Weights", "IMAGENET1K_V1"),
    ("GoogLeNet_Weights", "IMAGENET1K_V1"), ("Inception_V3_Weights", "IMAGENET1K_V1"),
    ("ViT_B_16_Weights", "IMAGENET1K_SWAG_E2E_V1"), ("ViT_H_14_Weights", "IMAGENET1K_SWAG_E2E_V1"),
])
def test_preset_transform_gives_torchvision_tensor(enum, member):
    tv_transforms = getattr(tvm, enum)[member].transforms()
    ours_transforms = getattr(vm, enum)[member].transforms()
    img = Image.open(os.path.join(ASSETS, "chelsea.png")).convert("RGB")
    expected = tv_transforms(img).numpy()
    got = to_np(ours_transforms(img))
    crop = tv_transforms.crop_size[0]
    assert got.shape == expected.shape == (3, crop, crop)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    tensor = np.asarray(img).transpose(2, 0, 1).copy()
    expected = tv_transforms(torch.from_numpy(tensor)).numpy()
    got = to_np(ours_transforms(vl.tensor(tensor)))
    np.testing.assert_allclose(got, expected, atol=2e-2)  # float resampling: a few ulps of uint8 steps
    assert np.mean(np.abs(got - expected)) < 1e-3


# -------------------------------------------------------------------------------------------- training

def _small(family, lib, **kwargs):
    """Small members of each family, every block type present, for visionlite (vm) or TorchVision (tvm)."""
    if family == "densenet":
        return lib.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2,
                            num_classes=5, **kwargs)
    if family == "shufflenet":
        return lib.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=5, **kwargs)
    if family == "vit":
        return lib.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
                                     mlp_dim=24, num_classes=5, **kwargs)
    if family == "googlenet":
        return lib.GoogLeNet(num_classes=5, init_weights=True, transform_input=True, **kwargs)
    return lib.Inception3(num_classes=5, init_weights=True, transform_input=True, **kwargs)


TRAIN = [("densenet", 64), ("shufflenet", 64), ("vit", 32), ("googlenet", 48)]


@pytest.mark.parametrize("family,size", TRAIN)
def test_train_mode_gradients_match_pytorch(family, size):
    """Dropout off, train mode is deterministic: BatchNorm on batch statistics, attention, the auxiliary
    heads (GoogLeNet's outputs tuple) and every parameter's gradient equal PyTorch's. In float64, because
    train-mode BatchNorm over the few values of the late 2x2 maps amplifies float32 rounding."""
    kwargs = {"googlenet": {"dropout": 0.0, "dropout_aux": 0.0}}.get(family, {})
    torch.manual_seed(0)
    theirs = _perturb(_small(family, tvm, **kwargs)).double().train()
    ours = _small(family, vm, **kwargs).double().train()
    copy_torch_weights(ours, theirs)
    x = _photos(size, names=("chelsea.png", "coffee.png", "astronaut.png")).astype(np.float64)
    # The photos' flat saturated patches give max-pooling windows whose values differ only by rounding, so
    # the two libraries' summation orders could pick different winners: a little noise separates them.
    x += np.random.default_rng(5).normal(scale=0.05, size=x.shape)
    t_params = dict(theirs.named_parameters())
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    t_outs, v_outs = theirs(tx), ours(vx)
    if family == "googlenet":  # (logits, aux_logits2, aux_logits1), all differentiated at once
        assert isinstance(v_outs, vm.GoogLeNetOutputs) and all(o is not None for o in v_outs)
    else:
        t_outs, v_outs = [t_outs], [v_outs]
    t_loss = v_loss = 0
    for i, (t_out, v_out) in enumerate(zip(t_outs, v_outs)):
        np.testing.assert_allclose(to_np(v_out), t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
        w = np.random.default_rng(i).uniform(0.5, 1.5, size=tuple(t_out.shape))
        t_loss = t_loss + (t_out * torch.tensor(w)).sum()
        v_loss = v_loss + (v_out * vl.tensor(w)).sum()
    t_loss.backward()
    v_loss.backward()
    np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), rtol=1e-7, atol=1e-10)
    for key, p in ours.named_parameters():
        expected = t_params[key].grad
        if expected is None:
            assert p.grad is None or not np.any(to_np(p.grad)), key
            continue
        scale = float(expected.abs().max())
        np.testing.assert_allclose(to_np(p.grad), expected.numpy(), rtol=1e-6, atol=1e-9 * max(scale, 1),
                                   err_msg=key)


def _train_step_lowers_loss(model, x, target, aux_weight=0.3):
    opt = vl.optim.SGD(model.parameters(), lr=0.0)
    loss_fn = vl.nn.CrossEntropyLoss()

    def loss_of(out):
        if isinstance(out, tuple):  # GoogLeNetOutputs / InceptionOutputs: main + weighted auxiliary losses
            main, *aux = out
            return loss_fn(main, target) + aux_weight * sum(loss_fn(a, target) for a in aux)
        return loss_fn(out, target)

    vl.manual_seed(0)
    loss = loss_of(model(x))
    opt.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert np.all(np.isfinite(to_np(p.grad))), name
    grad_norm = math.sqrt(sum(float((p.grad * p.grad).sum().item()) for p in model.parameters()))
    assert grad_norm > 0
    # A short step (length 1e-3) whatever the gradient's scale: DenseNet's fan-in init gives norms near 100
    # and train-mode BatchNorm on small maps curves the loss sharply.
    opt.param_groups[0]["lr"] = 1e-3 / grad_norm
    opt.step()
    vl.manual_seed(0)  # the same dropout masks for the second evaluation
    after = loss_of(model(x))
    assert float(after.item()) < float(loss.item())


@pytest.mark.parametrize("family,size", TRAIN + [
    ("inception_no_aux", 75),
    pytest.param("inception", 299, marks=pytest.mark.slow),  # the auxiliary head needs a 17x17 grid: 299px
])
def test_train_step_with_dropout_and_aux_heads_lowers_loss(family, size):
    kwargs = {"vit": {"dropout": 0.1, "attention_dropout": 0.1}, "densenet": {"drop_rate": 0.2},
              "inception_no_aux": {"aux_logits": False}}.get(family, {})
    vl.manual_seed(0)
    model = _small(family, vm, **kwargs).train()
    if family == "vit":  # TorchVision starts the head at zero: no gradient would reach the encoder
        vl.nn.init.normal_(model.heads.head.weight, std=0.1)
    names = ("chelsea.png", "coffee.png", "astronaut.png")[:2 if size > 100 else 3]
    x = vl.tensor(_photos(size, names=names))
    target = vl.tensor(np.arange(x.shape[0]) % 5)
    out = model(x)
    if family == "googlenet":
        assert isinstance(out, vm.GoogLeNetOutputs)
        assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    if family == "inception":
        assert isinstance(out, vm.InceptionOutputs) and out.aux_logits.shape == (2, 5)
    if family == "inception_no_aux":
        assert isinstance(out, vl.Tensor)
    _train_step_lowers_loss(model, x, target)
    if family.startswith(("googlenet", "inception")):
        model.eval()
        with vl.no_grad():
            assert isinstance(model(x), vl.Tensor)  # eval: logits only


def test_channel_shuffle_interleaves_as_torch():
    from torchvision.models.shufflenetv2 import channel_shuffle as tv_shuffle

    from visionlite.models.shufflenetv2 import channel_shuffle

    x = np.arange(2 * 12 * 2 * 3, dtype=np.float32).reshape(2, 12, 2, 3)
    for groups in (2, 3, 4):
        np.testing.assert_array_equal(to_np(channel_shuffle(vl.tensor(x), groups)),
                                      tv_shuffle(torch.from_numpy(x), groups).numpy())


@pytest.mark.parametrize("name", ["densenet121", "shufflenet_v2_x0_5", "googlenet", "inception_v3", "vit"])
def test_finetune_head_found_and_replaced(name):
    head = {"densenet121": "classifier", "vit": "heads.head"}.get(name, "fc")
    model = _build(vm, name, **({"init_weights": True} if name in ("googlenet", "inception_v3") else {}))
    assert vm.get_head(model) == head
    new = vm.replace_head(model, 7)
    assert new.out_features == 7


# ------------------------------------------------------------------------------------ scripts/finetune.py

def _image_folder(root, per_class=4, size=40):
    rng = np.random.default_rng(0)
    for k, label in enumerate(("red", "green", "blue")):
        os.makedirs(root / label)
        for i in range(per_class):
            img = rng.uniform(40, 120, size=(size, size, 3))
            img[..., k] += 120
            Image.fromarray(img.astype(np.uint8)).save(root / label / f"{i}.png")
    return root


def _finetune_script():
    import importlib.util
    import sys

    scripts = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts")
    sys.path.insert(0, scripts)  # the script imports its sibling plot_metrics
    try:
        spec = importlib.util.spec_from_file_location("_finetune_b", os.path.join(scripts, "finetune.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(scripts)
    return module


@pytest.mark.parametrize("name,size", [
    ("googlenet", 48), ("shufflenet_v2_x0_5", 32),
    pytest.param("inception_v3", 75, marks=pytest.mark.slow),
    pytest.param("densenet121", 32, marks=pytest.mark.slow),
])
def test_finetune_script_trains_each_family(name, size, tmp_path):
    finetune = _finetune_script()
    data = _image_folder(tmp_path / "data", per_class=3)
    out = tmp_path / "run"
    finetune.main([str(data), "--model", name, "--weights", "none", "--img-size", str(size), "--epochs", "1",
                   "--batch-size", "4", "--ema-decay", "0", "--val-split", "0.34", "--no-progress",
                   "--out", str(out)])
    saved = vl.load(out / "best.safetensors")
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = vm.get_model(name, num_classes=3, **kwargs)
    model.load_state_dict(saved["model"], strict=True)  # auxiliary heads dropped for fine-tuning


def test_finetune_script_vit_needs_its_image_size(tmp_path):
    finetune = _finetune_script()
    data = _image_folder(tmp_path / "data", per_class=2)
    with pytest.raises(SystemExit, match="--img-size 224"):
        finetune.main([str(data), "--model", "vit_b_32", "--weights", "none", "--img-size", "64",
                       "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run")])
