"""Segmentation models (FCN, DeepLabV3, Lite R-ASPP) equal TorchVision's: TorchVision's random models
(BatchNorm statistics and affines perturbed so eval mode is not trivial) go through a real ``torch.save`` file
into the visionlite builders with ``strict=True`` and give the same ``out``/``aux`` on a real photo; weights
enums and the ``SemanticSegmentation`` preset equal TorchVision's; train mode gives PyTorch's loss and
gradients; weights load through the hub; ``draw_segmentation_masks`` draws the predicted masks as
TorchVision's does."""
import gc
import hashlib
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as vm

torch = require("torch")
tvm = require("torchvision.models")
tv_utils = require("torchvision.utils")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
BUILDERS = ["fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
            "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
NO_DOWNLOAD = {"weights_backbone": None}  # TorchVision's default backbone weights would be downloaded


def _photo(height, width, names=("chelsea.png",)):
    """Real photos resized to ``height x width``, ImageNet-normalised, ``(N, 3, height, width)`` float32."""
    batch = []
    for name in names:
        img = Image.open(os.path.join(ASSETS, name)).convert("RGB").resize((width, height), Image.BILINEAR)
        batch.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return (np.stack(batch) - mean) / std


def _perturb(model, seed=1):
    """BatchNorm running statistics and affines away from TorchVision's init (mean 0, var 1, identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def _torch_model(name, **kwargs):
    torch.manual_seed(0)
    model = tvm.get_model(name, **NO_DOWNLOAD, **kwargs)
    _perturb(model)
    return model


def _load_through_torch_save(theirs, name, tmp_path, **kwargs):
    """visionlite's builder, loaded strictly from a real ``torch.save`` file of ``theirs``'s state dict."""
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = vm.get_model(name, **NO_DOWNLOAD, **kwargs)
    ours_sd = ours.state_dict()
    assert list(ours_sd) == list(shapes)
    assert {k: tuple(v.shape) for k, v in ours_sd.items()} == shapes
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours


def _assert_close(got, expected):
    assert got.shape == expected.shape
    assert expected.std() > 0.01  # the comparison means something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _check_outputs(name, tmp_path, x, adjust=None, **kwargs):
    theirs = _torch_model(name, **kwargs).eval()
    if adjust is not None:
        adjust(theirs, x)
    with torch.no_grad():
        expected = {k: v.numpy() for k, v in theirs(torch.from_numpy(x)).items()}
    ours = _load_through_torch_save(theirs, name, tmp_path, **kwargs).eval()
    del theirs
    gc.collect()
    with vl.no_grad():
        got = ours(vl.tensor(x))
    assert type(got).__name__ == "OrderedDict" and list(got) == list(expected)
    for key in expected:
        _assert_close(got[key].numpy(), expected[key])
    return got


# (builder, kwargs, input height, width, photos): with the auxiliary head on photos of 160x224 (mobile) or
# 128x160 (ResNet-50); without it smaller, to keep the default suite fast. Other class counts are checked in
# train mode below.
TWO = ("chelsea.png", "coffee.png")
CASES = [
    ("deeplabv3_mobilenet_v3_large", dict(aux_loss=True), 160, 224, TWO),
    ("deeplabv3_mobilenet_v3_large", dict(aux_loss=False), 96, 128, ("coffee.png",)),
    ("lraspp_mobilenet_v3_large", dict(), 160, 224, TWO),
    ("fcn_resnet50", dict(aux_loss=True), 128, 160, ("coffee.png",)),
    ("fcn_resnet50", dict(), 64, 96, ("chelsea.png",)),
    ("deeplabv3_resnet50", dict(aux_loss=True), 128, 160, ("chelsea.png",)),
    ("deeplabv3_resnet50", dict(aux_loss=False), 64, 96, ("coffee.png",)),
]
SLOW_CASES = [  # ResNet-101 backbones (54M and 61M parameters)
    ("fcn_resnet101", dict(aux_loss=True), 160, 224, ("coffee.png",)),
    ("fcn_resnet101", dict(), 96, 128, ("chelsea.png",)),
    ("deeplabv3_resnet101", dict(aux_loss=True), 160, 224, ("chelsea.png",)),
    ("deeplabv3_resnet101", dict(aux_loss=False), 96, 128, ("coffee.png",)),
]


@pytest.mark.parametrize("name,kwargs,height,width,photos",
                         CASES + [pytest.param(*case, marks=pytest.mark.slow) for case in SLOW_CASES])
def test_outputs_on_a_photo_match_torchvision(name, kwargs, height, width, photos, tmp_path):
    got = _check_outputs(name, tmp_path, _photo(height, width, photos), **kwargs)
    num_classes = kwargs.get("num_classes", 21)
    assert tuple(got["out"].shape) == (len(photos), num_classes, height, width)
    assert ("aux" in got) == bool(kwargs.get("aux_loss"))


def test_odd_input_size_matches_torchvision(tmp_path):
    # Sizes that do not divide by the output stride: the upsampling back to the input is not an integer scale.
    _check_outputs("deeplabv3_mobilenet_v3_large", tmp_path, _photo(77, 101), aux_loss=True)


# ------------------------------------------------------------------------------------------- train mode

def _no_dropout(model, dropout_type):
    for m in model.modules():
        if isinstance(m, dropout_type):
            m.p = 0.0


@pytest.mark.parametrize("name,kwargs,height,width", [
    pytest.param("deeplabv3_mobilenet_v3_large", dict(aux_loss=True), 48, 64, marks=pytest.mark.slow),
    ("lraspp_mobilenet_v3_large", dict(), 48, 64),
    pytest.param("fcn_resnet50", dict(aux_loss=True), 32, 40, marks=pytest.mark.slow),
    pytest.param("deeplabv3_resnet101", dict(aux_loss=True), 32, 40, marks=pytest.mark.slow),
])
def test_train_mode_loss_and_gradients_match_pytorch(name, kwargs, height, width, tmp_path):
    """Train mode (batch statistics), float64: cross-entropy over ``out`` plus 0.5 times that over ``aux``;
    the loss and every parameter's gradient equal PyTorch's, and every trainable parameter gets one."""
    theirs = _torch_model(name, num_classes=4, **kwargs)
    ours = _load_through_torch_save(theirs, name, tmp_path, num_classes=4, **kwargs)
    theirs.double().train()
    ours.double().train()
    _no_dropout(theirs, torch.nn.Dropout)  # the two libraries draw different dropout masks
    _no_dropout(ours, vl.nn.Dropout)
    rng = np.random.default_rng(0)
    x = _photo(height, width, TWO).astype(np.float64)
    target = rng.integers(0, 4, size=(2, height, width))

    out_t = theirs(torch.from_numpy(x))
    out_v = ours(vl.tensor(x))
    assert list(out_v) == list(out_t)
    loss_t = torch.nn.functional.cross_entropy(out_t["out"], torch.from_numpy(target))
    loss_v = vl.nn.functional.cross_entropy(out_v["out"], vl.tensor(target))
    if "aux" in out_t:
        loss_t = loss_t + 0.5 * torch.nn.functional.cross_entropy(out_t["aux"], torch.from_numpy(target))
        loss_v = loss_v + 0.5 * vl.nn.functional.cross_entropy(out_v["aux"], vl.tensor(target))
    loss_t.backward()
    loss_v.backward()
    np.testing.assert_allclose(loss_v.item(), loss_t.item(), rtol=1e-10)

    grads_t = dict(theirs.named_parameters())
    trainable = [(n, p) for n, p in ours.named_parameters() if p.requires_grad]
    assert len(trainable) == len(grads_t)
    for n, p in trainable:
        assert p.grad is not None, f"{n} got no gradient"
        expected = grads_t[n].grad.numpy()
        got = p.grad.numpy()
        assert np.abs(got).max() > 0, f"{n} has an all-zero gradient"
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(expected).max()),
                                   err_msg=n)
    # The running statistics moved as PyTorch's did.
    sd_t = theirs.state_dict()
    for k, v in ours.state_dict().items():
        if "running_" in k:
            np.testing.assert_allclose(v.numpy(), sd_t[k].numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_deeplabv3_resnet50_learns_with_every_parameter():
    """float32, a fresh random model (no torch): every trainable parameter gets a finite, non-zero gradient
    and a step of SGD lowers the loss."""
    vl.manual_seed(0)
    model = vm.segmentation.deeplabv3_resnet50(weights_backbone=None, num_classes=3, aux_loss=True).train()
    _no_dropout(model, vl.nn.Dropout)
    x = vl.tensor(_photo(32, 40, TWO))
    target = vl.tensor(np.random.default_rng(0).integers(0, 3, size=(2, 32, 40)))
    opt = vl.optim.SGD(model.parameters(), lr=0.05)

    def loss_fn():
        out = model(x)
        return (vl.nn.functional.cross_entropy(out["out"], target)
                + 0.5 * vl.nn.functional.cross_entropy(out["aux"], target))

    loss = loss_fn()
    loss.backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, f"{n} got no gradient"
        g = p.grad.numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, n
    opt.step()
    assert loss_fn().item() < loss.item()


# --------------------------------------------------------------------------------- weights and presets

def _meta(meta):
    return {k: v for k, v in meta.items() if k != "_docs"}


@pytest.mark.parametrize("name", BUILDERS)
def test_weights_enum_equals_torchvision(name):
    ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__
    assert list(ours.__members__) == list(theirs.__members__)  # DEFAULT included, as an alias
    assert ours.DEFAULT.name == theirs.DEFAULT.name == "COCO_WITH_VOC_LABELS_V1"
    for member in theirs:
        mine = ours[member.name]
        assert mine.url == member.url
        preset = type(mine.transforms()).__name__
        assert preset == type(member.transforms()).__name__ == "SemanticSegmentation"
        assert mine.transforms.keywords == member.transforms.keywords == {"resize_size": 520}
        mine_meta = _meta(mine.meta)
        assert set(mine_meta) - set(_meta(member.meta)) == {"_sha256_verified"}
        assert {k: mine_meta[k] for k in _meta(member.meta)} == _meta(member.meta)
        assert mine.meta["_sha256_verified"] == ("full" if mine.sha256 else "prefix")
        assert mine.meta["categories"][0] == "__background__" and len(mine.meta["categories"]) == 21
    segmentation = vm.segmentation
    assert getattr(segmentation, theirs.__name__) is ours
    assert getattr(segmentation, name) is vm.get_model_builder(name)


@pytest.mark.parametrize("enum", ["DeepLabV3_MobileNet_V3_Large_Weights", "FCN_ResNet50_Weights"])
def test_preset_transform_gives_torchvision_tensor(enum):
    tv_transforms = getattr(tvm.segmentation, enum).DEFAULT.transforms()
    ours_transforms = getattr(vm.segmentation, enum).DEFAULT.transforms()
    assert repr(ours_transforms) == repr(tv_transforms)
    img = Image.open(os.path.join(ASSETS, "chelsea.png")).convert("RGB")
    expected = tv_transforms(img).numpy()
    got = ours_transforms(img).numpy()
    assert got.shape == expected.shape and min(got.shape[1:]) == 520
    np.testing.assert_allclose(got, expected, atol=1e-5)  # PIL resamples in uint8 on both sides
    tensor = np.asarray(img).transpose(2, 0, 1).copy()
    expected = tv_transforms(torch.from_numpy(tensor)).numpy()
    got = ours_transforms(vl.tensor(tensor)).numpy()
    # uint8 tensors are resized in float and rounded: at most one level (1/255) apart before normalizing.
    np.testing.assert_allclose(got, expected, atol=1.01 / 255 / min(tv_transforms.std))
    assert np.mean(np.abs(got - expected)) < 1e-3
    floats = tensor[None].astype(np.float32) / 255
    np.testing.assert_allclose(ours_transforms(vl.tensor(floats)).numpy(),
                               tv_transforms(torch.from_numpy(floats)).numpy(), atol=2e-5)


def test_preset_without_resize_leaves_its_input_alone():
    preset_t = tvm.segmentation.LRASPP_MobileNet_V3_Large_Weights.DEFAULT.transforms.func(resize_size=None)
    preset_v = vm.segmentation.LRASPP_MobileNet_V3_Large_Weights.DEFAULT.transforms.func(resize_size=None)
    x = np.random.default_rng(0).random((3, 20, 30), dtype=np.float32)
    given = vl.tensor(x.copy())
    got = preset_v(given).numpy()
    np.testing.assert_allclose(got, preset_t(torch.from_numpy(x)).numpy(), atol=1e-6)
    np.testing.assert_array_equal(given.numpy(), x)  # normalized into a new tensor, as TorchVision


@pytest.fixture
def clean_hub(monkeypatch, tmp_path):
    from visionlite import download as dl
    from visionlite import hub

    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)


def test_pretrained_weights_load_through_the_hub(clean_hub, local_http_server, monkeypatch, tmp_path):
    """``weights="DEFAULT"``: a PyTorch-written checkpoint served on 127.0.0.1 is downloaded, verified and
    loaded strictly; the weights bring the auxiliary head and 21 classes, as TorchVision's builder does."""
    theirs = _torch_model("deeplabv3_mobilenet_v3_large", aux_loss=True).eval()
    path = tmp_path / "ckpt.pth"
    torch.save(theirs.state_dict(), path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    file_name = f"deeplabv3_mobilenet_v3_large-{sha[:8]}.pth"
    local_http_server.add_file(f"models/{file_name}", data)
    value = vm.segmentation.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1.value
    monkeypatch.setattr(value, "url", local_http_server.url(f"models/{file_name}"))
    monkeypatch.setattr(value, "sha256", sha)

    ours = vm.get_model("deeplabv3_mobilenet_v3_large", weights="DEFAULT", progress=False).eval()
    assert ours.aux_classifier is not None
    x = _photo(96, 128)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))
    with vl.no_grad():
        got = ours(vl.tensor(x))
    for key in ("out", "aux"):
        _assert_close(got[key].numpy(), expected[key].numpy())
    with pytest.raises(ValueError, match="num_classes"):
        vm.segmentation.deeplabv3_mobilenet_v3_large(weights="DEFAULT", num_classes=5)
    with pytest.raises(ValueError, match="aux_loss"):
        vm.segmentation.deeplabv3_mobilenet_v3_large(weights="DEFAULT", aux_loss=False)


