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
    "_finetune": ["replace_head", "get_head", "freeze_backbone", "freeze_batchnorm", "unfreeze_batchnorm",
                  "param_groups", "count_parameters", "ModelEMA"],
    "feature_extraction": ["create_feature_extractor", "get_graph_node_names"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights", "get_weight",
           "list_models", *_HOME]


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))


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
                    namespace.setdefault(name, builder)
                _ALL_LOADED.append(True)
            finally:
                _LOADING.clear()
        return namespace



sys.modules[__name__].__class__ = _Package
