"""SSD (Liu et al., "SSD: Single Shot MultiBox Detector", https://arxiv.org/abs/1512.02325) on VGG-16 at
300x300, with TorchVision's state-dict keys.

Six feature maps (conv4_3 L2-normalised with a learnt scale, fc7 as a dilated conv, four extra blocks) each
get a 3x3 conv predicting, per default box, softmax class logits (class 0 is the background) and box deltas
(BoxCoder weights 10, 10, 5, 5). Training matches default boxes to ground truth by IoU (each box keeps its
best default box), and mines the hardest negatives at 3 per positive.
"""
import warnings
from collections import OrderedDict

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import boxes as box_ops

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights
from ..vgg import VGG16_Weights, vgg16
from . import _utils as det_utils
from ._single_stage import check_builder_kwargs, check_images_and_targets, check_targets_after_transform
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _validate_trainable_layers
from .retinanet import _documented, _flatten_level, _nms_detections, _resolve, _unmatched
from .transform import GeneralizedRCNNTransform

__all__ = ["SSD", "SSDHead", "SSDScoringHead", "SSDClassificationHead", "SSDRegressionHead",
           "SSDFeatureExtractorVGG", "SSD300_VGG16_Weights", "ssd300_vgg16"]


def _xavier_init(conv):
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDScoringHead(nn.Module):
    """One module per feature map (``module_list``), each predicting ``A * num_columns`` channels;
    ``forward(features)`` returns their outputs flattened and concatenated: ``(N, sum_l H_l W_l A_l,
    num_columns)``."""

    def __init__(self, module_list, num_columns):
        super().__init__()
        self.module_list = module_list
        self.num_columns = num_columns

    def forward(self, x):
        if len(x) > len(self.module_list):
            raise ValueError(f"{len(x)} feature maps for {len(self.module_list)} prediction layers")
        return vl.cat([_flatten_level(module(f), self.num_columns) for module, f in zip(self.module_list, x)],
                      dim=1)


class SSDClassificationHead(SSDScoringHead):
    """A 3x3 conv per feature map to ``num_anchors[l] * num_classes`` logits (Xavier-initialised)."""

    def __init__(self, in_channels, num_anchors, num_classes):
        convs = nn.ModuleList([nn.Conv2d(c, num_classes * a, kernel_size=3, padding=1)
                               for c, a in zip(in_channels, num_anchors)])
        _xavier_init(convs)
        super().__init__(convs, num_classes)


class SSDRegressionHead(SSDScoringHead):
    """A 3x3 conv per feature map to ``num_anchors[l] * 4`` box deltas (Xavier-initialised)."""

    def __init__(self, in_channels, num_anchors):
        convs = nn.ModuleList([nn.Conv2d(c, 4 * a, kernel_size=3, padding=1)
                               for c, a in zip(in_channels, num_anchors)])
        _xavier_init(convs)
        super().__init__(convs, 4)


class SSDHead(nn.Module):
    """Classification and regression heads; ``forward`` returns ``{"bbox_regression", "cls_logits"}``."""

    def __init__(self, in_channels, num_anchors, num_classes):
        super().__init__()
        self.classification_head = SSDClassificationHead(in_channels, num_anchors, num_classes)
        self.regression_head = SSDRegressionHead(in_channels, num_anchors)

    def forward(self, x):
        return {"bbox_regression": self.regression_head(x), "cls_logits": self.classification_head(x)}


