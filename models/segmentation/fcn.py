"""FCN (Long et al., "Fully Convolutional Networks for Semantic Segmentation", https://arxiv.org/abs/1411.4038)
on a dilated ResNet-50/101 (output stride 8), with TorchVision's state-dict keys and weights."""
from visionlite import nn

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import IntermediateLayerGetter, _load_weights
from ..resnet import ResNet50_Weights, ResNet101_Weights, resnet50, resnet101
from ._utils import _check_builder_kwargs, _documented, _resolve_args, _SimpleSegmentationModel

__all__ = ["FCN", "FCN_ResNet50_Weights", "FCN_ResNet101_Weights", "fcn_resnet50", "fcn_resnet101"]


class FCN(_SimpleSegmentationModel):
    """FCN: ``backbone`` features -> ``classifier`` (an :class:`FCNHead`) -> bilinear upsampling to the input
    size; ``aux_classifier`` does the same on the ``"aux"`` features (see ``_SimpleSegmentationModel``)."""


class FCNHead(nn.Sequential):
    """3x3 convolution to ``in_channels // 4``, BatchNorm, ReLU, dropout 0.1, 1x1 convolution to
    ``channels``."""

    def __init__(self, in_channels, channels):
        inter = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter, channels, 1),
        )


def _fcn_resnet(backbone, num_classes, aux):
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    body = IntermediateLayerGetter(backbone, return_layers=return_layers)
    return FCN(body, FCNHead(2048, num_classes), FCNHead(1024, num_classes) if aux else None)


class FCN_ResNet50_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("fcn_resnet50", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


class FCN_ResNet101_Weights(WeightsEnum):
    COCO_WITH_VOC_LABELS_V1 = registered_weights("fcn_resnet101", "COCO_WITH_VOC_LABELS_V1")
    DEFAULT = COCO_WITH_VOC_LABELS_V1


@register_model()
@_documented("FCN with a ResNet-50 backbone (dilated: output stride 8).", "FCN", FCN_ResNet50_Weights,
             ResNet50_Weights)
def fcn_resnet50(*, weights: FCN_ResNet50_Weights | None = None, progress: bool = True,
                 num_classes: int | None = None, aux_loss: bool | None = None,
                 weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1, **kwargs) -> FCN:
    _check_builder_kwargs(kwargs, FCN_ResNet50_Weights, "fcn_resnet50")
    weights = FCN_ResNet50_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    weights_backbone, num_classes, aux_loss = _resolve_args(weights, weights_backbone, num_classes, aux_loss)
    backbone = resnet50(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _fcn_resnet(backbone, num_classes, aux_loss)
    return model if weights is None else _load_weights(model, weights, progress)


@register_model()
@_documented("FCN with a ResNet-101 backbone (dilated: output stride 8).", "FCN", FCN_ResNet101_Weights,
             ResNet101_Weights)
def fcn_resnet101(*, weights: FCN_ResNet101_Weights | None = None, progress: bool = True,
                  num_classes: int | None = None, aux_loss: bool | None = None,
                  weights_backbone: ResNet101_Weights | None = ResNet101_Weights.IMAGENET1K_V1,
                  **kwargs) -> FCN:
    _check_builder_kwargs(kwargs, FCN_ResNet101_Weights, "fcn_resnet101")
    weights = FCN_ResNet101_Weights.verify(weights)
    weights_backbone = ResNet101_Weights.verify(weights_backbone)
    weights_backbone, num_classes, aux_loss = _resolve_args(weights, weights_backbone, num_classes, aux_loss)
    backbone = resnet101(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    model = _fcn_resnet(backbone, num_classes, aux_loss)
    return model if weights is None else _load_weights(model, weights, progress)
