"""SSDlite (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
https://arxiv.org/abs/1801.04381; Howard et al., "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244)
on MobileNetV3-Large at 320x320, with TorchVision's state-dict keys.

SSD with depthwise-separable prediction layers: the C4 expansion output and the last MobileNet features,
then four extra blocks (1x1, 3x3/2 depthwise, 1x1, ReLU6), each with 6 default boxes per location.
"""
import warnings
from collections import OrderedDict
from functools import partial

from visionlite import nn
from visionlite.ops.misc import Conv2dNormActivation

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from . import _utils as det_utils
from ._single_stage import check_builder_kwargs
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _validate_trainable_layers
from .retinanet import _documented, _resolve
from .ssd import SSD, SSDScoringHead

__all__ = ["SSDLiteHead", "SSDLiteClassificationHead", "SSDLiteRegressionHead",
           "SSDLiteFeatureExtractorMobileNet", "SSDLite320_MobileNet_V3_Large_Weights",
           "ssdlite320_mobilenet_v3_large"]


def _prediction_block(in_channels, out_channels, kernel_size, norm_layer):
    """Depthwise ``kernel_size`` conv-norm-ReLU6, then a 1x1 conv to ``out_channels``."""
    return nn.Sequential(
        Conv2dNormActivation(in_channels, in_channels, kernel_size=kernel_size, groups=in_channels,
                             norm_layer=norm_layer, activation_layer=nn.ReLU6),
        nn.Conv2d(in_channels, out_channels, 1),
    )


def _extra_block(in_channels, out_channels, norm_layer):
    """1x1 to half of ``out_channels``, 3x3/2 depthwise, 1x1 to ``out_channels``; each with norm and ReLU6."""
    mid = out_channels // 2
    return nn.Sequential(
        Conv2dNormActivation(in_channels, mid, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, mid, kernel_size=3, stride=2, groups=mid, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, out_channels, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
    )


def _normal_init(module):
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, mean=0.0, std=0.03)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDLiteClassificationHead(SSDScoringHead):
    """A depthwise-separable prediction block per feature map to ``num_anchors[l] * num_classes`` logits."""

    def __init__(self, in_channels, num_anchors, num_classes, norm_layer):
        blocks = nn.ModuleList([_prediction_block(c, num_classes * a, 3, norm_layer)
                                for c, a in zip(in_channels, num_anchors)])
        _normal_init(blocks)
        super().__init__(blocks, num_classes)


class SSDLiteRegressionHead(SSDScoringHead):
    """A depthwise-separable prediction block per feature map to ``num_anchors[l] * 4`` box deltas."""

    def __init__(self, in_channels, num_anchors, norm_layer):
        blocks = nn.ModuleList([_prediction_block(c, 4 * a, 3, norm_layer)
                                for c, a in zip(in_channels, num_anchors)])
        _normal_init(blocks)
        super().__init__(blocks, 4)


class SSDLiteHead(nn.Module):
    """Classification and regression heads; ``forward`` returns ``{"bbox_regression", "cls_logits"}``."""

    def __init__(self, in_channels, num_anchors, num_classes, norm_layer):
        super().__init__()
        self.classification_head = SSDLiteClassificationHead(in_channels, num_anchors, num_classes,
                                                             norm_layer)
        self.regression_head = SSDLiteRegressionHead(in_channels, num_anchors, norm_layer)

    def forward(self, x):
        return {"bbox_regression": self.regression_head(x), "cls_logits": self.classification_head(x)}


class SSDLiteFeatureExtractorMobileNet(nn.Module):
    """MobileNet ``features`` split at the C4 block's expansion layer (``features[0]`` ends there,
    ``features[1]`` runs the rest), then four extra blocks. ``forward(x)`` returns an OrderedDict of the six
    maps ``{"0": ..., "5": ...}``."""

    def __init__(self, backbone, c4_pos, norm_layer, width_mult=1.0, min_depth=16):
        super().__init__()
        if backbone[c4_pos].use_res_connect:
            raise ValueError("backbone[c4_pos].use_res_connect should be False")
        self.features = nn.Sequential(
            nn.Sequential(*backbone[:c4_pos], backbone[c4_pos].block[0]),  # up to the C4 expansion
            nn.Sequential(backbone[c4_pos].block[1:], *backbone[c4_pos + 1:]),  # C4 depthwise to the end
        )

        def depth(d):
            return max(min_depth, int(d * width_mult))

        self.extra = nn.ModuleList([
            _extra_block(backbone[-1].out_channels, depth(512), norm_layer),
            _extra_block(depth(512), depth(256), norm_layer),
            _extra_block(depth(256), depth(256), norm_layer),
            _extra_block(depth(256), depth(128), norm_layer),
        ])
        _normal_init(self.extra)

    def forward(self, x):
        outputs = []
        for block in [*self.features, *self.extra]:
            x = block(x)
            outputs.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(outputs))


