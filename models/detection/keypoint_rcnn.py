"""Keypoint R-CNN (He et al., "Mask R-CNN", 2017, keypoint branch) as TorchVision's
``models/detection/keypoint_rcnn.py``: Faster R-CNN plus per-keypoint heatmaps on 14x14 RoI features, with the
ResNet-50-FPN builder and COCO person-keypoint weights."""

import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import MultiScaleRoIAlign

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_value_param, _reject_pretrained
from ..resnet import ResNet50_Weights
from ._utils import overwrite_eps
from .faster_rcnn import FasterRCNN, _named_args, _resnet50_fpn_backbone, _resolve

__all__ = [
    "KeypointRCNN",
    "KeypointRCNNHeads",
    "KeypointRCNNPredictor",
    "KeypointRCNN_ResNet50_FPN_Weights",
    "keypointrcnn_resnet50_fpn",
]


class KeypointRCNN(FasterRCNN):
    """Faster R-CNN with a keypoint branch: eval results add ``keypoints`` (N, K, 3) = (x, y, 1) and
    ``keypoints_scores`` (N, K); training targets need ``keypoints`` (N, K, 3) float32 with visibility, and
    the losses add ``loss_keypoint``. ``min_size`` defaults to TorchVision's (640, ..., 800) (one drawn per
    training image, 800 at test time)."""

    def __init__(self, backbone, num_classes=None, *args, **kwargs):
        extra = ("keypoint_roi_pool", "keypoint_head", "keypoint_predictor", "num_keypoints")
        kwargs = _named_args("KeypointRCNN", args, kwargs, extra)
        keypoint_roi_pool, keypoint_head, keypoint_predictor, num_keypoints = (
            kwargs.pop(k, None) for k in extra)
        min_size = kwargs.pop("min_size", None)
        if not isinstance(keypoint_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(
                "keypoint_roi_pool should be of type MultiScaleRoIAlign or None instead of "
                f"{type(keypoint_roi_pool)}"
            )
        if min_size is None:
            min_size = (640, 672, 704, 736, 768, 800)
        if num_keypoints is not None and keypoint_predictor is not None:
            raise ValueError("num_keypoints should be None when keypoint_predictor is specified")
        num_keypoints = 17 if num_keypoints is None else num_keypoints
        out_channels = backbone.out_channels
        if keypoint_roi_pool is None:
            keypoint_roi_pool = MultiScaleRoIAlign(
                featmap_names=["0", "1", "2", "3"], output_size=14, sampling_ratio=2
            )
        if keypoint_head is None:
            keypoint_head = KeypointRCNNHeads(out_channels, tuple(512 for _ in range(8)))
        if keypoint_predictor is None:
            keypoint_predictor = KeypointRCNNPredictor(512, num_keypoints)
        super().__init__(backbone, num_classes, min_size=min_size, **kwargs)
        self.roi_heads.keypoint_roi_pool = keypoint_roi_pool
        self.roi_heads.keypoint_head = keypoint_head
        self.roi_heads.keypoint_predictor = keypoint_predictor


class KeypointRCNNHeads(nn.Sequential):
    """3x3 conv + ReLU layers of ``layers`` channels (keys 0, 2, 4, ... as TorchVision's)."""

    def __init__(self, in_channels, layers):
        blocks, channels = [], in_channels
        for c in layers:
            blocks += [nn.Conv2d(channels, c, 3, stride=1, padding=1), nn.ReLU(inplace=True)]
            channels = c
        super().__init__(*blocks)
        for m in self.children():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)


class KeypointRCNNPredictor(nn.Module):
    """Transposed 4x4 stride-2 conv to K heatmaps, then a 2x bilinear upsampling: (N, C, 14, 14) ->
    (N, K, 56, 56)."""

    def __init__(self, in_channels, num_keypoints):
        super().__init__()
        self.kps_score_lowres = nn.ConvTranspose2d(in_channels, num_keypoints, 4, stride=2, padding=1)
        nn.init.kaiming_normal_(self.kps_score_lowres.weight, mode="fan_out", nonlinearity="relu")
        nn.init.constant_(self.kps_score_lowres.bias, 0)
        self.up_scale = 2
        self.out_channels = num_keypoints

    def forward(self, x):
        return F.interpolate(
            self.kps_score_lowres(x),
            scale_factor=float(self.up_scale),
            mode="bilinear",
            align_corners=False,
            recompute_scale_factor=False,
        )


class KeypointRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_LEGACY = registered_weights("keypointrcnn_resnet50_fpn", "COCO_LEGACY")
    COCO_V1 = registered_weights("keypointrcnn_resnet50_fpn", "COCO_V1")
    DEFAULT = COCO_V1


@register_model()
def keypointrcnn_resnet50_fpn(
    *,
    weights: KeypointRCNN_ResNet50_FPN_Weights | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    num_keypoints: int | None = None,
    weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
    trainable_backbone_layers: int | None = None,
    **kwargs,
) -> KeypointRCNN:
    """Keypoint R-CNN with a ResNet-50-FPN backbone (2 classes and 17 COCO keypoints by default)."""
    _reject_pretrained(kwargs, KeypointRCNN_ResNet50_FPN_Weights)
    weights = KeypointRCNN_ResNet50_FPN_Weights.verify(weights)
    weights_backbone = ResNet50_Weights.verify(weights_backbone)
    if weights is not None:
        num_keypoints = _ovewrite_value_param(
            "num_keypoints", num_keypoints, len(weights.meta["keypoint_names"])
        )
    num_classes = _resolve(weights, num_classes, default_classes=2)
    num_keypoints = 17 if num_keypoints is None else num_keypoints
    backbone = _resnet50_fpn_backbone(weights, weights_backbone, progress, trainable_backbone_layers)
    model = KeypointRCNN(backbone, num_classes, num_keypoints=num_keypoints, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
        if weights == KeypointRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)
    return model
