"""RetinaNet (Lin et al., "Focal Loss for Dense Object Detection", https://arxiv.org/abs/1708.02002) on a
ResNet-50-FPN, and its v2 (GroupNorm heads, GIoU box loss, P6 from C5; Zhang et al., "Bridging the Gap
Between Anchor-based and Anchor-free Detection via Adaptive Training Sample Selection",
https://arxiv.org/abs/1912.02424). State-dict keys equal TorchVision's.

A single-stage detector: at every FPN level a classification head scores ``A`` anchors x ``K`` classes
(sigmoid, focal loss) and a regression head predicts the anchors' box deltas. Evaluation keeps, per level,
the ``topk_candidates`` (anchor, class) pairs scoring above ``score_thresh``, decodes them, and runs a
class-wise NMS over all levels.
"""
import math
from collections import OrderedDict
from functools import partial

import visionlite as vl
from visionlite import nn
from visionlite.ops import boxes as box_ops
from visionlite.ops import sigmoid_focal_loss
from visionlite.ops.feature_pyramid_network import LastLevelP6P7
from visionlite.ops.misc import Conv2dNormActivation, FrozenBatchNorm2d

from .._api import Decorator, WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_value_param
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
from .transform import GeneralizedRCNNTransform

__all__ = [
    "RetinaNet", "RetinaNetHead", "RetinaNetClassificationHead", "RetinaNetRegressionHead",
    "RetinaNet_ResNet50_FPN_Weights", "RetinaNet_ResNet50_FPN_V2_Weights",
    "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2",
]


def _v1_to_v2_weights(state_dict, prefix):
    # Before TorchVision 0.13 a head's tower was a flat Sequential of conv/ReLU: conv.0, conv.2, conv.4, ...
    for i in range(4):
        for kind in ("weight", "bias"):
            old = f"{prefix}conv.{2 * i}.{kind}"
            if old in state_dict:
                state_dict[f"{prefix}conv.{i}.0.{kind}"] = state_dict.pop(old)


def _default_anchorgen():
    """Three sizes per octave (x, x * 2^(1/3), x * 2^(2/3)) for x in 32..512, three aspect ratios."""
    sizes = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in (32, 64, 128, 256, 512))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _flatten_level(out, columns):
    """``(N, A * columns, H, W)`` -> ``(N, H * W * A, columns)``: anchors ordered by position, then anchor."""
    n, _, h, w = out.shape
    return out.view(n, -1, columns, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, columns)


def _tower(in_channels, norm_layer):
    return nn.Sequential(*[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer)
                           for _ in range(4)])


def _init_normal(modules, bias=0.0):
    for layer in modules:
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, bias)


class _VersionedHead(nn.Module):
    # Version 2 of the heads wraps each tower conv in a Conv2dNormActivation; older checkpoints are renamed.
    _version = 2

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        if (local_metadata.get("version") or 0) < 2:
            _v1_to_v2_weights(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class RetinaNetClassificationHead(_VersionedHead):
    """Four 3x3 conv(-norm)-ReLU layers and a 3x3 conv to ``num_anchors * num_classes`` logits per level,
    its bias set so every class starts at probability ``prior_probability``.

    ``forward(features)`` (a list of ``(N, C, H_l, W_l)``) returns ``(N, sum_l H_l W_l A, num_classes)``.
    """

    def __init__(self, in_channels, num_anchors, num_classes, prior_probability=0.01, norm_layer=None):
        super().__init__()
        self.conv = _tower(in_channels, norm_layer)
        _init_normal(self.conv.modules())
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, 3, stride=1, padding=1)
        _init_normal([self.cls_logits], bias=-math.log((1 - prior_probability) / prior_probability))
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.BETWEEN_THRESHOLDS = det_utils.Matcher.BETWEEN_THRESHOLDS

    def compute_loss(self, targets, head_outputs, matched_idxs):
        """Focal loss over the anchors not between the IoU thresholds, per image divided by its foreground
        count, averaged over images."""
        losses = []
        for target, logits, matched in zip(targets, head_outputs["cls_logits"], matched_idxs):
            foreground = matched >= 0
            num_foreground = int(foreground.sum())
            gt_classes = vl.zeros_like(logits)
            gt_classes[foreground, target["labels"][matched[foreground]]] = 1.0
            valid = matched != self.BETWEEN_THRESHOLDS
            loss = sigmoid_focal_loss(logits[valid], gt_classes[valid], reduction="sum")
            losses.append(loss / max(1, num_foreground))
        return sum(losses[1:], losses[0]) / len(targets)

    def forward(self, x):
        return vl.cat([_flatten_level(self.cls_logits(self.conv(f)), self.num_classes) for f in x], dim=1)


