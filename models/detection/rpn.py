"""Region Proposal Network (Ren et al., "Faster R-CNN", 2015) as TorchVision's ``models/detection/rpn.py``:
a shared head scores and regresses every anchor; the best proposals per level survive NMS."""

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import Conv2dNormActivation
from visionlite.ops import boxes as box_ops

from . import _utils as det_utils
from .anchor_utils import AnchorGenerator  # noqa: F401  (TorchVision's module exposes it here too)

__all__ = ["RPNHead", "RegionProposalNetwork", "concat_box_prediction_layers"]


class RPNHead(nn.Module):
    """``conv_depth`` 3x3 conv+ReLU layers, then per anchor an objectness logit and 4 box deltas.

    Args:
        in_channels: channels of every feature map.
        num_anchors: anchors per location.
        conv_depth: number of 3x3 convolutions.
    """

    _version = 2

    def __init__(self, in_channels, num_anchors, conv_depth=1):
        super().__init__()
        self.conv = nn.Sequential(
            *[
                Conv2dNormActivation(in_channels, in_channels, kernel_size=3, norm_layer=None)
                for _ in range(conv_depth)
            ]
        )
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1, stride=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1, stride=1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                if layer.bias is not None:
                    nn.init.constant_(layer.bias, 0)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        version = local_metadata.get("version", None)
        if version is None or version < 2:  # version 1 held a bare conv at conv.weight
            for kind in ("weight", "bias"):
                old, new = f"{prefix}conv.{kind}", f"{prefix}conv.0.0.{kind}"
                if old in state_dict:
                    state_dict[new] = state_dict.pop(old)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x):
        """List of (N, C, H, W) maps -> (objectness logits (N, A, H, W), box deltas (N, 4A, H, W)) per map."""
        logits, bbox_reg = [], []
        for feature in x:
            t = self.conv(feature)
            logits.append(self.cls_logits(t))
            bbox_reg.append(self.bbox_pred(t))
        return logits, bbox_reg


def permute_and_flatten(layer, N, A, C, H, W):
    """(N, A*C, H, W) -> (N, H*W*A, C), the anchors' order."""
    return layer.reshape(N, -1, C, H, W).permute(0, 3, 4, 1, 2).reshape(N, -1, C)


