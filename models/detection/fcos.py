"""FCOS (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection", https://arxiv.org/abs/1904.01355)
on a ResNet-50-FPN, with TorchVision's state-dict keys.

Anchor-free: each FPN location (one square "anchor" per location, as large as the level's stride) predicts
class logits, its distances to the four box sides (normalised by the anchor size) and a centerness logit.
A location is matched to the smallest ground-truth box whose centre region (``center_sampling_radius``
strides) contains it and whose size fits the level. The score is ``sqrt(sigmoid(cls) * sigmoid(ctr))``.
"""
import math
from collections import OrderedDict
from functools import partial

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import boxes as box_ops
from visionlite.ops import generalized_box_iou_loss, sigmoid_focal_loss
from visionlite.ops.feature_pyramid_network import LastLevelP6P7
from visionlite.ops.misc import FrozenBatchNorm2d

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights
from ..resnet import ResNet50_Weights, resnet50
from . import _utils as det_utils
from ._single_stage import (
    check_builder_kwargs,
    check_images_and_targets,
    check_targets_after_transform,
    split_per_level,
    topk_per_level,
)
from .anchor_utils import AnchorGenerator
from .backbone_utils import _resnet_fpn_extractor, _validate_trainable_layers
from .retinanet import _documented, _flatten_level, _nms_detections, _resolve, _unmatched
from .transform import GeneralizedRCNNTransform

__all__ = ["FCOS", "FCOSHead", "FCOSClassificationHead", "FCOSRegressionHead", "FCOS_ResNet50_FPN_Weights",
           "fcos_resnet50_fpn"]


def _conv_tower(in_channels, num_convs, norm_layer):
    """``num_convs`` x (3x3 conv with bias, norm, ReLU), convs initialised N(0, 0.01) with zero bias."""
    layers = []
    for _ in range(num_convs):
        conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)
        nn.init.normal_(conv.weight, std=0.01)
        nn.init.constant_(conv.bias, 0.0)
        layers += [conv, norm_layer(in_channels), nn.ReLU()]
    return nn.Sequential(*layers)


class FCOSClassificationHead(nn.Module):
    """Conv tower (GroupNorm(32) by default) and a 3x3 conv to ``num_anchors * num_classes`` logits, biased to
    ``prior_probability``. ``forward(features)`` returns ``(N, sum_l H_l W_l A, num_classes)``."""

    def __init__(self, in_channels, num_anchors, num_classes, num_convs=4, prior_probability=0.01,
                 norm_layer=None):
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.conv = _conv_tower(in_channels, num_convs, norm_layer or partial(nn.GroupNorm, 32))
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, 3, stride=1, padding=1)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))

    def forward(self, x):
        return vl.cat([_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x], dim=1)


class FCOSRegressionHead(nn.Module):
    """Conv tower, then 3x3 convs to the ReLU'd side distances (``num_anchors * 4``) and a centerness logit.
    ``forward(features)`` returns ``((N, HWA, 4), (N, HWA, 1))``."""

    def __init__(self, in_channels, num_anchors, num_convs=4, norm_layer=None):
        super().__init__()
        self.conv = _conv_tower(in_channels, num_convs, norm_layer or partial(nn.GroupNorm, 32))
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        self.bbox_ctrness = nn.Conv2d(in_channels, num_anchors, kernel_size=3, stride=1, padding=1)
        for layer in (self.bbox_reg, self.bbox_ctrness):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        regression, ctrness = [], []
        for features in x:
            shared = self.conv(features)
            regression.append(_flatten_level(F.relu(self.bbox_reg(shared)), 4))
            ctrness.append(_flatten_level(self.bbox_ctrness(shared), 1))
        return vl.cat(regression, dim=1), vl.cat(ctrness, dim=1)


