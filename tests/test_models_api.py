"""The weights registry and model API: names, lookups and metadata equal TorchVision's."""
import copy
import subprocess
import sys

import pytest

from tests.helpers.refs import require
from visionlite import models as vm
from visionlite.models import _api

MODELS = [
    "alexnet", "maxvit_t", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "resnet101",
    "resnet152", "resnet18", "resnet34", "resnet50", "resnext101_32x8d", "resnext101_64x4d",
    "resnext50_32x4d", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t", "swin_v2_b",
    "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "wide_resnet101_2", "wide_resnet50_2",
]
# Issue 11, part A: EfficientNet, ConvNeXt, RegNet and MNASNet.
MODELS = sorted(MODELS + [
    "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "efficientnet_b0",
    "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5",
    "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l", "efficientnet_v2_m", "efficientnet_v2_s",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "regnet_x_16gf", "regnet_x_1_6gf",
    "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf", "regnet_y_128gf",
    "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf", "regnet_y_800mf",
    "regnet_y_8gf",
])
# Issue 11, part B: DenseNet, ShuffleNetV2, GoogLeNet, Inception v3, Vision Transformer.
MODELS = sorted(MODELS + [
    "densenet121", "densenet161", "densenet169", "densenet201", "googlenet", "inception_v3",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "vit_b_16",
    "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32",
])
# Issue 12: segmentation (visionlite.models.segmentation).
MODELS = sorted(MODELS + [
    "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101", "deeplabv3_resnet50", "fcn_resnet101",
    "fcn_resnet50", "lraspp_mobilenet_v3_large",
])
# Issue 12: detection (visionlite.models.detection).
MODELS = sorted(MODELS + [
    "fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2", "fcos_resnet50_fpn", "keypointrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2", "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2", "ssd300_vgg16",
    "ssdlite320_mobilenet_v3_large",
])
# Issue 17: optical flow (visionlite.models.optical_flow).
MODELS = sorted(MODELS + ["raft_large", "raft_small"])
# Issue 17: video classification (visionlite.models.video).
MODELS = sorted(MODELS + ["mc3_18", "mvit_v1_b", "mvit_v2_s", "r2plus1d_18", "r3d_18", "s3d", "swin3d_b",
                          "swin3d_s", "swin3d_t"])


def test_list_models_and_filters():
    assert vm.list_models() == MODELS
    assert vm.list_models(include="resnet*") == ["resnet101", "resnet152", "resnet18", "resnet34", "resnet50"]
    assert vm.list_models(include=["vgg1?", "alex*"]) == ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19"]
    assert vm.list_models(include="vgg*", exclude=["*_bn", "vgg1[13]"]) == ["vgg16", "vgg19"]
    import visionlite.models.mobilenetv3 as mv3

    assert vm.list_models(module=mv3) == ["mobilenet_v3_large", "mobilenet_v3_small"]


def _keywords(preset):
    # TorchVision's detection weights hold the ObjectDetection class itself, not a partial: no keywords
    return {k: str(v) if k == "interpolation" else v for k, v in getattr(preset, "keywords", {}).items()}


def test_same_models_and_weights_as_torchvision():
    tvm = require("torchvision.models")
    for name in MODELS:
        ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
        assert ours.__name__ == theirs.__name__
        assert list(ours.__members__) == list(theirs.__members__), name
        assert ours.DEFAULT.name == theirs.DEFAULT.name
        for member in theirs:
            mine = ours[member.name]
            assert mine.url == member.url
            # The registry spells interpolation "InterpolationMode.BICUBIC", as str() of TorchVision's enum.
            assert _keywords(mine.transforms) == _keywords(member.transforms), (name, member.name)
            for key, value in member.meta.items():
                if key == "_docs":
                    continue
                mv = mine.meta[key]
                if key == "_metrics":
                    assert str(mv) == str(value)  # NaN-tolerant equality for the SSD feature weights
                else:
                    assert mv == value, (name, member.name, key)