def _mobilenet_extractor(backbone, trainable_layers, norm_layer):
    features = backbone.features
    # Stages: the stem, each striding block, the last layer; the first ones stay frozen.
    strided = [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    stage_indices = [0, *strided, len(features) - 1]
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(f"trainable_layers should be in the range [0, {num_stages}], instead got "
                         f"{trainable_layers}")
    freeze_before = len(features) if trainable_layers == 0 else stage_indices[num_stages - trainable_layers]
    for block in features[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    return SSDLiteFeatureExtractorMobileNet(features, stage_indices[-2], norm_layer)


class SSDLite320_MobileNet_V3_Large_Weights(WeightsEnum):
    COCO_V1 = registered_weights("ssdlite320_mobilenet_v3_large", "COCO_V1")
    DEFAULT = COCO_V1


@register_model()
@_documented("SSDlite at 320x320 with a MobileNetV3-Large backbone; ``weights_backbone`` is a "
             ":class:`MobileNet_V3_Large_Weights` member (default ``IMAGENET1K_V1``), "
             "``trainable_backbone_layers`` of 6 (default 6), ``norm_layer`` the BatchNorm of backbone and "
             "heads.",
             SSDLite320_MobileNet_V3_Large_Weights, model="SSD")
def ssdlite320_mobilenet_v3_large(*, weights: SSDLite320_MobileNet_V3_Large_Weights | None = None,
                                  progress: bool = True, num_classes: int | None = None,
                                  weights_backbone: MobileNet_V3_Large_Weights | None =
                                  MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                  trainable_backbone_layers: int | None = None, norm_layer=None,
                                  **kwargs) -> SSD:
    check_builder_kwargs(kwargs, SSDLite320_MobileNet_V3_Large_Weights)
    weights = SSDLite320_MobileNet_V3_Large_Weights.verify(weights)
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.", stacklevel=2)
        kwargs.pop("size")
    weights_backbone, num_classes, is_trained = _resolve(
        weights, MobileNet_V3_Large_Weights.verify(weights_backbone), num_classes)
    trainable_backbone_layers = _validate_trainable_layers(is_trained, trainable_backbone_layers, 6, 6)
    # Without ImageNet weights the last stage is halved (the paper's reduced tail).
    reduce_tail = weights_backbone is None
    norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    # As in TorchVision, the remaining keyword arguments reach the MobileNetV3 builder and the SSD model both.
    backbone = mobilenet_v3_large(weights=weights_backbone, progress=progress, norm_layer=norm_layer,
                                  reduced_tail=reduce_tail, **kwargs)
    if weights_backbone is None:
        _normal_init(backbone)
    backbone = _mobilenet_extractor(backbone, trainable_backbone_layers, norm_layer)
    size = (320, 320)
    anchor_generator = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    out_channels = det_utils.retrieve_out_channels(backbone, size)
    num_anchors = anchor_generator.num_anchors_per_location()
    if len(out_channels) != len(anchor_generator.aspect_ratios):
        raise ValueError(f"The length of the output channels from the backbone {len(out_channels)} do not "
                         f"match the length of the anchor generator aspect ratios "
                         f"{len(anchor_generator.aspect_ratios)}")
    defaults = {"score_thresh": 0.001, "nms_thresh": 0.55, "detections_per_img": 300,
                "topk_candidates": 300,
                "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    model = SSD(backbone, anchor_generator, size, num_classes,
                head=SSDLiteHead(out_channels, num_anchors, num_classes, norm_layer),
                **{**defaults, **kwargs})
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