class RetinaNetRegressionHead(_VersionedHead):
    """Four 3x3 conv(-norm)-ReLU layers and a 3x3 conv to ``num_anchors * 4`` box deltas per level.

    ``forward(features)`` returns ``(N, sum_l H_l W_l A, 4)``; the loss is L1 on the encoded deltas
    (``_loss_type = "giou"`` in v2: GIoU on the decoded boxes).
    """

    def __init__(self, in_channels, num_anchors, norm_layer=None):
        super().__init__()
        self.conv = _tower(in_channels, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1, padding=1)
        _init_normal([self.bbox_reg])
        _init_normal(self.conv.modules())
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self._loss_type = "l1"

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        """Box loss of the foreground anchors, per image divided by its foreground count, averaged."""
        losses = []
        for target, regression, anchors_i, matched in zip(targets, head_outputs["bbox_regression"], anchors,
                                                          matched_idxs):
            foreground = vl.where(matched >= 0)[0]
            matched_boxes = target["boxes"][matched[foreground]]
            loss = det_utils._box_loss(self._loss_type, self.box_coder, anchors_i[foreground], matched_boxes,
                             regression[foreground])
            losses.append(loss / max(1, foreground.numel()))
        return sum(losses[1:], losses[0]) / max(1, len(targets))

    def forward(self, x):
        return vl.cat([_flatten_level(self.bbox_reg(self.conv(f)), 4) for f in x], dim=1)


class RetinaNetHead(nn.Module):
    """The classification and regression heads; ``forward`` returns ``{"cls_logits", "bbox_regression"}``."""

    def __init__(self, in_channels, num_anchors, num_classes, norm_layer=None):
        super().__init__()
        self.classification_head = RetinaNetClassificationHead(in_channels, num_anchors, num_classes,
                                                               norm_layer=norm_layer)
        self.regression_head = RetinaNetRegressionHead(in_channels, num_anchors, norm_layer=norm_layer)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        return {
            "classification": self.classification_head.compute_loss(targets, head_outputs, matched_idxs),
            "bbox_regression": self.regression_head.compute_loss(targets, head_outputs, anchors,
                                                                 matched_idxs),
        }

    def forward(self, x):
        return {"cls_logits": self.classification_head(x), "bbox_regression": self.regression_head(x)}