def test_import_is_lazy():
    code = ("import sys, visionlite.models as m; assert 'visionlite.models.resnet' not in sys.modules;"
            "from visionlite.models import resnet50, ResNet50_Weights;"
            "assert 'visionlite.models.vgg' not in sys.modules; print(ResNet50_Weights.DEFAULT)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ResNet50_Weights.IMAGENET1K_V2"


def test_exports_match_submodules():
    import importlib

    for module, names in vm._EXPORTS.items():
        mod = importlib.import_module(f"visionlite.models.{module}")
        assert sorted(names) == sorted(mod.__all__), module
    with pytest.raises(AttributeError):
        vm.resnet9000  # noqa: B018


def test_verify_accepts_member_name_and_none():
    W = vm.ResNet50_Weights
    assert W.verify(None) is None
    assert W.verify(W.IMAGENET1K_V1) is W.IMAGENET1K_V1
    assert W.verify("IMAGENET1K_V1") is W.IMAGENET1K_V1
    assert W.verify("DEFAULT") is W.IMAGENET1K_V2
    assert W.verify("ResNet50_Weights.DEFAULT") is W.IMAGENET1K_V2
    with pytest.raises(ValueError, match="IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"):
        W.verify("IMAGENET1K_V3")
    with pytest.raises(TypeError, match="ResNet50_Weights"):
        W.verify(vm.ResNet18_Weights.DEFAULT)
    with pytest.raises(TypeError, match="DEFAULT"):
        W.verify(True)


def test_get_weight_and_builders():
    assert vm.get_weight("ResNet50_Weights.IMAGENET1K_V1") is vm.ResNet50_Weights.IMAGENET1K_V1
    assert vm.get_weight("MobileNet_V3_Small_Weights.DEFAULT") is vm.MobileNet_V3_Small_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="EnumName.MEMBER"):
        vm.get_weight("resnet50")
    with pytest.raises(ValueError, match="No weights enum"):
        vm.get_weight("Foo_Weights.X")
    assert vm.get_model_builder("ResNet18") is vm.resnet18
    assert vm.get_model_weights(vm.vgg16) is vm.VGG16_Weights
    assert vm.vgg16_bn.__name__ == "vgg16_bn" and "VGG16_BN_Weights" in vm.vgg16_bn.__doc__
    with pytest.raises(ValueError, match="Unknown model 'resnet9'.*resnet"):
        vm.get_model("resnet9")


def test_weights_fields():
    w = vm.ResNet50_Weights.IMAGENET1K_V2
    assert repr(w) == "ResNet50_Weights.IMAGENET1K_V2"
    assert w.file_name == "resnet50-11ad3fa6.pth"
    assert len(w.meta["categories"]) == 1000 and w.meta["categories"][281] == "tabby"
    assert w.meta["_metrics"]["ImageNet-1K"]["acc@1"] == 80.858
    assert w.transforms.keywords == {"crop_size": 224, "resize_size": 232}
    assert vm.VGG16_Weights.IMAGENET1K_FEATURES.meta["categories"] is None
    # Copies stay equal to the member (the Enum machinery relies on it).
    assert copy.deepcopy(w.value) == w.value
    assert w.value != vm.ResNet50_Weights.IMAGENET1K_V1.value


def test_registry_defaults_and_hashes_consistent():
    registry = _api._registry()
    # The registry also holds the entries of families still being built; every built family has its entries.
    assert set(MODELS) <= set(registry)
    for name in MODELS:
        enum = vm.get_model_weights(name)
        assert enum.DEFAULT.name == _api.default_weights_name(name)
        for member in enum:
            sha = member.sha256
            # A pinned full hash must agree with the prefix TorchVision put in the file name.
            prefix = member.file_name.rsplit("-", 1)[-1].split(".")[0]
            assert sha is None or (len(sha) == 64 and sha.startswith(prefix)), member


def test_builder_rejects_pretrained_and_conflicting_classes():
    with pytest.raises(TypeError, match="weights=ResNet18_Weights.DEFAULT"):
        vm.resnet18(pretrained=True)
    with pytest.raises(ValueError, match="num_classes.*1000.*replace_head"):
        vm.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="Unknown weights"):
        vm.alexnet(weights="IMAGENET1K_V2")


def test_imagenet_categories_file():
    from visionlite.models._meta import imagenet_categories

    cats = imagenet_categories()
    assert len(cats) == 1000 and cats[0] == "tench" and cats[-1] == "toilet tissue"
    tvm = require("torchvision.models")
    assert cats == tvm.ResNet18_Weights.DEFAULT.meta["categories"]
