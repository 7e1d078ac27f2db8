"""Lite R-ASPP (Howard et al., "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244) on a
MobileNetV3-Large with a dilated last stage, with TorchVision's state-dict keys and weights.

The head gates the 1/16-resolution features with a squeeze-style global attention, upsamples them to the
1/8-resolution features and adds a linear classifier of each.
"""
from collections import OrderedDict

import visionlite.nn.functional as F
from visionlite import nn

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import IntermediateLayerGetter, _load_weights
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ._utils import _check_builder_kwargs, _documented, _mobilenet_stage_indices, _resolve_args

__all__ = ["LRASPP", "LRASPP_MobileNet_V3_Large_Weights", "lraspp_mobilenet_v3_large"]


class LRASPP(nn.Module):
    """Lite R-ASPP network.

    Args:
        backbone: module returning an ``OrderedDict`` with ``"low"`` (high resolution) and ``"high"`` (low
            resolution, many channels) feature maps.
        low_channels, high_channels: channels of those two maps.
        num_classes: output classes including the background.
        inter_channels: width of the head's gated branch.
    ``forward`` returns an ``OrderedDict`` ``{"out": (N, num_classes, H, W)}`` for ``(N, 3, H, W)`` input.
    """

    def __init__(self, backbone, low_channels, high_channels, num_classes, inter_channels=128):
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, input):
        out = self.classifier(self.backbone(input))
        result = OrderedDict()
        result["out"] = F.interpolate(out, size=input.shape[-2:], mode="bilinear", align_corners=False)
        return result


class LRASPPHead(nn.Module):
    """``cbr`` (1x1 conv, BatchNorm, ReLU) of the high features times ``scale`` (global pooling, 1x1 conv,
    sigmoid), upsampled to the low features' size, through ``high_classifier``; plus ``low_classifier`` of
    the low features. Input ``{"low": ..., "high": ...}``; output at the low features' resolution."""

    def __init__(self, low_channels, high_channels, num_classes, inter_channels):
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, input):
        low, high = input["low"], input["high"]
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


def _lraspp_mobilenetv3(backbone, num_classes):
    features = backbone.features
    stages = _mobilenet_stage_indices(features)
    low_pos, high_pos = stages[-4], stages[-1]  # C2 (output stride 8) and C5 (output stride 16, dilated)
    body = IntermediateLayerGetter(features, return_layers={str(low_pos): "low", str(high_pos): "high"})
    return LRASPP(body, features[low_pos].out_channels, features[high_pos].out_channels, num_classes)


class LRASPP_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("lraspp_mobilenet_v3_large", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@_documented("Lite R-ASPP with a MobileNetV3-Large backbone (last stage dilated). It has no auxiliary head: "
             "``aux_loss=True`` raises NotImplementedError.", "LRASPP", LRASPP_MobileNet_V3_Large_Weights,
             MobileNet_V3_Large_Weights, aux=False)
def lraspp_mobilenet_v3_large(
        *, weights: LRASPP_MobileNet_V3_Large_Weights | None = None, progress: bool = True,
        num_classes: int | None = None,
        weights_backbone: MobileNet_V3_Large_Weights | None = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        **kwargs) -> LRASPP:
    if kwargs.pop("aux_loss", False):
        raise NotImplementedError("This model does not use auxiliary loss: lraspp_mobilenet_v3_large has no "
                                  "auxiliary head (pass aux_loss=False or leave it out)")
    _check_builder_kwargs(kwargs, LRASPP_MobileNet_V3_Large_Weights, "lraspp_mobilenet_v3_large")
    weights = LRASPP_MobileNet_V3_Large_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    weights_backbone, num_classes, _ = _resolve_args(weights, weights_backbone, num_classes, None)
    backbone = mobilenet_v3_large(weights=weights_backbone, dilated=True)
    model = _lraspp_mobilenetv3(backbone, num_classes)
    return model if weights is None else _load_weights(model, weights, progress)