class SSD(nn.Module):
    """SSD: ``transform`` (resize to the fixed ``size``, normalise) -> ``backbone`` (feature maps) -> ``head``
    over ``anchor_generator``'s default boxes.

    Eval ``model(images)`` (a list of ``(3, H, W)`` images in [0, 1]) returns one dict of ``boxes``,
    ``scores``, ``labels`` per image; train ``model(images, targets)`` returns ``{"bbox_regression",
    "classification"}``.

    Args:
        backbone: returns an OrderedDict of feature maps (``out_channels`` a list, or found by a test run).
        anchor_generator: a :class:`DefaultBoxGenerator`.
        size: ``(width, height)`` images are resized to.
        num_classes: classes including the background.
        image_mean, image_std, head: defaults as TorchVision.
        score_thresh, nms_thresh, detections_per_img, topk_candidates: post-processing (top-k per class).
        iou_thresh: IoU above which a default box is matched to a ground-truth box.
        positive_fraction: share of positives among the boxes the classification loss counts.
    """

    def __init__(self, backbone, anchor_generator, size, num_classes, image_mean=None, image_std=None,
                 head=None, score_thresh=0.01, nms_thresh=0.45, detections_per_img=200, iou_thresh=0.5,
                 topk_candidates=400, positive_fraction=0.25, **kwargs):
        super().__init__()
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        if head is None:
            out_channels = getattr(backbone, "out_channels", None)
            if out_channels is None:
                out_channels = det_utils.retrieve_out_channels(backbone, size)
            if len(out_channels) != len(anchor_generator.aspect_ratios):
                raise ValueError(f"The length of the output channels from the backbone ({len(out_channels)}) "
                                 f"do not match the length of the anchor generator aspect ratios "
                                 f"({len(anchor_generator.aspect_ratios)})")
            head = SSDHead(out_channels, anchor_generator.num_anchors_per_location(), num_classes)
        self.head = head
        self.proposal_matcher = det_utils.SSDMatcher(iou_thresh)
        image_mean = [0.485, 0.456, 0.406] if image_mean is None else image_mean
        image_std = [0.229, 0.224, 0.225] if image_std is None else image_std
        self.transform = GeneralizedRCNNTransform(min(size), max(size), image_mean, image_std,
                                                  size_divisible=1, fixed_size=size, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.neg_to_pos_ratio = (1.0 - positive_fraction) / positive_fraction

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        """Smooth-L1 on the positives' encoded deltas; cross-entropy on the positives and the hardest
        negatives (``neg_to_pos_ratio`` per positive, per image); both divided by the number of positives."""
        cls_logits = head_outputs["cls_logits"]
        num_foreground = 0
        box_losses, cls_targets = [], []
        for target, regression, anchors_i, matched in zip(targets, head_outputs["bbox_regression"], anchors,
                                                          matched_idxs):
            foreground = vl.where(matched >= 0)[0]
            matched_fg = matched[foreground]
            num_foreground += matched_fg.numel()
            encoded = self.box_coder.encode_single(target["boxes"][matched_fg], anchors_i[foreground])
            box_losses.append(F.smooth_l1_loss(regression[foreground], encoded, reduction="sum"))
            labels = target["labels"]
            classes = vl.zeros((cls_logits.shape[1],), dtype=labels.dtype, device=labels.device)
            classes[foreground] = labels[matched_fg]
            cls_targets.append(classes)
        box_loss = vl.stack(box_losses)
        cls_targets = vl.stack(cls_targets)

        num_classes = cls_logits.shape[-1]
        cls_loss = F.cross_entropy(cls_logits.reshape(-1, num_classes), cls_targets.reshape(-1),
                                   reduction="none").view(cls_targets.shape)
        positive = cls_targets > 0
        # Hard negative mining: a background box counts when its loss ranks among the image's
        # neg_to_pos_ratio * positives highest (positives are pushed to the end with -inf).
        with vl.no_grad():
            num_negative = self.neg_to_pos_ratio * positive.sum(1, keepdim=True)
            negative_loss = cls_loss.detach().clone()
            negative_loss[positive] = -float("inf")
            order = negative_loss.sort(1, descending=True)[1]
            negative = order.sort(1)[1] < num_negative
        normaliser = max(1, num_foreground)
        return {"bbox_regression": box_loss.sum() / normaliser,
                "classification": (cls_loss[positive].sum() + cls_loss[negative].sum()) / normaliser}

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
            matched_idxs = []
            for anchors_i, target in zip(anchors, targets):
                if target["boxes"].numel() == 0:
                    matched_idxs.append(_unmatched(anchors_i))
                else:
                    matched_idxs.append(self.proposal_matcher(box_ops.box_iou(target["boxes"], anchors_i)))
            return self.compute_loss(targets, head_outputs, anchors, matched_idxs)
        detections = self.postprocess_detections(head_outputs, anchors, images.image_sizes)
        return self.transform.postprocess(detections, images.image_sizes, original_sizes)

    def postprocess_detections(self, head_outputs, image_anchors, image_shapes):
        """Per image: decode all boxes, then per foreground class the ``topk_candidates`` best above
        ``score_thresh`` (softmax scores); class-wise NMS; the ``detections_per_img`` best."""
        pred_scores = F.softmax(head_outputs["cls_logits"], dim=-1)
        num_classes = pred_scores.shape[-1]
        detections = []
        for regression, scores, anchors, image_shape in zip(head_outputs["bbox_regression"], pred_scores,
                                                           image_anchors, image_shapes):
            boxes = self.box_coder.decode_single(regression, anchors)
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            kept_boxes, kept_scores, kept_labels = [], [], []
            for label in range(1, num_classes):
                score = scores[:, label]
                keep = score > self.score_thresh
                score, box = score[keep], boxes[keep]
                score, order = score.topk(min(self.topk_candidates, score.shape[0]))
                kept_boxes.append(box[order])
                kept_scores.append(score)
                kept_labels.append(vl.full(score.shape, label, dtype=vl.int64, device=score.device))
            detections.append(_nms_detections(kept_boxes, kept_scores, kept_labels, self.nms_thresh,
                                              self.detections_per_img))
        return detections


class SSDFeatureExtractorVGG(nn.Module):
    """VGG ``features`` cut for SSD: up to conv4_3 (``features``, its output L2-normalised per location and
    scaled by ``scale_weight``), then conv5 with a 3x3/1 max-pool and dilated fc6/fc7 (``extra[0]``) and four
    (five when ``highres``) extra blocks. ``forward(x)`` returns an OrderedDict ``{"0": ..., "5": ...}``."""

    def __init__(self, backbone, highres):
        super().__init__()
        pools = [i for i, layer in enumerate(backbone) if isinstance(layer, nn.MaxPool2d)]
        if len(pools) != 5:
            raise ValueError(f"SSDFeatureExtractorVGG needs the 5 max-pools of VGG's features, got "
                             f"{len(pools)}")
        _, _, maxpool3_pos, maxpool4_pos, _ = pools
        backbone[maxpool3_pos].ceil_mode = True  # 75 -> 38, as the paper's conv4_3 map
        self.scale_weight = nn.Parameter(vl.ones(512) * 20)
        self.features = nn.Sequential(*backbone[:maxpool4_pos])

        def extra_block(cin, mid, cout, **conv):
            return nn.Sequential(nn.Conv2d(cin, mid, kernel_size=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(mid, cout, **conv), nn.ReLU(inplace=True))

        extra = nn.ModuleList([
            extra_block(1024, 256, 512, kernel_size=3, padding=1, stride=2),  # conv8_2
            extra_block(512, 128, 256, kernel_size=3, padding=1, stride=2),  # conv9_2
            extra_block(256, 128, 256, kernel_size=3),  # conv10_2
            extra_block(256, 128, 256, kernel_size=3),  # conv11_2
        ])
        if highres:
            extra.append(extra_block(256, 128, 256, kernel_size=4))  # conv12_2
        _xavier_init(extra)
        fc = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False),  # pool5, keeping the size
            nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),  # fc6, atrous
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, kernel_size=1),  # fc7
            nn.ReLU(inplace=True),
        )
        _xavier_init(fc)
        extra.insert(0, nn.Sequential(*backbone[maxpool4_pos:-1], fc))  # conv5_x without VGG's pool5
        self.extra = extra

    def forward(self, x):
        x = self.features(x)
        outputs = [self.scale_weight.view(1, -1, 1, 1) * F.normalize(x)]
        for block in self.extra:
            x = block(x)
            outputs.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(outputs))