def test_default_backbone_weights_load_through_the_hub(clean_hub, local_http_server, monkeypatch, tmp_path):
    """The default ``weights_backbone`` (ImageNet MobileNetV3-Large) is fetched and loaded into the dilated
    backbone, as TorchVision's builder does; the heads stay randomly initialised."""
    torch.manual_seed(0)
    imagenet = tvm.mobilenet_v3_large()
    _perturb(imagenet)
    path = tmp_path / "backbone.pth"
    torch.save(imagenet.state_dict(), path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    file_name = f"mobilenet_v3_large-{sha[:8]}.pth"
    local_http_server.add_file(f"models/{file_name}", data)
    value = vm.MobileNet_V3_Large_Weights.IMAGENET1K_V1.value
    monkeypatch.setattr(value, "url", local_http_server.url(f"models/{file_name}"))
    monkeypatch.setattr(value, "sha256", sha)

    model = vm.segmentation.lraspp_mobilenet_v3_large(progress=False)
    expected = imagenet.features.state_dict()
    got = model.backbone.state_dict()
    assert list(got) == list(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)
    assert local_http_server.gets(f"models/{file_name}") == 1


# ----------------------------------------------------------------------------------- drawing the masks

def test_draw_segmentation_masks_on_the_model_output_matches_torchvision(tmp_path):
    """The TorchVision tutorial's recipe: softmax over the classes, one boolean mask per class (argmax) or
    per threshold, drawn on the uint8 photo; visionlite's drawing equals TorchVision's on the same masks."""
    height, width = 96, 128

    def center_the_classes(model, x):
        # A random model favours one class everywhere, with logits close together: scale the classifiers
        # up and subtract each class's mean logit (a per-class constant, which the bilinear upsampling
        # keeps) so the image decides and several classes win, as a trained model's would.
        head = model.classifier
        with torch.no_grad():
            for conv in (head.low_classifier, head.high_classifier):
                conv.weight *= 30
                conv.bias *= 30
            head.low_classifier.bias -= model(torch.from_numpy(x))["out"].mean(dim=(0, 2, 3))

    out = _check_outputs("lraspp_mobilenet_v3_large", tmp_path, _photo(height, width),
                         adjust=center_the_classes)["out"]
    normalized = out.softmax(dim=1)
    theirs_probs = torch.from_numpy(normalized.numpy())
    num_classes = normalized.shape[1]
    class_masks = normalized[0].argmax(0) == vl.arange(num_classes)[:, None, None]
    assert tuple(class_masks.shape) == (num_classes, height, width) and class_masks.dtype == vl.bool
    expected_masks = theirs_probs[0].argmax(0) == torch.arange(num_classes)[:, None, None]
    assert (class_masks.numpy() == expected_masks.numpy()).mean() > 0.999
    assert class_masks.numpy().any(axis=(1, 2)).sum() >= 2  # several classes win somewhere
    threshold_masks = normalized[0] > 0.5 / num_classes  # overlapping masks: covered twice turns black

    photo = Image.open(os.path.join(ASSETS, "chelsea.png")).convert("RGB").resize((width, height))
    img = np.asarray(photo).transpose(2, 0, 1).copy()
    for masks, kwargs in [(class_masks, dict(alpha=0.6)), (threshold_masks, dict(alpha=0.3)),
                          (class_masks[8], dict(colors="blue"))]:
        drawn = vl.utils.draw_segmentation_masks(vl.tensor(img), masks, **kwargs)
        expected = tv_utils.draw_segmentation_masks(torch.from_numpy(img), torch.from_numpy(masks.numpy()),
                                                    **kwargs)
        assert drawn.dtype == vl.uint8
        np.testing.assert_array_equal(drawn.numpy(), expected.numpy())
        assert (drawn.numpy() != img).any()
    floats = img.astype(np.float32) / 255
    drawn = vl.utils.draw_segmentation_masks(vl.tensor(floats), threshold_masks, alpha=0.5)
    expected = tv_utils.draw_segmentation_masks(torch.from_numpy(floats),
                                                torch.from_numpy(threshold_masks.numpy()), alpha=0.5)
    np.testing.assert_allclose(drawn.numpy(), expected.numpy(), atol=1e-6)


# ------------------------------------------------------------------------------------------- structure

def test_module_and_class_names_follow_torchvision():
    seg = vm.segmentation
    for family, names in {
        "fcn": ["FCN", "FCNHead", "fcn_resnet50", "fcn_resnet101"],
        "deeplabv3": ["DeepLabV3", "DeepLabHead", "ASPP", "ASPPConv", "ASPPPooling", "deeplabv3_resnet50",
                      "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large"],
        "lraspp": ["LRASPP", "LRASPPHead", "lraspp_mobilenet_v3_large"],
        "_utils": ["_SimpleSegmentationModel"],
    }.items():
        ours, theirs = getattr(seg, family), getattr(tvm.segmentation, family)
        for n in names:
            assert hasattr(ours, n) and hasattr(theirs, n), (family, n)
    theirs_all = [*tvm.segmentation.deeplabv3.__all__, *tvm.segmentation.fcn.__all__,
                  *tvm.segmentation.lraspp.__all__]
    assert sorted(seg.__all__) == sorted(theirs_all)
    assert issubclass(seg.FCN, seg._utils._SimpleSegmentationModel)
    assert issubclass(seg.DeepLabV3, seg._utils._SimpleSegmentationModel)
    model = vm.get_model("deeplabv3_resnet50", weights_backbone=None, aux_loss=True)
    assert type(model).__name__ == "DeepLabV3" and type(model.backbone).__name__ == "IntermediateLayerGetter"
    assert type(model.classifier[0]).__name__ == "ASPP" and type(model.aux_classifier).__name__ == "FCNHead"
    assert [type(m).__name__ for m in model.classifier[0].convs] == [
        "Sequential", "ASPPConv", "ASPPConv", "ASPPConv", "ASPPPooling"]


def test_list_models_and_get_model_as_torchvision():
    import visionlite.models.segmentation as seg

    assert vm.segmentation is seg
    assert vm.list_models(module=seg) == tvm.list_models(module=tvm.segmentation) == sorted(BUILDERS)
    assert set(BUILDERS) <= set(vm.list_models())
    assert not set(BUILDERS) & set(vm.list_models(module=vm))  # as TorchVision: only in the subpackage
    assert vm.get_model_builder("DeepLabV3_ResNet50") is seg.deeplabv3_resnet50
    assert vm.get_weight("FCN_ResNet50_Weights.DEFAULT") is seg.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1
    # The backbones' ImageNet weights are the default, as TorchVision's.
    for name in BUILDERS:
        ours = inspect.signature(vm.get_model_builder(name)).parameters
        theirs = inspect.signature(tvm.get_model_builder(name)).parameters
        assert repr(ours["weights_backbone"].default) == repr(theirs["weights_backbone"].default)
        assert [p for p in ours if p != "kwargs"] == [p for p in theirs if p != "kwargs"]


def test_subpackage_is_lazy():
    code = ("import sys, visionlite.models as m; assert 'visionlite.models.segmentation' not in sys.modules;"
            "m.list_models(include='resnet18'); import visionlite as vl;"
            "print(vl.models.segmentation.lraspp_mobilenet_v3_large.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "lraspp_mobilenet_v3_large"


def test_parameter_counts_match_the_registry():
    for name in ["deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "fcn_resnet50",
                 "deeplabv3_resnet50"]:
        aux = {} if name.startswith("lraspp") else {"aux_loss": True}  # the weights carry the aux head
        model = vm.get_model(name, weights_backbone=None, **aux)
        count = sum(int(np.prod(p.shape)) for p in model.parameters())
        assert count == vm.get_model_weights(name).DEFAULT.meta["num_params"], name


def test_intermediate_layer_getter_matches_torchvision():
    from torchvision.models._utils import IntermediateLayerGetter as TVGetter

    from visionlite.models._utils import IntermediateLayerGetter

    torch.manual_seed(0)
    theirs_net = tvm.resnet18()
    _perturb(theirs_net)
    ours_net = vm.resnet18()
    ours_net.load_state_dict({k: vl.tensor(v.numpy()) for k, v in theirs_net.state_dict().items()})
    layers = {"layer1": "feat1", "layer3": "feat2"}
    theirs, ours = TVGetter(theirs_net, layers).eval(), IntermediateLayerGetter(ours_net, layers).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.keys()) == list(theirs.keys())  # children after layer3 are dropped
    x = _photo(64, 64)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))
    with vl.no_grad():
        got = ours(vl.tensor(x))
    assert list(got) == list(expected) == ["feat1", "feat2"]
    for k in expected:
        _assert_close(got[k].numpy(), expected[k].numpy())
    with pytest.raises(ValueError, match="return_layers are not present in model"):
        IntermediateLayerGetter(ours_net, {"layer9": "x"})


