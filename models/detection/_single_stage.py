"""Pieces shared by the single-stage detectors (RetinaNet, FCOS, SSD): input checks with TorchVision's
messages, per-level splitting of head outputs, and the per-level top-k selection of post-processing."""
import visionlite as vl

from .._utils import _reject_pretrained

__all__ = ["check_builder_kwargs", "check_images_and_targets", "check_targets_after_transform",
           "split_per_level", "topk_per_level"]


def check_builder_kwargs(kwargs, weights_enum):
    """Refuse TorchVision's legacy ``pretrained``/``pretrained_backbone`` flags with the replacement."""
    _reject_pretrained(kwargs, weights_enum)
    if "pretrained_backbone" in kwargs:
        raise TypeError("'pretrained_backbone' is not an argument of visionlite's builders: pass "
                        "weights_backbone=<BackboneWeights>.IMAGENET1K_V1 (or None)")


def check_images_and_targets(training, images, targets):
    """Train mode needs ``targets``, each with ``boxes`` a ``(G, 4)`` Tensor; images are ``(..., H, W)``."""
    if training:
        if targets is None:
            raise ValueError("targets should not be none when in training mode: pass model(images, targets) "
                             "with one dict of 'boxes' (G, 4) and 'labels' (G,) per image")
        for target in targets:
            boxes = target["boxes"]
            if not isinstance(boxes, vl.Tensor):
                raise TypeError(f"Expected target boxes to be of type Tensor, got {type(boxes)}.")
            if boxes.ndim != 2 or boxes.shape[-1] != 4:
                raise ValueError(f"Expected target boxes to be a tensor of shape [N, 4], got "
                                 f"{tuple(boxes.shape)}.")
    for img in images:
        if img.ndim < 2:
            raise ValueError(f"expecting the last two dimensions of the Tensor to be H and W instead got "
                             f"{tuple(img.shape[-2:])}")


def check_targets_after_transform(targets):
    """Boxes must have positive width and height (after resizing)."""
    if targets is None:
        return
    for index, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if bool(degenerate.any()):
            first = int(vl.where(degenerate)[0][0])
            raise ValueError(f"All bounding boxes should have positive height and width. Found invalid box "
                             f"{boxes[first].tolist()} for target at index {index}.")


def split_per_level(head_outputs, anchors, sizes):
    """Split each ``(N, sum(sizes), k)`` head output along dim 1 and each image's anchors along dim 0."""
    outputs = {key: list(value.split(sizes, dim=1)) for key, value in head_outputs.items()}
    return outputs, [list(a.split(sizes)) for a in anchors]


def topk_per_level(scores, score_thresh, topk_candidates):
    """The best (anchor, class) pairs of one level: ``scores`` ``(A, K)`` -> (their scores, in descending
    order, at most ``topk_candidates`` of those above ``score_thresh``; anchor indices; class labels)."""
    num_classes = scores.shape[-1]
    flat = scores.flatten()
    keep = flat > score_thresh
    flat = flat[keep]
    candidates = vl.where(keep)[0]
    flat, order = flat.topk(min(topk_candidates, candidates.shape[0]))
    candidates = candidates[order]
    return flat, vl.div(candidates, num_classes, rounding_mode="floor"), candidates % num_classes