class FCOSHead(nn.Module):
    """Classification and regression heads; ``forward`` returns ``{"cls_logits", "bbox_regression",
    "bbox_ctrness"}``; ``compute_loss`` the focal, GIoU and centerness losses per foreground location."""

    def __init__(self, in_channels, num_anchors, num_classes, num_convs=4):
        super().__init__()
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        self.classification_head = FCOSClassificationHead(in_channels, num_anchors, num_classes, num_convs)
        self.regression_head = FCOSRegressionHead(in_channels, num_anchors, num_convs)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        cls_logits = head_outputs["cls_logits"]
        gt_classes, gt_boxes = [], []
        for target, matched in zip(targets, matched_idxs):
            if len(target["labels"]) == 0:
                classes = target["labels"].new_zeros((len(matched),))
                boxes = target["boxes"].new_zeros((len(matched), 4))
            else:
                classes = target["labels"][matched.clip(min=0)]
                boxes = target["boxes"][matched.clip(min=0)]
            classes[matched < 0] = -1  # background
            gt_classes.append(classes)
            gt_boxes.append(boxes)
        gt_boxes, gt_classes, anchors = vl.stack(gt_boxes), vl.stack(gt_classes), vl.stack(anchors)

        foreground = gt_classes >= 0
        normaliser = max(1, int(foreground.sum()))
        one_hot = vl.zeros_like(cls_logits)
        one_hot[foreground, gt_classes[foreground]] = 1.0
        loss_cls = sigmoid_focal_loss(cls_logits, one_hot, reduction="sum")

        pred_boxes = self.box_coder.decode(head_outputs["bbox_regression"], anchors)
        loss_box = generalized_box_iou_loss(pred_boxes[foreground], gt_boxes[foreground], reduction="sum")

        # Centerness target of the foreground: sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) of the
        # true side distances (background locations would give square roots of negatives; they are unused).
        reg_targets = self.box_coder.encode(anchors, gt_boxes)[foreground]
        lr, tb = reg_targets[:, [0, 2]], reg_targets[:, [1, 3]]
        ctr_targets = vl.sqrt(lr.min(dim=-1)[0] / lr.max(dim=-1)[0] * (tb.min(dim=-1)[0] / tb.max(dim=-1)[0]))
        pred_ctr = head_outputs["bbox_ctrness"].squeeze(dim=2)
        loss_ctr = F.binary_cross_entropy_with_logits(pred_ctr[foreground], ctr_targets, reduction="sum")
        return {"classification": loss_cls / normaliser, "bbox_regression": loss_box / normaliser,
                "bbox_ctrness": loss_ctr / normaliser}

    def forward(self, x):
        regression, ctrness = self.regression_head(x)
        return {"cls_logits": self.classification_head(x), "bbox_regression": regression,
                "bbox_ctrness": ctrness}


