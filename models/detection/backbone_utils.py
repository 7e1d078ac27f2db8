"""Backbones for the detectors: a ResNet or MobileNet trunk, its intermediate feature maps, and a feature
pyramid network on top (TorchVision's ``models/detection/backbone_utils.py``)."""
import warnings

from visionlite import nn
from visionlite.ops import misc as misc_nn_ops
from visionlite.ops.feature_pyramid_network import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool

from .. import mobilenetv2, mobilenetv3, resnet
from .._utils import IntermediateLayerGetter

__all__ = ["BackboneWithFPN", "resnet_fpn_backbone", "mobilenet_backbone", "_resnet_fpn_extractor",
           "_mobilenet_extractor", "_validate_trainable_layers"]

_ = ExtraFPNBlock  # re-exported: user code subclasses it from here, as from TorchVision's module


class BackboneWithFPN(nn.Module):
    """A trunk whose ``return_layers`` feed a FeaturePyramidNetwork of ``out_channels`` channels.

    Args:
        backbone: the trunk.
        return_layers: {trunk module name: output name}.
        in_channels_list: channels of the returned maps, in order.
        out_channels: channels of every pyramid level.
        extra_blocks: extra pyramid levels (default: LastLevelMaxPool, the ``pool`` level).
        norm_layer: normalisation inside the FPN (default: none).
    """

    def __init__(self, backbone, return_layers, in_channels_list, out_channels, extra_blocks=None,
                 norm_layer=None):
        super().__init__()
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(in_channels_list=in_channels_list, out_channels=out_channels,
                                         extra_blocks=extra_blocks, norm_layer=norm_layer)
        self.out_channels = out_channels

    def forward(self, x):
        """(N, 3, H, W) -> OrderedDict of pyramid maps ('0', '1', ..., 'pool')."""
        return self.fpn(self.body(x))


_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
            "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")


def resnet_fpn_backbone(*, backbone_name, weights, norm_layer=misc_nn_ops.FrozenBatchNorm2d,
                        trainable_layers=3, returned_layers=None, extra_blocks=None):
    """A ResNet of ``backbone_name`` (with ``weights``) under an FPN, its first layers frozen so that only
    ``trainable_layers`` (0-5, from the last block) train."""
    if backbone_name not in _RESNETS:
        raise ValueError(f"Unknown backbone_name {backbone_name!r}; choose one of {', '.join(_RESNETS)}")
    backbone = getattr(resnet, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _resnet_fpn_extractor(backbone, trainable_layers, returned_layers, extra_blocks)


def _resnet_fpn_extractor(backbone, trainable_layers, returned_layers=None, extra_blocks=None,
                          norm_layer=None):
    if trainable_layers < 0 or trainable_layers > 5:
        raise ValueError(f"Trainable layers should be in the range [0,5], got {trainable_layers}")
    trained = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        trained.append("bn1")
    for name, parameter in backbone.named_parameters():
        if not any(name.startswith(layer) for layer in trained):
            parameter.requires_grad_(False)
    if extra_blocks is None:
        extra_blocks = LastLevelMaxPool()
    if returned_layers is None:
        returned_layers = [1, 2, 3, 4]
    if min(returned_layers) <= 0 or max(returned_layers) >= 5:
        raise ValueError(f"Each returned layer should be in the range [1,4]. Got {returned_layers}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    stage2 = backbone.inplanes // 8
    in_channels_list = [stage2 * 2 ** (i - 1) for i in returned_layers]
    return BackboneWithFPN(backbone, return_layers, in_channels_list, 256, extra_blocks=extra_blocks,
                           norm_layer=norm_layer)


def _validate_trainable_layers(is_trained, trainable_backbone_layers, max_value, default_value):
    """The number of trainable backbone layers: all (``max_value``) without pretrained weights, else the
    requested number or ``default_value``."""
    if not is_trained:
        if trainable_backbone_layers is not None:
            warnings.warn("Changing trainable_backbone_layers has no effect if neither pretrained nor "
                          "pretrained_backbone have been set to True, falling back to "
                          f"trainable_backbone_layers={max_value} so that all layers are trainable",
                          stacklevel=2)
        trainable_backbone_layers = max_value
    if trainable_backbone_layers is None:
        trainable_backbone_layers = default_value
    if trainable_backbone_layers < 0 or trainable_backbone_layers > max_value:
        raise ValueError(f"Trainable backbone layers should be in the range [0,{max_value}], "
                         f"got {trainable_backbone_layers} ")
    return trainable_backbone_layers


def mobilenet_backbone(*, backbone_name, weights, fpn, norm_layer=misc_nn_ops.FrozenBatchNorm2d,
                       trainable_layers=2, returned_layers=None, extra_blocks=None):
    """A MobileNet (``mobilenet_v2``, ``mobilenet_v3_large``/``_small``) trunk, with an FPN when ``fpn``."""
    builders = {"mobilenet_v2": mobilenetv2.mobilenet_v2,
                "mobilenet_v3_large": mobilenetv3.mobilenet_v3_large,
                "mobilenet_v3_small": mobilenetv3.mobilenet_v3_small}
    if backbone_name not in builders:
        raise ValueError(f"Unknown backbone_name {backbone_name!r}; choose one of {', '.join(builders)}")
    backbone = builders[backbone_name](weights=weights, norm_layer=norm_layer)
    return _mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers, extra_blocks)


def _mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers=None, extra_blocks=None,
                         norm_layer=None):
    features = backbone.features
    # stages begin at the stem, at every strided block (_is_cn) and at the last conv
    strided = [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    stage_indices = [0] + strided + [len(features) - 1]
    n_stages = len(stage_indices)
    if trainable_layers < 0 or trainable_layers > n_stages:
        raise ValueError(f"Trainable layers should be in the range [0,{n_stages}], got {trainable_layers} ")
    freeze_before = len(features) if trainable_layers == 0 else stage_indices[n_stages - trainable_layers]
    for block in features[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    out_channels = 256
    if not fpn:
        m = nn.Sequential(features, nn.Conv2d(features[-1].out_channels, out_channels, 1))
        m.out_channels = out_channels
        return m
    if extra_blocks is None:
        extra_blocks = LastLevelMaxPool()
    if returned_layers is None:
        returned_layers = [n_stages - 2, n_stages - 1]
    if min(returned_layers) < 0 or max(returned_layers) >= n_stages:
        raise ValueError(f"Each returned layer should be in the range [0,{n_stages - 1}], "
                         f"got {returned_layers} ")
    return_layers = {f"{stage_indices[k]}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_list = [features[stage_indices[i]].out_channels for i in returned_layers]
    return BackboneWithFPN(features, return_layers, in_channels_list, out_channels, extra_blocks=extra_blocks,
                           norm_layer=norm_layer)