class RetinaNet(nn.Module):
    """RetinaNet: ``transform`` (resize, normalise, batch) -> ``backbone`` (FPN levels) -> ``head`` over
    ``anchor_generator``'s anchors.

    ``model(images)`` in eval mode takes a list of ``(3, H, W)`` float images in [0, 1] and returns one dict
    per image: ``boxes`` ``(D, 4)`` (x1, y1, x2, y2 in the input's pixels), ``scores`` ``(D,)``, ``labels``
    ``(D,)`` int64. In train mode ``model(images, targets)`` (targets: dicts with ``boxes`` ``(G, 4)`` and
    ``labels`` ``(G,)``) returns ``{"classification", "bbox_regression"}`` losses.

    Args:
        backbone: returns an OrderedDict of feature maps with ``out_channels`` channels each.
        num_classes: classes including the background.
        min_size, max_size, image_mean, image_std: see :class:`GeneralizedRCNNTransform`.
        anchor_generator, head, proposal_matcher: defaults as TorchVision (9 anchors per location; IoU
            matcher with low-quality matches).
        score_thresh, nms_thresh, detections_per_img, topk_candidates: post-processing.
        fg_iou_thresh, bg_iou_thresh: anchor-to-box IoU above which an anchor is foreground / below which
            background (in between: ignored by the loss).
    """

    def __init__(self, backbone, num_classes, min_size=800, max_size=1333, image_mean=None, image_std=None,
                 anchor_generator=None, head=None, proposal_matcher=None, score_thresh=0.05, nms_thresh=0.5,
                 detections_per_img=300, fg_iou_thresh=0.5, bg_iou_thresh=0.4, topk_candidates=1000,
                 **kwargs):
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the number of "
                             "output channels (assumed to be the same for all the levels)")
        self.backbone = backbone
        if not isinstance(anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(f"anchor_generator should be of type AnchorGenerator or None instead of "
                            f"{type(anchor_generator)}")
        self.anchor_generator = anchor_generator if anchor_generator is not None else _default_anchorgen()
        if head is None:
            head = RetinaNetHead(backbone.out_channels, self.anchor_generator.num_anchors_per_location()[0],
                                 num_classes)
        self.head = head
        if proposal_matcher is None:
            proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)
        self.proposal_matcher = proposal_matcher
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates

    def compute_loss(self, targets, head_outputs, anchors):
        """Match anchors to ground-truth boxes by IoU, then the head's losses."""
        matched_idxs = []
        for anchors_i, target in zip(anchors, targets):
            if target["boxes"].numel() == 0:
                matched_idxs.append(_unmatched(anchors_i))
                continue
            matched_idxs.append(self.proposal_matcher(box_ops.box_iou(target["boxes"], anchors_i)))
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        """Per image: the best (anchor, class) pairs of each level, decoded and clipped, then class-wise NMS.
        ``head_outputs`` and ``anchors`` are split per level (lists per image)."""
        detections = []
        for index, image_shape in enumerate(image_shapes):
            boxes, scores, labels = [], [], []
            for regression, logits, anchors_l in zip(
                    [br[index] for br in head_outputs["bbox_regression"]],
                    [cl[index] for cl in head_outputs["cls_logits"]], anchors[index]):
                level_scores, anchor_idxs, level_labels = topk_per_level(
                    vl.sigmoid(logits), self.score_thresh, self.topk_candidates)
                level_boxes = self.box_coder.decode_single(regression[anchor_idxs], anchors_l[anchor_idxs])
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
        if self.training:
            return self.compute_loss(targets, head_outputs, anchors)
        hw = [f.shape[2] * f.shape[3] for f in features]
        per_location = head_outputs["cls_logits"].shape[1] // sum(hw)
        split_outputs, split_anchors = split_per_level(head_outputs, anchors, [n * per_location for n in hw])
        detections = self.postprocess_detections(split_outputs, split_anchors, images.image_sizes)
        return self.transform.postprocess(detections, images.image_sizes, original_sizes)


def _unmatched(anchors):
    """Every anchor unmatched (-1): an image without boxes."""
    return vl.full((anchors.shape[0],), -1, dtype=vl.int64, device=anchors.device)


def _nms_detections(boxes, scores, labels, nms_thresh, detections_per_img):
    boxes, scores, labels = vl.cat(boxes, dim=0), vl.cat(scores, dim=0), vl.cat(labels, dim=0)
    keep = box_ops.batched_nms(boxes, scores, labels, nms_thresh)[:detections_per_img]
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}


class RetinaNet_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = registered_weights("retinanet_resnet50_fpn", "COCO_V1")
    DEFAULT = COCO_V1


class RetinaNet_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = registered_weights("retinanet_resnet50_fpn_v2", "COCO_V1")
    DEFAULT = COCO_V1


def _resolve(weights, weights_backbone, num_classes):
    """TorchVision's builder rules: full weights drop the backbone's and fix ``num_classes`` (else 91).
    Returns ``(weights_backbone, num_classes, is_trained)``."""
    if weights is not None:
        weights_backbone = None
        num_classes = _ovewrite_value_param("num_classes", num_classes, len(weights.meta["categories"]))
    elif num_classes is None:
        num_classes = 91
    return weights_backbone, num_classes, weights is not None or weights_backbone is not None


