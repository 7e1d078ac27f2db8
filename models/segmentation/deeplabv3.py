"""DeepLabV3 (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
https://arxiv.org/abs/1706.05587) on a dilated ResNet-50/101 or MobileNetV3-Large, with TorchVision's
state-dict keys and weights.

The head is atrous spatial pyramid pooling (ASPP): parallel 1x1 and dilated 3x3 convolutions plus an
image-level pooling branch, concatenated and projected to 256 channels.
"""
import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import IntermediateLayerGetter, _load_weights
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ..resnet import ResNet50_Weights, ResNet101_Weights, resnet50, resnet101
from ._utils import (
    _check_builder_kwargs,
    _documented,
    _mobilenet_stage_indices,
    _resolve_args,
    _SimpleSegmentationModel,
)
from .fcn import FCNHead

__all__ = [
    "DeepLabV3", "DeepLabV3_ResNet50_Weights", "DeepLabV3_ResNet101_Weights",
    "DeepLabV3_MobileNet_V3_Large_Weights", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50",
    "deeplabv3_resnet101",
]


class DeepLabV3(_SimpleSegmentationModel):
    """DeepLabV3: ``backbone`` features -> ``classifier`` (a :class:`DeepLabHead`) -> bilinear upsampling to
    the input size; ``aux_classifier`` (an ``FCNHead``) does the same on the ``"aux"`` features."""


class ASPPConv(nn.Sequential):
    """3x3 convolution with ``dilation`` (padded to keep the size), BatchNorm, ReLU."""

    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level branch: global average pooling, 1x1 convolution, BatchNorm, ReLU, then bilinear upsampling
    back to the input's ``H, W``."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x):
        size = x.shape[-2:]  # not tuple(): a symbolic trace (feature extraction) records the Size
        for layer in self:
            x = layer(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, one :class:`ASPPConv` per rate in ``atrous_rates`` and
    an :class:`ASPPPooling` branch, concatenated and projected (1x1, BatchNorm, ReLU, dropout 0.5) to
    ``out_channels``. ``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)``."""

    def __init__(self, in_channels, atrous_rates, out_channels=256):
        super().__init__()
        branches = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                  nn.BatchNorm2d(out_channels), nn.ReLU())]
        branches += [ASPPConv(in_channels, out_channels, rate) for rate in tuple(atrous_rates)]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x):
        return self.project(vl.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    """:class:`ASPP` (256 channels), a 3x3 convolution, BatchNorm, ReLU and a 1x1 convolution to
    ``num_classes``."""

    def __init__(self, in_channels, num_classes, atrous_rates=(12, 24, 36)):
        super().__init__(
            ASPP(in_channels, atrous_rates),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )


def _deeplabv3_resnet(backbone, num_classes, aux):
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    body = IntermediateLayerGetter(backbone, return_layers=return_layers)
    return DeepLabV3(body, DeepLabHead(2048, num_classes), FCNHead(1024, num_classes) if aux else None)


def _deeplabv3_mobilenetv3(backbone, num_classes, aux):
    features = backbone.features
    stages = _mobilenet_stage_indices(features)
    out_pos, aux_pos = stages[-1], stages[-4]  # C5 (output stride 16, dilated) and C2 (output stride 8)
    return_layers = {str(out_pos): "out"}
    if aux:
        return_layers[str(aux_pos)] = "aux"
    body = IntermediateLayerGetter(features, return_layers=return_layers)
    aux_classifier = FCNHead(features[aux_pos].out_channels, num_classes) if aux else None
    return DeepLabV3(body, DeepLabHead(features[out_pos].out_channels, num_classes), aux_classifier)


class DeepLabV3_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("deeplabv3_resnet50", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("deeplabv3_resnet101", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class DeepLabV3_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("deeplabv3_mobilenet_v3_large", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@_documented("DeepLabV3 with a ResNet-50 backbone (dilated: output stride 8).", "DeepLabV3",
             DeepLabV3_ResNet50_Weights, ResNet50_Weights)
def deeplabv3_resnet50(*, weights: DeepLabV3_ResNet50_Weights | None = None, progress: bool = True,
                       num_classes: int | None = None, aux_loss: bool | None = None,
                       weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                       **kwargs) -> DeepLabV3:
    _check_builder_kwargs(kwargs, DeepLabV3_ResNet50_Weights, "deeplabv3_resnet50")
    weights = DeepLabV3_ResNet50_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes, aux_loss = _resolve_args(weights, weights_backbone, num_classes, aux_loss)
    backbone = resnet50(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _deeplabv3_resnet(backbone, num_classes, aux_loss)
    return model if weights is None else _load_weights(model, weights, progress)


@register_model()
@_documented("DeepLabV3 with a ResNet-101 backbone (dilated: output stride 8).", "DeepLabV3",
             DeepLabV3_ResNet101_Weights, ResNet101_Weights)
def deeplabv3_resnet101(*, weights: DeepLabV3_ResNet101_Weights | None = None, progress: bool = True,
                        num_classes: int | None = None, aux_loss: bool | None = None,
                        weights_backbone: ResNet101_Weights | None = ResNet101_Weights.IMAGENET1K_V1,
                        **kwargs) -> DeepLabV3:
    _check_builder_kwargs(kwargs, DeepLabV3_ResNet101_Weights, "deeplabv3_resnet101")
    weights = DeepLabV3_ResNet101_Weights.verify(weights)
    weights_backbone = ResNet101_Weights.verify(weights_backbone)
    weights_backbone, num_classes, aux_loss = _resolve_args(weights, weights_backbone, num_classes, aux_loss)
    backbone = resnet101(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _deeplabv3_resnet(backbone, num_classes, aux_loss)
    return model if weights is None else _load_weights(model, weights, progress)


@register_model()
@_documented("DeepLabV3 with a MobileNetV3-Large backbone (last stage dilated: output stride 16).",
             "DeepLabV3", DeepLabV3_MobileNet_V3_Large_Weights, MobileNet_V3_Large_Weights)
def deeplabv3_mobilenet_v3_large(
        *, weights: DeepLabV3_MobileNet_V3_Large_Weights | None = None, progress: bool = True,
        num_classes: int | None = None, aux_loss: bool | None = None,
        weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        **kwargs) -> DeepLabV3:
    _check_builder_kwargs(kwargs, DeepLabV3_MobileNet_V3_Large_Weights, "deeplabv3_mobilenet_v3_large")
    weights = DeepLabV3_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    weights_backbone, num_classes, aux_loss = _resolve_args(weights, weights_backbone, num_classes, aux_loss)
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    model = _deeplabv3_mobilenetv3(backbone, num_classes, aux_loss)
    return model if weights is None else _load_weights(model, weights, progress)