def test_bad_arguments_raise_clear_errors():
    seg = vm.segmentation
    with pytest.raises(NotImplementedError, match="auxiliary loss"):
        seg.lraspp_mobilenet_v3_large(weights_backbone=None, aux_loss=True)
    seg.lraspp_mobilenet_v3_large(weights_backbone=None, aux_loss=False)  # accepted, as TorchVision
    with pytest.raises(TypeError, match="weights=FCN_ResNet50_Weights.DEFAULT"):
        seg.fcn_resnet50(pretrained=True)
    with pytest.raises(TypeError, match="weights_backbone"):
        seg.deeplabv3_resnet50(pretrained_backbone=False)
    with pytest.raises(TypeError, match="num_class"):
        seg.deeplabv3_mobilenet_v3_large(weights_backbone=None, num_class=3)
    with pytest.raises(ValueError, match="COCO_WITH_VOC_LABELS_V1"):
        seg.fcn_resnet50(weights="IMAGENET1K_V1")
    with pytest.raises(TypeError, match="MobileNet_V3_Large_Weights"):
        seg.lraspp_mobilenet_v3_large(weights_backbone=vm.ResNet50_Weights.DEFAULT)


def test_gpu_outputs_and_gradients_match_cpu(gpu):
    """The same random DeepLabV3-MobileNetV3 (both heads) on cupy and numpy: eval outputs, then a train-mode
    cross-entropy step's loss and gradients."""
    vl.manual_seed(0)
    cpu_model = vm.segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None, num_classes=4,
                                                             aux_loss=True)
    _no_dropout(cpu_model, vl.nn.Dropout)
    gpu_model = vm.segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None, num_classes=4,
                                                             aux_loss=True)
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(gpu)
    _no_dropout(gpu_model, vl.nn.Dropout)
    x = _photo(64, 96, TWO)
    target = np.random.default_rng(0).integers(0, 4, size=(2, 64, 96))
    results = []
    for model, dev in ((cpu_model, "cpu"), (gpu_model, gpu)):
        xv, tv = vl.tensor(x, device=dev), vl.tensor(target, device=dev)
        with vl.no_grad():
            evaluated = {k: v.cpu().numpy() for k, v in model.eval()(xv).items()}
        out = model.train()(xv)
        loss = (vl.nn.functional.cross_entropy(out["out"], tv)
                + 0.5 * vl.nn.functional.cross_entropy(out["aux"], tv))
        loss.backward()
        grads = {n: p.grad.cpu().numpy() for n, p in model.named_parameters()}
        results.append((evaluated, loss.item(), grads))
    (eval_c, loss_c, grads_c), (eval_g, loss_g, grads_g) = results
    for k in eval_c:
        np.testing.assert_allclose(eval_g[k], eval_c[k], rtol=1e-4, atol=1e-4 * np.abs(eval_c[k]).max())
    np.testing.assert_allclose(loss_g, loss_c, rtol=1e-5)
    for n, g in grads_c.items():
        np.testing.assert_allclose(grads_g[n], g, rtol=1e-3, atol=1e-4 * max(np.abs(g).max(), 1e-6),
                                   err_msg=n)