def concat_box_prediction_layers(box_cls, box_regression):
    """Flatten per-level predictions into (N*sum(HWA), C) class logits and (N*sum(HWA), 4) deltas, in the
    order of the anchors."""
    cls_flat, reg_flat = [], []
    for cls, reg in zip(box_cls, box_regression):
        N, AxC, H, W = cls.shape
        A = reg.shape[1] // 4
        cls_flat.append(permute_and_flatten(cls, N, A, AxC // A, H, W))
        reg_flat.append(permute_and_flatten(reg, N, A, 4, H, W))
    return vl.cat(cls_flat, dim=1).flatten(0, -2), vl.cat(reg_flat, dim=1).reshape(-1, 4)


class RegionProposalNetwork(nn.Module):
    """Region proposals from feature maps.

    Args:
        anchor_generator: the AnchorGenerator.
        head: module returning objectness logits and box deltas per map (RPNHead).
        fg_iou_thresh, bg_iou_thresh: IoU above which an anchor is positive, below which negative.
        batch_size_per_image, positive_fraction: anchors sampled per image for the losses.
        pre_nms_top_n, post_nms_top_n: {"training": n, "testing": n}; proposals kept per level before NMS,
            and per image after it.
        nms_thresh: NMS IoU threshold; score_thresh: minimum objectness probability.
    """

    def __init__(
        self,
        anchor_generator,
        head,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        pre_nms_top_n,
        post_nms_top_n,
        nms_thresh,
        score_thresh=0.0,
    ):
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(
            fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True
        )
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(
            batch_size_per_image, positive_fraction
        )
        self._pre_nms_top_n = pre_nms_top_n
        self._post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.score_thresh = score_thresh
        self.min_size = 1e-3

    def pre_nms_top_n(self):
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self):
        return self._post_nms_top_n["training" if self.training else "testing"]

    def assign_targets_to_anchors(self, anchors, targets):
        """Per image: anchor labels (1 object, 0 background, -1 ignored; float32) and the matched gt boxes."""
        labels, matched_gt_boxes = [], []
        for anchors_per_image, target in zip(anchors, targets):
            gt_boxes = target["boxes"]
            if gt_boxes.numel() == 0:
                device = anchors_per_image.device
                matched = vl.zeros(tuple(anchors_per_image.shape), dtype=vl.float32, device=device)
                image_labels = vl.zeros((anchors_per_image.shape[0],), dtype=vl.float32, device=device)
            else:
                matched_idxs = self.proposal_matcher(self.box_similarity(gt_boxes, anchors_per_image))
                matched = gt_boxes[matched_idxs.clamp(min=0)]
                image_labels = (matched_idxs >= 0).to(dtype=vl.float32)
                image_labels[matched_idxs == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0.0
                image_labels[matched_idxs == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1.0
            labels.append(image_labels)
            matched_gt_boxes.append(matched)
        return labels, matched_gt_boxes

    def _get_top_n_idx(self, objectness, num_anchors_per_level):
        indices, offset = [], 0
        for ob in objectness.split(num_anchors_per_level, 1):
            n = det_utils._topk_min(ob, self.pre_nms_top_n(), 1)
            indices.append(ob.topk(n, dim=1)[1] + offset)
            offset += ob.shape[1]
        return vl.cat(indices, dim=1)

    def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
        """Top-n per level, clip, drop tiny and low-score boxes, per-level NMS, keep post_nms_top_n."""
        num_images = proposals.shape[0]
        device = proposals.device
        objectness = objectness.detach().reshape(num_images, -1)
        levels = vl.cat(
            [vl.full((n,), i, dtype=vl.int64, device=device) for i, n in enumerate(num_anchors_per_level)], 0
        )
        levels = levels.reshape(1, -1).expand_as(objectness)
        top_n_idx = self._get_top_n_idx(objectness, num_anchors_per_level)
        batch_idx = vl.arange(num_images, device=device)[:, None]
        objectness = objectness[batch_idx, top_n_idx]
        levels = levels[batch_idx, top_n_idx]
        proposals = proposals[batch_idx, top_n_idx]
        probs = vl.sigmoid(objectness)
        final_boxes, final_scores = [], []
        for boxes, scores, lvl, img_shape in zip(proposals, probs, levels, image_shapes):
            boxes = box_ops.clip_boxes_to_image(boxes, img_shape)
            keep = box_ops.remove_small_boxes(boxes, self.min_size)
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = vl.where(scores >= self.score_thresh)[0]
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = box_ops.batched_nms(boxes, scores, lvl, self.nms_thresh)[: self.post_nms_top_n()]
            final_boxes.append(boxes[keep])
            final_scores.append(scores[keep])
        return final_boxes, final_scores

    def compute_loss(self, objectness, pred_bbox_deltas, labels, regression_targets):
        """(objectness BCE over the sampled anchors, smooth-L1 (beta 1/9) box loss over the sampled
        positives divided by the number sampled)."""
        pos, neg = self.fg_bg_sampler(labels)
        pos = vl.where(vl.cat(pos, dim=0))[0]
        neg = vl.where(vl.cat(neg, dim=0))[0]
        sampled = vl.cat([pos, neg], dim=0)
        objectness = objectness.flatten()
        labels = vl.cat(labels, dim=0)
        regression_targets = vl.cat(regression_targets, dim=0)
        box_loss = (
            F.smooth_l1_loss(pred_bbox_deltas[pos], regression_targets[pos], beta=1 / 9, reduction="sum")
            / sampled.numel()
        )
        objectness_loss = F.binary_cross_entropy_with_logits(objectness[sampled], labels[sampled])
        return objectness_loss, box_loss

    def forward(self, images, features, targets=None):
        """``images``: ImageList; ``features``: OrderedDict of maps; ``targets``: list of dicts with
        ``boxes`` (training). Returns (proposals per image (K, 4), losses dict)."""
        features = list(features.values())
        objectness, pred_bbox_deltas = self.head(features)
        anchors = self.anchor_generator(images, features)
        num_images = len(anchors)
        num_anchors_per_level = [o[0].shape[0] * o[0].shape[1] * o[0].shape[2] for o in objectness]
        objectness, pred_bbox_deltas = concat_box_prediction_layers(objectness, pred_bbox_deltas)
        # the proposals are not differentiated through (Fast R-CNN's approximate joint training)
        proposals = self.box_coder.decode(pred_bbox_deltas.detach(), anchors).reshape(num_images, -1, 4)
        boxes, scores = self.filter_proposals(
            proposals, objectness, images.image_sizes, num_anchors_per_level
        )
        losses = {}
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None in training mode")
            labels, matched_gt_boxes = self.assign_targets_to_anchors(anchors, targets)
            regression_targets = self.box_coder.encode(matched_gt_boxes, anchors)
            loss_objectness, loss_rpn_box_reg = self.compute_loss(
                objectness, pred_bbox_deltas, labels, regression_targets
            )
            losses = {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}
        return boxes, losses