_BUILDER_DOC = """{title}

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``) or None (random initialisation).
        progress: show a download progress bar (on a terminal).
        num_classes: classes including the background (default 91, COCO; fixed by ``weights``).
        weights_backbone: ImageNet weights of the ResNet-50 (a :class:`ResNet50_Weights` member or None);
            ignored when ``weights`` is given.
        trainable_backbone_layers: how many of the backbone's 5 stages train (from the last); default 3 with
            pretrained weights, else 5.
        **kwargs: passed to :class:`{model}` (``min_size``, ``max_size``, ``score_thresh``, ``nms_thresh``,
            ``detections_per_img``, ``topk_candidates``, ...).
    Returns a :class:`{model}`: eval ``model(images)`` gives a dict of ``boxes``/``scores``/``labels`` per
    image; train ``model(images, targets)`` gives the loss dict.
    """


def _documented(title, enum, model="RetinaNet") -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(title=title, enum=enum.__name__, model=model)
        return fn
    return wrap


@register_model()
@_documented("RetinaNet with a ResNet-50-FPN backbone (`Focal Loss for Dense Object Detection`).",
             RetinaNet_ResNet50_FPN_Weights)
def retinanet_resnet50_fpn(*, weights: RetinaNet_ResNet50_FPN_Weights | None = None, progress: bool = True,
                           num_classes: int | None = None,
                           weights_backbone: ResNet50_Weights | None = ResNet50_Weights.IMAGENET1K_V1,
                           trainable_backbone_layers: int | None = None, **kwargs) -> RetinaNet:
    check_builder_kwargs(kwargs, RetinaNet_ResNet50_FPN_Weights)
    weights = RetinaNet_ResNet50_FPN_Weights.verify(weights)
    weights_backbone, num_classes, is_trained = _resolve(weights, ResNet50_Weights.verify(weights_backbone),
                                                         num_classes)
    layers = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3)
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    backbone = _resnet_fpn_extractor(backbone, layers, returned_layers=[2, 3, 4],
                                     extra_blocks=LastLevelP6P7(256, 256))
    model = RetinaNet(backbone, num_classes, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
        if weights == RetinaNet_ResNet50_FPN_Weights.COCO_V1:
            det_utils.overwrite_eps(model, 0.0)  # trained with FrozenBatchNorm2d's old eps of 0
    return model


@register_model()
@_documented("RetinaNet v2 with a ResNet-50-FPN backbone: GroupNorm heads and a GIoU box loss "
             "(`Bridging the Gap Between Anchor-based and Anchor-free Detection`).",
             RetinaNet_ResNet50_FPN_V2_Weights)
def retinanet_resnet50_fpn_v2(*, weights: RetinaNet_ResNet50_FPN_V2_Weights | None = None,
                              progress: bool = True, num_classes: int | None = None,
                              weights_backbone: ResNet50_Weights | None = None,
                              trainable_backbone_layers: int | None = None, **kwargs) -> RetinaNet:
    check_builder_kwargs(kwargs, RetinaNet_ResNet50_FPN_V2_Weights)
    weights = RetinaNet_ResNet50_FPN_V2_Weights.verify(weights)
    weights_backbone, num_classes, is_trained = _resolve(weights, ResNet50_Weights.verify(weights_backbone),
                                                         num_classes)
    layers = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3)
    backbone = resnet50(weights=weights_backbone, progress=progress)
    backbone = _resnet_fpn_extractor(backbone, layers, returned_layers=[2, 3, 4],
                                     extra_blocks=LastLevelP6P7(2048, 256))
    anchor_generator = _default_anchorgen()
    head = RetinaNetHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0], num_classes,
                         norm_layer=partial(nn.GroupNorm, 32))
    head.regression_head._loss_type = "giou"
    model = RetinaNet(backbone, num_classes, anchor_generator=anchor_generator, head=head, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
