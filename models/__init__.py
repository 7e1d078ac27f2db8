"""visionlite.models: TorchVision-compatible classification models and their pretrained weights.

``from visionlite.models import resnet50, ResNet50_Weights`` imports only the ResNet family: each name
loads its module on first use, so ``import visionlite.models`` stays cheap.
"""
import importlib
import sys
import types

from ._api import (  # noqa: F401
    Weights,
    WeightsEnum,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)

# Public names of each submodule, so that attribute access imports only the module that defines the name.
_EXPORTS = {
    "alexnet": ["AlexNet", "AlexNet_Weights", "alexnet"],
    "mobilenetv2": ["MobileNetV2", "MobileNet_V2_Weights", "mobilenet_v2"],
    "mobilenetv3": ["MobileNetV3", "MobileNet_V3_Large_Weights", "MobileNet_V3_Small_Weights",
                    "mobilenet_v3_large", "mobilenet_v3_small"],
    "resnet": [
        "ResNet", "BasicBlock", "Bottleneck",
        "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
        "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights", "ResNeXt101_64X4D_Weights",
        "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights",
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    ],
    "swin_transformer": ["SwinTransformer", "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights",
                         "Swin_V2_T_Weights", "Swin_V2_S_Weights", "Swin_V2_B_Weights",
                         "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"],
    "maxvit": ["MaxVit", "MaxVit_T_Weights", "maxvit_t"],
    "squeezenet": ["SqueezeNet", "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights", "squeezenet1_0",
                   "squeezenet1_1"],
    "vgg": ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights",
            "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights",
            "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
    "convnext": ["ConvNeXt", "ConvNeXt_Tiny_Weights", "ConvNeXt_Small_Weights", "ConvNeXt_Base_Weights",
                 "ConvNeXt_Large_Weights", "convnext_tiny", "convnext_small", "convnext_base",
                 "convnext_large"],
    "efficientnet": [
        "EfficientNet", "EfficientNet_B0_Weights", "EfficientNet_B1_Weights", "EfficientNet_B2_Weights",
        "EfficientNet_B3_Weights", "EfficientNet_B4_Weights", "EfficientNet_B5_Weights",
        "EfficientNet_B6_Weights", "EfficientNet_B7_Weights", "EfficientNet_V2_S_Weights",
        "EfficientNet_V2_M_Weights", "EfficientNet_V2_L_Weights", "efficientnet_b0", "efficientnet_b1",
        "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6",
        "efficientnet_b7", "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
    ],
    "mnasnet": ["MNASNet", "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights",
                "MNASNet1_3_Weights", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
    "regnet": [
        "RegNet", "RegNet_Y_400MF_Weights", "RegNet_Y_800MF_Weights", "RegNet_Y_1_6GF_Weights",
        "RegNet_Y_3_2GF_Weights", "RegNet_Y_8GF_Weights", "RegNet_Y_16GF_Weights", "RegNet_Y_32GF_Weights",
        "RegNet_Y_128GF_Weights", "RegNet_X_400MF_Weights", "RegNet_X_800MF_Weights",
        "RegNet_X_1_6GF_Weights", "RegNet_X_3_2GF_Weights", "RegNet_X_8GF_Weights", "RegNet_X_16GF_Weights",
        "RegNet_X_32GF_Weights", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf",
        "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf", "regnet_x_400mf",
        "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf", "regnet_x_16gf",
        "regnet_x_32gf",
    ],
    "densenet": ["DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights",
                 "DenseNet201_Weights", "densenet121", "densenet161", "densenet169", "densenet201"],
    "googlenet": ["GoogLeNet", "GoogLeNetOutputs", "_GoogLeNetOutputs", "GoogLeNet_Weights", "googlenet"],
    "inception": ["Inception3", "InceptionOutputs", "_InceptionOutputs", "Inception_V3_Weights",
                  "inception_v3"],
    "shufflenetv2": ["ShuffleNetV2", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights",
                     "ShuffleNet_V2_X1_5_Weights", "ShuffleNet_V2_X2_0_Weights", "shufflenet_v2_x0_5",
                     "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"],
    "vision_transformer": ["VisionTransformer", "ViT_B_16_Weights", "ViT_B_32_Weights", "ViT_L_16_Weights",
                           "ViT_L_32_Weights", "ViT_H_14_Weights", "vit_b_16", "vit_b_32", "vit_l_16",
                           "vit_l_32", "vit_h_14"],
    "_finetune": ["replace_head", "get_head", "drop_aux_heads", "load_finetuned", "freeze_backbone",
                  "freeze_batchnorm", "unfreeze_batchnorm",
                  "param_groups", "count_parameters", "ModelEMA"],
    "feature_extraction": ["create_feature_extractor", "get_graph_node_names"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights", "get_weight",
           "list_models", *_HOME]


# Subpackages loaded on first attribute access (``visionlite.models.segmentation``), as TorchVision's.
_SUBPACKAGES = {"segmentation", "detection", "optical_flow", "video"}


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME) | _SUBPACKAGES)


_ALL_LOADED, _LOADING = [], []  # flags for _Package.__dict__ (lists: mutated in place, never rebound)


class _Package(types.ModuleType):
    # Importing the submodule ``alexnet`` makes Python set the package attribute ``alexnet`` to the module;
    # keep the builder function there instead, as TorchVision's star imports do.
    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _HOME.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)

    @property
    def __dict__(self):
        # TorchVision's reference scripts pick an architecture with ``models.__dict__[name]`` and list them by
        # scanning it; a module's namespace cannot be a lazy mapping, so reading it through ``__dict__``
        # first loads every family (import-time cost is paid only by code that asks for the whole dict).
        namespace = super().__dict__
        # The state lives outside the namespace: a caller may be iterating over it while reading entries.
        if not _ALL_LOADED and not _LOADING:
            _LOADING.append(True)
            try:
                for name in _HOME:
                    if name not in namespace:
                        __getattr__(name)
                from ._api import BUILTIN_MODELS, _import_all

                _import_all()
                for name, builder in BUILTIN_MODELS.items():  # registered builders not listed in _EXPORTS
                    if builder.__module__.rsplit(".", 1)[0] == __name__:  # subpackages' stay in them
                        namespace.setdefault(name, builder)
                _ALL_LOADED.append(True)
            finally:
                _LOADING.clear()
        return namespace


sys.modules[__name__].__class__ = _Package
