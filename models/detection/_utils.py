"""Shared pieces of the detection models (TorchVision's ``models/detection/_utils.py``): the box coders,
the proposal matchers, the balanced sampler and the box-regression losses."""
import math
from collections import OrderedDict

import visionlite as vl
import visionlite.nn.functional as F
from visionlite.ops import (
    FrozenBatchNorm2d,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
)

__all__ = ["BalancedPositiveNegativeSampler", "BoxCoder", "BoxLinearCoder", "Matcher", "SSDMatcher",
           "overwrite_eps", "retrieve_out_channels", "encode_boxes"]


class BalancedPositiveNegativeSampler:
    """Draws per image at most ``batch_size_per_image`` elements, a ``positive_fraction`` of them positive.

    Called with a list of per-image label tensors (-1 ignored, 0 negative, >= 1 positive), it returns two
    lists of uint8 masks of the same shapes: the sampled positives and the sampled negatives.
    """

    def __init__(self, batch_size_per_image, positive_fraction):
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def __call__(self, matched_idxs):
        pos_masks, neg_masks = [], []
        for labels in matched_idxs:
            positive = vl.where(labels >= 1)[0]
            negative = vl.where(labels == 0)[0]
            n_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            n_neg = min(negative.numel(), self.batch_size_per_image - n_pos)
            chosen_pos = positive[vl.randperm(positive.numel(), device=positive.device)[:n_pos]]
            chosen_neg = negative[vl.randperm(negative.numel(), device=negative.device)[:n_neg]]
            pos_mask = vl.zeros_like(labels, dtype=vl.uint8)
            neg_mask = vl.zeros_like(labels, dtype=vl.uint8)
            pos_mask[chosen_pos] = 1
            neg_mask[chosen_neg] = 1
            pos_masks.append(pos_mask)
            neg_masks.append(neg_mask)
        return pos_masks, neg_masks


def _centers_sizes(boxes):
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights, widths, heights


def encode_boxes(reference_boxes, proposals, weights):
    """Regression targets (N, 4) = (dx, dy, dw, dh) of ``reference_boxes`` (N, 4) relative to ``proposals``
    (N, 4), scaled by ``weights`` (4,)."""
    wx, wy, ww, wh = (weights[i] for i in range(4))
    px, py, pw, ph = _centers_sizes(proposals)
    gx, gy, gw, gh = _centers_sizes(reference_boxes)
    return vl.stack((wx * (gx - px) / pw, wy * (gy - py) / ph,
                     ww * vl.log(gw / pw), wh * vl.log(gh / ph)), dim=1)


class BoxCoder:
    """Encodes boxes as (dx, dy, dw, dh) offsets from reference boxes and decodes them back.

    Args:
        weights: the (wx, wy, ww, wh) scales of the four offsets.
        bbox_xform_clip: upper clamp of the decoded log-size offsets (log(1000 / 16)).
    """

    def __init__(self, weights, bbox_xform_clip=math.log(1000.0 / 16)):
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes, proposals):
        """Per-image lists of boxes in, per-image tuple of (N_i, 4) targets out."""
        counts = [len(b) for b in reference_boxes]
        targets = self.encode_single(vl.cat(list(reference_boxes), dim=0), vl.cat(list(proposals), dim=0))
        return targets.split(counts, 0)

    def encode_single(self, reference_boxes, proposals):
        """Targets (N, 4) of ``reference_boxes`` (N, 4) relative to ``proposals`` (N, 4)."""
        weights = vl.as_tensor(self.weights, dtype=reference_boxes.dtype, device=reference_boxes.device)
        return encode_boxes(reference_boxes, proposals, weights)

    def decode(self, rel_codes, boxes):
        """Decode ``rel_codes`` (sum N_i, K*4) against the list of per-image reference boxes; returns
        (sum N_i, K, 4)."""
        if not isinstance(boxes, (list, tuple)):
            raise TypeError("BoxCoder.decode expects boxes as a list or tuple of per-image tensors")
        if not isinstance(rel_codes, vl.Tensor):
            raise TypeError("BoxCoder.decode expects rel_codes as a Tensor")
        total = sum(b.shape[0] for b in boxes)
        if total > 0:
            rel_codes = rel_codes.reshape(total, -1)
        pred = self.decode_single(rel_codes, vl.cat(list(boxes), dim=0))
        return pred.reshape(total, -1, 4) if total > 0 else pred

    def decode_single(self, rel_codes, boxes):
        """Boxes (N, K*4) decoded from ``rel_codes`` (N, K*4) against reference ``boxes`` (N, 4)."""
        boxes = boxes.to(rel_codes.dtype)
        cx, cy, widths, heights = _centers_sizes(boxes)
        wx, wy, ww, wh = self.weights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = vl.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = vl.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        ctr_x = dx * widths[:, None] + cx[:, None]
        ctr_y = dy * heights[:, None] + cy[:, None]
        half_w = 0.5 * (vl.exp(dw) * widths[:, None])
        half_h = 0.5 * (vl.exp(dh) * heights[:, None])
        return vl.stack((ctr_x - half_w, ctr_y - half_h, ctr_x + half_w, ctr_y + half_h), dim=2).flatten(1)