class FCOS(nn.Module):
    """FCOS: ``transform`` -> ``backbone`` (FPN levels) -> :class:`FCOSHead` over one anchor per location.

    Eval ``model(images)`` (a list of ``(3, H, W)`` images in [0, 1]) returns one dict of ``boxes``,
    ``scores``, ``labels`` per image; train ``model(images, targets)`` returns ``{"classification",
    "bbox_regression", "bbox_ctrness"}``.

    Args:
        backbone: returns an OrderedDict of feature maps with ``out_channels`` channels each.
        num_classes: classes including the background.
        min_size, max_size, image_mean, image_std: see :class:`GeneralizedRCNNTransform`.
        anchor_generator: one anchor per location (default sizes 8..128, the FPN strides).
        head: default :class:`FCOSHead`.
        center_sampling_radius: a location matches a box when within this many strides of its centre.
        score_thresh, nms_thresh, detections_per_img, topk_candidates: post-processing.
    """

    def __init__(self, backbone, num_classes, min_size=800, max_size=1333, image_mean=None, image_std=None,
                 anchor_generator=None, head=None, center_sampling_radius=1.5, score_thresh=0.2,
                 nms_thresh=0.6, detections_per_img=100, topk_candidates=1000, **kwargs):
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the number of "
                             "output channels (assumed to be the same for all the levels)")
        self.backbone = backbone
        if not isinstance(anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(f"anchor_generator should be of type AnchorGenerator or None, instead got "
                            f"{type(anchor_generator)}")
        if anchor_generator is None:
            sizes = ((8,), (16,), (32,), (64,), (128,))  # the strides of the levels
            anchor_generator = AnchorGenerator(sizes, ((1.0,),) * len(sizes))
        self.anchor_generator = anchor_generator
        if self.anchor_generator.num_anchors_per_location()[0] != 1:
            raise ValueError(f"anchor_generator.num_anchors_per_location()[0] should be 1 instead of "
                             f"{anchor_generator.num_anchors_per_location()[0]}")
        if head is None:
            head = FCOSHead(backbone.out_channels, 1, num_classes)
        self.head = head
        self.box_coder = det_utils.BoxLinearCoder(normalize_by_size=True)
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        self.center_sampling_radius = center_sampling_radius
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def _match(self, anchors, gt_boxes, num_anchors_per_level):
        """Index of the ground-truth box each anchor learns (-1: background), ``(A,)`` int64."""
        with vl.no_grad():
            gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
            centers = (anchors[:, :2] + anchors[:, 2:]) / 2
            sizes = anchors[:, 2] - anchors[:, 0]
            # Centre sampling: the anchor centre lies within radius * stride of the box centre ...
            match = (centers[:, None, :] - gt_centers[None, :, :]).abs().max(dim=2)[0] \
                < self.center_sampling_radius * sizes[:, None]
            # ... and inside the box; the level is the one whose size range holds the largest side distance.
            x, y = centers[:, 0:1], centers[:, 1:2]
            dist = vl.stack([x - gt_boxes[None, :, 0], y - gt_boxes[None, :, 1], gt_boxes[None, :, 2] - x,
                             gt_boxes[None, :, 3] - y], dim=2)
            match = match & (dist.min(dim=2)[0] > 0)
            lower, upper = sizes * 4, sizes * 8
            lower[: num_anchors_per_level[0]] = 0
            upper[-num_anchors_per_level[-1]:] = float("inf")
            largest = dist.max(dim=2)[0]
            match = match & (largest > lower[:, None]) & (largest < upper[:, None])
            # Among the boxes that match, the smallest wins.
            areas = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
            weighted = match.to(vl.float32) * (1e8 - areas[None, :])
            best, matched = weighted.max(dim=1)
            matched[best < 1e-5] = -1
            return matched

    def compute_loss(self, targets, head_outputs, anchors, num_anchors_per_level):
        matched_idxs = []
        for anchors_i, target in zip(anchors, targets):
            if target["boxes"].numel() == 0:
                matched_idxs.append(_unmatched(anchors_i))
            else:
                matched_idxs.append(self._match(anchors_i, target["boxes"], num_anchors_per_level))
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        """Per image: per level the best (location, class) pairs by ``sqrt(cls * ctrness)``, decoded, clipped;
        then class-wise NMS over all levels."""
        detections = []
        for index, image_shape in enumerate(image_shapes):
            boxes, scores, labels = [], [], []
            for regression, logits, ctrness, anchors_l in zip(
                    [br[index] for br in head_outputs["bbox_regression"]],
                    [cl[index] for cl in head_outputs["cls_logits"]],
                    [bc[index] for bc in head_outputs["bbox_ctrness"]], anchors[index]):
                level_scores, anchor_idxs, level_labels = topk_per_level(
                    vl.sqrt(vl.sigmoid(logits) * vl.sigmoid(ctrness)), self.score_thresh,
                    self.topk_candidates)
                level_boxes = self.box_coder.decode(regression[anchor_idxs], anchors_l[anchor_idxs])
                boxes.append(box_ops.clip_boxes_to_image(level_boxes, image_shape))
                scores.append(level_scores)
                labels.append(level_labels)
            detections.append(_nms_detections(boxes, scores, labels, self.nms_thresh,
                                              self.detections_per_img))
        return detections

    def forward(self, images, targets=None):
        """Eval: a list of dicts (``boxes``, ``scores``, ``labels``) per image; train: the loss dict."""
        check_images_and_targets(self.training, images, targets)
        original_sizes = [tuple(int(s) for s in img.shape[-2:]) for img in images]
        images, targets = self.transform(images, targets)
        check_targets_after_transform(targets)
        features = self.backbone(images.tensors)
        if isinstance(features, vl.Tensor):
            features = OrderedDict([("0", features)])
        features = list(features.values())
        head_outputs = self.head(features)
        anchors = self.anchor_generator(images, features)
        num_anchors_per_level = [f.shape[2] * f.shape[3] for f in features]
        if self.training:
            return self.compute_loss(targets, head_outputs, anchors, num_anchors_per_level)
        split_outputs, split_anchors = split_per_level(head_outputs, anchors, num_anchors_per_level)
        detections = self.postprocess_detections(split_outputs, split_anchors, images.image_sizes)
        return self.transform.postprocess(detections, images.image_sizes, original_sizes)


class FCOS_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("fcos_resnet50_fpn", "COCO_V1")
    DEFAULT = COCO_V1


@register_model()
@_documented("FCOS with a ResNet-50-FPN backbone (`FCOS: Fully Convolutional One-Stage Object Detection`).",
             FCOS_ResNet50_FPN_Weights, model="FCOS")
def fcos_resnet50_fpn(*, weights: FCOS_ResNet50_FPN_Weights | None = None, progress: bool = True,
                      num_classes: int | None = None,
                      weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                      trainable_backbone_layers: int | None = None, **kwargs) -> FCOS:
    check_builder_kwargs(kwargs, FCOS_ResNet50_FPN_Weights)
    weights = FCOS_ResNet50_FPN_Weights.verify(weights)
    weights_backbone, num_classes, is_trained = _resolve(weights, ResNet50_Weights.verify(weights_backbone),
                                                         num_classes)
    layers = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3)
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    backbone = _resnet_fpn_extractor(backbone, layers, returned_layers=[2, 3, 4],
                                     extra_blocks=LastLevelP6P7(256, 256))
    model = FCOS(backbone, num_classes, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
