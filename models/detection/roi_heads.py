"""The second stage of the R-CNN family (TorchVision's ``models/detection/roi_heads.py``): per-proposal box
classification and regression (Fast R-CNN), mask prediction (Mask R-CNN) and keypoint heatmaps (Keypoint
R-CNN), their losses, and the inference-time post-processing (pasting masks, reading keypoints)."""

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import boxes as box_ops
from visionlite.ops import roi_align

from . import _utils as det_utils

__all__ = [
    "RoIHeads",
    "fastrcnn_loss",
    "maskrcnn_loss",
    "maskrcnn_inference",
    "project_masks_on_boxes",
    "keypointrcnn_loss",
    "keypointrcnn_inference",
    "keypoints_to_heatmap",
    "heatmaps_to_keypoints",
    "paste_masks_in_image",
    "paste_mask_in_image",
    "expand_boxes",
    "expand_masks",
]


def fastrcnn_loss(class_logits, box_regression, labels, regression_targets):
    """Cross-entropy over ``class_logits`` (N, C) and smooth-L1 (beta 1/9) of the positives' class-specific
    deltas (N, C*4) against ``regression_targets``, summed and divided by N. Returns (cls loss, box loss)."""
    labels = vl.cat(labels, dim=0)
    regression_targets = vl.cat(regression_targets, dim=0)
    classification_loss = F.cross_entropy(class_logits, labels)
    pos = vl.where(labels > 0)[0]
    N = class_logits.shape[0]
    box_regression = box_regression.reshape(N, box_regression.shape[-1] // 4, 4)
    box_loss = F.smooth_l1_loss(
        box_regression[pos, labels[pos]], regression_targets[pos], beta=1 / 9, reduction="sum"
    )
    return classification_loss, box_loss / labels.numel()


def maskrcnn_inference(x, labels):
    """Per image, the sigmoid mask (n, 1, M, M) of each detection's own class, from logits
    (sum n, C, M, M)."""
    probs = x.sigmoid()
    counts = [label.shape[0] for label in labels]
    labels = vl.cat(labels)
    probs = probs[vl.arange(x.shape[0], device=labels.device), labels][:, None]
    return probs.split(counts, dim=0)


def project_masks_on_boxes(gt_masks, boxes, matched_idxs, M):
    """The (M, M) crops of the matched ground-truth masks (G, H, W) under each box (n, 4), by RoIAlign."""
    rois = vl.cat([matched_idxs.to(boxes.dtype)[:, None], boxes], dim=1)
    return roi_align(gt_masks[:, None].to(rois.dtype), rois, (M, M), 1.0)[:, 0]


def maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs):
    """Binary cross-entropy of each positive proposal's class mask against its projected ground truth."""
    M = mask_logits.shape[-1]
    labels = vl.cat([gl[idx] for gl, idx in zip(gt_labels, mask_matched_idxs)], dim=0)
    targets = vl.cat(
        [project_masks_on_boxes(m, p, i, M) for m, p, i in zip(gt_masks, proposals, mask_matched_idxs)], dim=0
    )
    if targets.numel() == 0:
        return mask_logits.sum() * 0
    return F.binary_cross_entropy_with_logits(
        mask_logits[vl.arange(labels.shape[0], device=labels.device), labels], targets
    )


def keypoints_to_heatmap(keypoints, rois, heatmap_size):
    """Flat heatmap index (y * S + x) of each keypoint (n, K, 3) inside its roi (n, 4), and a validity
    mask."""
    offset_x, offset_y = rois[:, 0][:, None], rois[:, 1][:, None]
    scale_x = (heatmap_size / (rois[:, 2] - rois[:, 0]))[:, None]
    scale_y = (heatmap_size / (rois[:, 3] - rois[:, 1]))[:, None]
    x, y = keypoints[..., 0], keypoints[..., 1]
    x_on_edge = x == rois[:, 2][:, None]
    y_on_edge = y == rois[:, 3][:, None]
    x = ((x - offset_x) * scale_x).floor().long()
    y = ((y - offset_y) * scale_y).floor().long()
    x[x_on_edge] = heatmap_size - 1
    y[y_on_edge] = heatmap_size - 1
    inside = (x >= 0) & (y >= 0) & (x < heatmap_size) & (y < heatmap_size)
    valid = (inside & (keypoints[..., 2] > 0)).long()
    return (y * heatmap_size + x) * valid, valid