def _vgg_extractor(backbone, highres, trainable_layers):
    features = backbone.features
    # Stages start at 0 and at each max-pool but the last; the first 5 - trainable_layers stay frozen.
    stage_indices = [0] + [i for i, b in enumerate(features) if isinstance(b, nn.MaxPool2d)][:-1]
    num_stages = len(stage_indices)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(f"trainable_layers should be in the range [0, {num_stages}]. Instead got "
                         f"{trainable_layers}")
    freeze_before = len(features) if trainable_layers == 0 else stage_indices[num_stages - trainable_layers]
    for block in features[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    return SSDFeatureExtractorVGG(features, highres)


class SSD300_VGG16_Weights(WeightsEnum):
    COCO_V1 = registered_weights("ssd300_vgg16", "COCO_V1")
    DEFAULT = COCO_V1


@register_model()
@_documented("SSD300 with a VGG-16 backbone (`SSD: Single Shot MultiBox Detector`); images are resized to "
             "300x300 and ``trainable_backbone_layers`` defaults to 4 of 5; ``weights_backbone`` is a "
             ":class:`VGG16_Weights` member (default ``IMAGENET1K_FEATURES``).", SSD300_VGG16_Weights,
             model="SSD")
def ssd300_vgg16(*, weights: SSD300_VGG16_Weights | None = None, progress: bool = True,
                 num_classes: int | None = None,
                 weights_backbone: VGG16_Weights | None = VGG16_Weights.IMAGENET1K_FEATURES,
                 trainable_backbone_layers: int | None = None, **kwargs) -> SSD:
    check_builder_kwargs(kwargs, SSD300_VGG16_Weights)
    weights = SSD300_VGG16_Weights.verify(weights)
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.", stacklevel=2)
        kwargs.pop("size")
    weights_backbone, num_classes, is_trained = _resolve(weights, VGG16_Weights.verify(weights_backbone),
                                                         num_classes)
    trainable_backbone_layers = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 4)
    backbone = _vgg_extractor(vgg16(weights=weights_backbone, progress=progress), False,
                              trainable_backbone_layers)
    anchor_generator = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                           scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                                           steps=[8, 16, 32, 64, 100, 300])
    # The VGG weights were trained on 0-255 inputs with mean subtraction only: undo ToTensor's scaling.
    defaults = {"image_mean": [0.48235, 0.45882, 0.40784],
                "image_std": [1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0]}
    model = SSD(backbone, anchor_generator, (300, 300), num_classes, **{**defaults, **kwargs})
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