class BoxLinearCoder:
    """FCOS's box coder: distances from the reference box centre to the four edges, optionally divided by the
    reference box's size."""

    def __init__(self, normalize_by_size=True):
        self.normalize_by_size = normalize_by_size

    @staticmethod
    def _size4(boxes):
        w = boxes[..., 2] - boxes[..., 0]
        h = boxes[..., 3] - boxes[..., 1]
        return vl.stack((w, h, w, h), dim=-1)

    def encode(self, reference_boxes, proposals):
        """Offsets (..., 4) of ``proposals`` (..., 4) from the centres of ``reference_boxes`` (..., 4)."""
        cx = 0.5 * (reference_boxes[..., 0] + reference_boxes[..., 2])
        cy = 0.5 * (reference_boxes[..., 1] + reference_boxes[..., 3])
        targets = vl.stack((cx - proposals[..., 0], cy - proposals[..., 1],
                            proposals[..., 2] - cx, proposals[..., 3] - cy), dim=-1)
        if self.normalize_by_size:
            targets = targets / self._size4(reference_boxes)
        return targets

    def decode(self, rel_codes, boxes):
        """Boxes (..., 4) from offsets ``rel_codes`` (..., 4) around the centres of ``boxes`` (..., 4)."""
        boxes = boxes.to(dtype=rel_codes.dtype)
        cx = 0.5 * (boxes[..., 0] + boxes[..., 2])
        cy = 0.5 * (boxes[..., 1] + boxes[..., 3])
        if self.normalize_by_size:
            rel_codes = rel_codes * self._size4(boxes)
        return vl.stack((cx - rel_codes[..., 0], cy - rel_codes[..., 1],
                         cx + rel_codes[..., 2], cy + rel_codes[..., 3]), dim=-1)


class Matcher:
    """Assigns each prediction (column of an M x N quality matrix) the ground truth it overlaps best.

    Returns an int64 (N,) tensor: the matched ground-truth index, ``BELOW_LOW_THRESHOLD`` (-1) below
    ``low_threshold``, ``BETWEEN_THRESHOLDS`` (-2) in [low, high). With ``allow_low_quality_matches`` each
    ground truth also keeps the predictions that overlap it best (ties included), whatever the thresholds.
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold, low_threshold, allow_low_quality_matches=False):
        if low_threshold > high_threshold:
            raise ValueError("low_threshold should be <= high_threshold")
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix):
        if match_quality_matrix.numel() == 0:
            if match_quality_matrix.shape[0] == 0:
                raise ValueError("No ground-truth boxes available for one of the images during training")
            raise ValueError("No proposal boxes available for one of the images during training")
        matched_vals, matches = match_quality_matrix.max(dim=0)
        best = matches.clone() if self.allow_low_quality_matches else None
        below = matched_vals < self.low_threshold
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[below] = self.BELOW_LOW_THRESHOLD
        matches[between] = self.BETWEEN_THRESHOLDS
        if best is not None:
            self.set_low_quality_matches_(matches, best, match_quality_matrix)
        return matches

    def set_low_quality_matches_(self, matches, all_matches, match_quality_matrix):
        """Restore, for every ground truth, the match of the predictions with its highest quality."""
        highest = match_quality_matrix.max(dim=1)[0]
        preds = vl.where(match_quality_matrix == highest[:, None])[1]
        matches[preds] = all_matches[preds]


class SSDMatcher(Matcher):
    """SSD's matcher: one threshold, and every ground truth keeps its single best prediction."""

    def __init__(self, threshold):
        super().__init__(threshold, threshold, allow_low_quality_matches=False)

    def __call__(self, match_quality_matrix):
        matches = super().__call__(match_quality_matrix)
        best_pred = match_quality_matrix.max(dim=1)[1]
        matches[best_pred] = vl.arange(best_pred.shape[0], dtype=vl.int64, device=best_pred.device)
        return matches


def overwrite_eps(model, eps):
    """Set ``eps`` of every FrozenBatchNorm2d in ``model`` (the legacy 0.0 of the v1 checkpoints)."""
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = eps


def retrieve_out_channels(model, size):
    """Channel counts of the feature maps ``model`` returns for a zero image of ``size`` (w, h)."""
    was_training = model.training
    model.eval()
    with vl.no_grad():
        device = next(model.parameters()).device
        features = model(vl.zeros((1, 3, size[1], size[0]), device=device))
        if isinstance(features, vl.Tensor):
            features = OrderedDict([("0", features)])
        channels = [x.shape[1] for x in features.values()]
    if was_training:
        model.train()
    return channels


def _topk_min(input, orig_kval, axis):
    """``orig_kval`` capped by the size of ``input`` along ``axis``."""
    return min(orig_kval, input.shape[axis])


def _box_loss(type, box_coder, anchors_per_image, matched_gt_boxes_per_image, bbox_regression_per_image,
              cnf=None):
    """Summed box-regression loss of one image: ``type`` is l1, smooth_l1 (``cnf['beta']``), or giou, diou,
    ciou on decoded boxes (``cnf['eps']``)."""
    if type not in ("l1", "smooth_l1", "ciou", "diou", "giou"):
        raise ValueError(f"Unsupported loss: {type}; choose l1, smooth_l1, ciou, diou or giou")
    if type in ("l1", "smooth_l1"):
        target = box_coder.encode_single(matched_gt_boxes_per_image, anchors_per_image)
        if type == "l1":
            return F.l1_loss(bbox_regression_per_image, target, reduction="sum")
        beta = cnf["beta"] if cnf is not None and "beta" in cnf else 1.0
        return F.smooth_l1_loss(bbox_regression_per_image, target, reduction="sum", beta=beta)
    boxes = box_coder.decode_single(bbox_regression_per_image, anchors_per_image)
    eps = cnf["eps"] if cnf is not None and "eps" in cnf else 1e-7
    losses = {"ciou": complete_box_iou_loss, "diou": distance_box_iou_loss, "giou": generalized_box_iou_loss}
    loss = losses[type]
    return loss(boxes, matched_gt_boxes_per_image, reduction="sum", eps=eps)


