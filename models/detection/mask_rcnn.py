"""Mask R-CNN (He et al., "Mask R-CNN", 2017) as TorchVision's ``models/detection/mask_rcnn.py``: Faster
R-CNN plus a mask branch on 14x14 RoI features, with the ResNet-50-FPN (v1, v2) builders and COCO weights."""

from collections import OrderedDict

from visionlite import nn
from visionlite.ops import MultiScaleRoIAlign
from visionlite.ops import misc as misc_nn_ops

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _reject_pretrained
from ..resnet import ResNet50_Weights
from ._utils import overwrite_eps
from .faster_rcnn import (
    FasterRCNN,
    FastRCNNConvFCHead,
    RPNHead,
    _default_anchorgen,
    _named_args,
    _resnet50_fpn_backbone,
    _resolve,
)

__all__ = [
    "MaskRCNN",
    "MaskRCNNHeads",
    "MaskRCNNPredictor",
    "MaskRCNN_ResNet50_FPN_Weights",
    "MaskRCNN_ResNet50_FPN_V2_Weights",
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
]


class MaskRCNN(FasterRCNN):
    """Faster R-CNN with a mask branch: eval results add ``masks`` (N, 1, H, W) float probabilities in the
    input image's size; training targets need ``masks`` (N, H, W) uint8 and the losses add ``loss_mask``.
    Takes FasterRCNN's arguments plus ``mask_roi_pool``, ``mask_head``, ``mask_predictor``."""

    def __init__(self, backbone, num_classes=None, *args, **kwargs):
        kwargs = _named_args("MaskRCNN", args, kwargs, ("mask_roi_pool", "mask_head", "mask_predictor"))
        mask_roi_pool = kwargs.pop("mask_roi_pool", None)
        mask_head = kwargs.pop("mask_head", None)
        mask_predictor = kwargs.pop("mask_predictor", None)
        if not isinstance(mask_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                f"mask_roi_pool should be of type MultiScaleRoIAlign or None instead of {type(mask_roi_pool)}"
            )
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("num_classes should be None when mask_predictor is specified")
        out_channels = backbone.out_channels
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=14, sampling_ratio=2
            )
        if mask_head is None:
            mask_head = MaskRCNNHeads(out_channels, (256, 256, 256, 256), 1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
        super().__init__(backbone, num_classes, **kwargs)
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


class MaskRCNNHeads(nn.Sequential):
    """3x3 conv(-norm)-ReLU layers of ``layers`` channels with ``dilation``, over (N, C, 14, 14) features."""

    _version = 2

    def __init__(self, in_channels, layers, dilation, norm_layer=None):
        blocks, channels = [], in_channels
        for c in layers:
            blocks.append(
                misc_nn_ops.Conv2dNormActivation(
                    channels,
                    c,
                    kernel_size=3,
                    stride=1,
                    padding=dilation,
                    dilation=dilation,
                    norm_layer=norm_layer,
                )
            )
            channels = c
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        version = local_metadata.get("version", None)
        if version is None or version < 2:  # version 1 named the convs mask_fcn1, mask_fcn2, ...
            for i in range(len(self)):
                for kind in ("weight", "bias"):
                    old, new = f"{prefix}mask_fcn{i + 1}.{kind}", f"{prefix}{i}.0.{kind}"
                    if old in state_dict:
                        state_dict[new] = state_dict.pop(old)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class MaskRCNNPredictor(nn.Sequential):
    """2x transposed conv, ReLU, then a 1x1 conv to per-class mask logits (N, num_classes, 28, 28)."""

    def __init__(self, in_channels, dim_reduced, num_classes):
        super().__init__(
            OrderedDict(
                [
                    ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
                ]
            )
        )
        for name, param in self.named_parameters():
            if "weight" in name:
                nn.init.kaiming_normal_(param, mode="fan_out", nonlinearity="relu")


class MaskRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("maskrcnn_resnet50_fpn", "COCO_V1")
    DEFAULT = COCO_V1


class MaskRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = registered_weights("maskrcnn_resnet50_fpn_v2", "COCO_V1")
    DEFAULT = COCO_V1


@register_model()
def maskrcnn_resnet50_fpn(
    *,
    weights: MaskRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone; ``kwargs`` go to :class:`MaskRCNN`."""
    _reject_pretrained(kwargs, MaskRCNN_ResNet50_FPN_Weights)
    weights = MaskRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    num_classes = _resolve(weights, num_classes)
    backbone = _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers)
    model = MaskRCNN(backbone, num_classes=num_classes, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
        if weights == MaskRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)
    return model


@register_model()
def maskrcnn_resnet50_fpn_v2(
    *,
    weights: MaskRCNN_ResNet50_FPN_V2_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    weights_backbone: ResNet50_Weights | None = None,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> MaskRCNN:
    """Mask R-CNN v2: ResNet-50-FPN with BatchNorm, two-conv RPN head, conv box head and BatchNorm mask
    head."""
    _reject_pretrained(kwargs, MaskRCNN_ResNet50_FPN_V2_Weights)
    weights = MaskRCNN_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    num_classes = _resolve(weights, num_classes)
    backbone = _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers, v2=True)
    anchor_generator = _default_anchorgen()
    rpn_head = RPNHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0], conv_depth=2)
    box_head = FastRCNNConvFCHead(
        (backbone.out_channels, 7, 7), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d
    )
    mask_head = MaskRCNNHeads(backbone.out_channels, [256, 256, 256, 256], 1, norm_layer=nn.BatchNorm2d)
    model = MaskRCNN(
        backbone,
        num_classes=num_classes,
        rpn_anchor_generator=anchor_generator,
        rpn_head=rpn_head,
        box_head=box_head,
        mask_head=mask_head,
        **kwargs,
    )
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