def heatmaps_to_keypoints(maps, rois):
    """Keypoints (n, K, 3) = (x, y, 1) at the argmax of each heatmap (n, K, S, S) resized bicubically to its
    roi (n, 4), and their scores (n, K), as in Detectron."""
    offset_x, offset_y = rois[:, 0], rois[:, 1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    widths_ceil, heights_ceil = widths.ceil(), heights.ceil()
    K = maps.shape[1]
    preds, scores = [], []
    for i in range(len(rois)):
        map_w, map_h = int(widths_ceil[i].item()), int(heights_ceil[i].item())
        roi_map = F.interpolate(maps[i][:, None], size=(map_h, map_w), mode="bicubic", align_corners=False)[
            :, 0
        ]
        pos = roi_map.reshape(K, -1).argmax(dim=1)
        x_int = pos % map_w
        y_int = (pos - x_int) // map_w
        x = (x_int.float() + 0.5) * (widths[i] / map_w) + offset_x[i]
        y = (y_int.float() + 0.5) * (heights[i] / map_h) + offset_y[i]
        preds.append(vl.stack([x, y, vl.ones_like(x)], dim=1))
        scores.append(roi_map[vl.arange(K, device=roi_map.device), y_int, x_int])
    if not preds:
        return (
            vl.zeros((0, K, 3), dtype=vl.float32, device=maps.device),
            vl.zeros((0, K), dtype=vl.float32, device=maps.device),
        )
    return vl.stack(preds).float(), vl.stack(scores).float()


def keypointrcnn_loss(keypoint_logits, proposals, gt_keypoints, keypoint_matched_idxs):
    """Cross-entropy over the S*S heatmap locations of every visible keypoint inside its proposal."""
    N, K, H, W = keypoint_logits.shape
    if H != W:
        raise ValueError(
            "keypoint_logits height and width (last two elements of shape) should be equal. "
            f"Instead got H = {H} and W = {W}"
        )
    heatmaps, valid = [], []
    for props, gt_kp, midx in zip(proposals, gt_keypoints, keypoint_matched_idxs):
        h, v = keypoints_to_heatmap(gt_kp[midx], props, H)
        heatmaps.append(h.reshape(-1))
        valid.append(v.reshape(-1))
    targets = vl.cat(heatmaps, dim=0)
    valid = vl.where(vl.cat(valid, dim=0).to(vl.uint8))[0]
    if targets.numel() == 0 or len(valid) == 0:
        return keypoint_logits.sum() * 0
    return F.cross_entropy(keypoint_logits.reshape(N * K, H * W)[valid], targets[valid])


def keypointrcnn_inference(x, boxes):
    """Per image, keypoints (n, K, 3) and scores (n, K) from heatmap logits (sum n, K, S, S)."""
    probs, scores = [], []
    for xx, bb in zip(x.split([b.shape[0] for b in boxes], dim=0), boxes):
        p, s = heatmaps_to_keypoints(xx, bb)
        probs.append(p)
        scores.append(s)
    return probs, scores


def expand_boxes(boxes, scale):
    """Boxes (n, 4) scaled by ``scale`` about their centres."""
    w_half = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    h_half = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    x_c = (boxes[:, 2] + boxes[:, 0]) * 0.5
    y_c = (boxes[:, 3] + boxes[:, 1]) * 0.5
    return vl.stack([x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half], dim=1)


def expand_masks(mask, padding):
    """Zero-pad (n, 1, M, M) masks by ``padding``; returns them and the scale (M + 2 padding) / M."""
    M = mask.shape[-1]
    return F.pad(mask, (padding,) * 4), float(M + 2 * padding) / M


def paste_mask_in_image(mask, box, im_h, im_w):
    """An (im_h, im_w) image holding ``mask`` (M, M) resized bilinearly to the integer ``box`` (4,)."""
    x0b, y0b, x1b, y1b = (int(v) for v in box.tolist())
    w, h = max(x1b - x0b + 1, 1), max(y1b - y0b + 1, 1)
    mask = F.interpolate(mask.expand((1, 1, -1, -1)), size=(h, w), mode="bilinear", align_corners=False)[0][0]
    im_mask = vl.zeros((im_h, im_w), dtype=mask.dtype, device=mask.device)
    x0, x1 = max(x0b, 0), min(x1b + 1, im_w)
    y0, y1 = max(y0b, 0), min(y1b + 1, im_h)
    if x1 > x0 and y1 > y0:
        im_mask[y0:y1, x0:x1] = mask[y0 - y0b : y1 - y0b, x0 - x0b : x1 - x0b]
    return im_mask


def paste_masks_in_image(masks, boxes, img_shape, padding=1):
    """Mask probabilities (n, 1, M, M) pasted into full images (n, 1, H, W) at ``boxes`` (n, 4)."""
    masks, scale = expand_masks(masks, padding=padding)
    boxes = expand_boxes(boxes, scale).to(dtype=vl.int64)
    im_h, im_w = img_shape
    pasted = [paste_mask_in_image(m[0], b, im_h, im_w) for m, b in zip(masks, boxes)]
    if not pasted:
        return masks.new_zeros((0, 1, im_h, im_w))
    return vl.stack(pasted, dim=0)[:, None]


class RoIHeads(nn.Module):
    """Box (and optional mask, keypoint) heads over RPN proposals.

    Args:
        box_roi_pool, box_head, box_predictor: MultiScaleRoIAlign, feature head, class/box predictor.
        fg_iou_thresh, bg_iou_thresh: proposal IoU for a positive / below which a negative.
        batch_size_per_image, positive_fraction: proposals sampled per image in training.
        bbox_reg_weights: BoxCoder weights (default (10, 10, 5, 5)).
        score_thresh, nms_thresh, detections_per_img: inference filtering.
        mask_roi_pool, mask_head, mask_predictor: the Mask R-CNN branch (optional).
        keypoint_roi_pool, keypoint_head, keypoint_predictor: the Keypoint R-CNN branch (optional).
    """

    def __init__(
        self,
        box_roi_pool,
        box_head,
        box_predictor,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        bbox_reg_weights,
        score_thresh,
        nms_thresh,
        detections_per_img,
        mask_roi_pool=None,
        mask_head=None,
        mask_predictor=None,
        keypoint_roi_pool=None,
        keypoint_head=None,
        keypoint_predictor=None,
    ):
        super().__init__()
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(
            fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False
        )
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(
            batch_size_per_image, positive_fraction
        )
        self.box_coder = det_utils.BoxCoder(
            bbox_reg_weights if bbox_reg_weights is not None else (10.0, 10.0, 5.0, 5.0)
        )
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor
        self.keypoint_roi_pool = keypoint_roi_pool
        self.keypoint_head = keypoint_head
        self.keypoint_predictor = keypoint_predictor

    def has_mask(self):
        return not (self.mask_roi_pool is None or self.mask_head is None or self.mask_predictor is None)

    def has_keypoint(self):
        return not (
            self.keypoint_roi_pool is None or self.keypoint_head is None or self.keypoint_predictor is None
        )

    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        """Per image: the matched gt index of every proposal (clamped at 0) and its label (0 background,
        -1 ignored)."""
        matched_idxs, labels = [], []
        for props, boxes, gt_lab in zip(proposals, gt_boxes, gt_labels):
            if boxes.numel() == 0:
                n = props.shape[0]
                clamped = vl.zeros((n,), dtype=vl.int64, device=props.device)
                image_labels = vl.zeros((n,), dtype=vl.int64, device=props.device)
            else:
                idxs = self.proposal_matcher(box_ops.box_iou(boxes, props))
                clamped = idxs.clamp(min=0)
                image_labels = gt_lab[clamped].to(dtype=vl.int64)
                image_labels[idxs == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0
                image_labels[idxs == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1
            matched_idxs.append(clamped)
            labels.append(image_labels)
        return matched_idxs, labels

    def subsample(self, labels):
        pos, neg = self.fg_bg_sampler(labels)
        return [vl.where(p | n)[0] for p, n in zip(pos, neg)]

    def add_gt_proposals(self, proposals, gt_boxes):
        return [vl.cat((p, g)) for p, g in zip(proposals, gt_boxes)]

    def check_targets(self, targets):
        if targets is None:
            raise ValueError("targets should not be None")
        for key in ("boxes", "labels") + (("masks",) if self.has_mask() else ()):
            if not all(key in t for t in targets):
                raise ValueError(f"Every element of targets should have a {key} key")

    def select_training_samples(self, proposals, targets):
        """Add the gt boxes to the proposals, match, sample; returns (proposals, matched_idxs, labels,
        regression_targets) per image."""
        self.check_targets(targets)
        dtype, device = proposals[0].dtype, proposals[0].device
        gt_boxes = [t["boxes"].to(dtype) for t in targets]
        gt_labels = [t["labels"] for t in targets]
        proposals = self.add_gt_proposals(proposals, gt_boxes)
        matched_idxs, labels = self.assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        sampled = self.subsample(labels)
        matched_gt_boxes = []
        for i, inds in enumerate(sampled):
            proposals[i] = proposals[i][inds]
            labels[i] = labels[i][inds]
            matched_idxs[i] = matched_idxs[i][inds]
            boxes = gt_boxes[i]
            if boxes.numel() == 0:
                boxes = vl.zeros((1, 4), dtype=dtype, device=device)
            matched_gt_boxes.append(boxes[matched_idxs[i]])
        return proposals, matched_idxs, labels, self.box_coder.encode(matched_gt_boxes, proposals)

    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        """Per image, (boxes, scores, labels) after decoding, clipping, score threshold, small-box removal,
        per-class NMS and the top ``detections_per_img``."""
        device = class_logits.device
        num_classes = class_logits.shape[-1]
        counts = [p.shape[0] for p in proposals]
        pred_boxes = self.box_coder.decode(box_regression, proposals)
        pred_scores = F.softmax(class_logits, -1)
        all_boxes, all_scores, all_labels = [], [], []
        for boxes, scores, shape in zip(
            pred_boxes.split(counts, 0), pred_scores.split(counts, 0), image_shapes
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            labels = vl.arange(num_classes, device=device).reshape(1, -1).expand_as(scores)
            # drop the background column, then one candidate per (proposal, class)
            boxes = boxes[:, 1:].reshape(-1, 4)
            scores = scores[:, 1:].reshape(-1)
            labels = labels[:, 1:].reshape(-1)
            inds = vl.where(scores > self.score_thresh)[0]
            boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)[: self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_labels.append(labels[keep])
        return all_boxes, all_scores, all_labels

    def _check_target_types(self, targets):
        for t in targets:
            if not t["boxes"].is_floating_point():
                raise TypeError(f"target boxes must of float type, instead got {t['boxes'].dtype}")
            if t["labels"].dtype != vl.int64:
                raise TypeError(f"target labels must of int64 type, instead got {t['labels'].dtype}")
            if self.has_keypoint() and t["keypoints"].dtype != vl.float32:
                raise TypeError(f"target keypoints must of float type, instead got {t['keypoints'].dtype}")

    def _positive(self, proposals, matched_idxs, labels):
        props, idxs = [], []
        for p, m, lab in zip(proposals, matched_idxs, labels):
            pos = vl.where(lab > 0)[0]
            props.append(p[pos])
            idxs.append(m[pos])
        return props, idxs

    def forward(self, features, proposals, image_shapes, targets=None):
        """``features``: OrderedDict of maps; ``proposals``: per-image (K, 4); ``image_shapes``: per-image
        (h, w). Returns (detections: list of dicts with boxes/labels/scores (+ masks, keypoints,
        keypoints_scores), losses dict)."""
        if targets is not None:
            self._check_target_types(targets)
        labels = regression_targets = matched_idxs = None
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(
                proposals, targets
            )
        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)
        result, losses = [], {}
        if self.training:
            loss_classifier, loss_box_reg = fastrcnn_loss(
                class_logits, box_regression, labels, regression_targets
            )
            losses = {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        else:
            boxes, scores, det_labels = self.postprocess_detections(
                class_logits, box_regression, proposals, image_shapes
            )
            result = [
                {"boxes": b, "labels": lab, "scores": s} for b, s, lab in zip(boxes, scores, det_labels)
            ]

        if self.has_mask():
            if self.training:
                mask_proposals, pos_matched_idxs = self._positive(proposals, matched_idxs, labels)
            else:
                mask_proposals = [r["boxes"] for r in result]
            mask_logits = self.mask_predictor(
                self.mask_head(self.mask_roi_pool(features, mask_proposals, image_shapes))
            )
            if self.training:
                losses["loss_mask"] = maskrcnn_loss(
                    mask_logits,
                    mask_proposals,
                    [t["masks"] for t in targets],
                    [t["labels"] for t in targets],
                    pos_matched_idxs,
                )
            else:
                for prob, r in zip(maskrcnn_inference(mask_logits, [r["labels"] for r in result]), result):
                    r["masks"] = prob

        if self.has_keypoint():
            if self.training:
                kp_proposals, pos_matched_idxs = self._positive(proposals, matched_idxs, labels)
            else:
                kp_proposals = [r["boxes"] for r in result]
            kp_logits = self.keypoint_predictor(
                self.keypoint_head(self.keypoint_roi_pool(features, kp_proposals, image_shapes))
            )
            if self.training:
                losses["loss_keypoint"] = keypointrcnn_loss(
                    kp_logits, kp_proposals, [t["keypoints"] for t in targets], pos_matched_idxs
                )
            else:
                kp_probs, kp_scores = keypointrcnn_inference(kp_logits, kp_proposals)
                for prob, s, r in zip(kp_probs, kp_scores, result):
                    r["keypoints"] = prob
                    r["keypoints_scores"] = s
        return result, losses
