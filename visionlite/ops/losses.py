"""Detection losses as ``torchvision.ops``: the focal loss of RetinaNet and the generalized, distance and
complete IoU losses for box regression. All are composites of differentiable tensor ops."""
import math

import visionlite as vl
import visionlite.nn.functional as F

from ._utils import _loss_inter_union, _upcast_non_float

__all__ = ["sigmoid_focal_loss", "generalized_box_iou_loss", "distance_box_iou_loss", "complete_box_iou_loss"]


def _reduce(loss, reduction, empty_mean_is_zero=True):
    if reduction == "none":
        return loss
    if reduction == "mean":
        if empty_mean_is_zero and loss.numel() == 0:
            return 0.0 * loss.sum()
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction modes: "
                     f"'none', 'mean', 'sum'")


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """Focal loss (Lin et al., https://arxiv.org/abs/1708.02002) of logits ``inputs`` against binary
    ``targets`` of the same shape.

    Args:
        alpha: weight of positives in ``[0, 1]`` (negatives get ``1 - alpha``), or -1 for no weighting.
        gamma: exponent of the modulating factor ``(1 - p_t)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """
    if not (0 <= alpha <= 1) and alpha != -1:
        raise ValueError(f"Invalid alpha value: {alpha}. alpha must be in the range [0,1] or -1 for ignore.")
    p = vl.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction, empty_mean_is_zero=False)


def _enclosing(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    return vl.minimum(x1, x1g), vl.minimum(y1, y1g), vl.maximum(x2, x2g), vl.maximum(y2, y2g)


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - GIoU`` of matching xyxy boxes ``Tensor[N, 4]`` (or ``[4]``) (Rezatofighi et al., 2019).

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        eps: guards the divisions by the union and the enclosing area.
    """
    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(boxes1, boxes2)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    loss = 1 - (iou - ((area_c - union) / (area_c + eps)))
    return _reduce(loss, reduction)


def _diou_iou_loss(boxes1, boxes2, eps=1e-7):
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(boxes1, boxes2)
    diagonal_sq = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    centers_sq = (((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2) + (((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2)
    return 1 - iou + (centers_sq / diagonal_sq), iou


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - DIoU`` of matching xyxy boxes ``Tensor[N, 4]`` (Zheng et al., https://arxiv.org/abs/1911.08287);
    ``reduction`` and ``eps`` as :func:`generalized_box_iou_loss`."""
    loss, _ = _diou_iou_loss(_upcast_non_float(boxes1), _upcast_non_float(boxes2), eps)
    return _reduce(loss, reduction)


def complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - CIoU`` of matching xyxy boxes ``Tensor[N, 4]``: the distance IoU loss plus an aspect-ratio term
    whose weight ``alpha`` carries no gradient. ``reduction`` and ``eps`` as
    :func:`generalized_box_iou_loss` (the distance part uses the default eps, as TorchVision)."""
    boxes1 = _upcast_non_float(boxes1)
    boxes2 = _upcast_non_float(boxes2)
    diou_loss, iou = _diou_iou_loss(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    v = (4 / (math.pi ** 2)) * vl.pow(vl.atan((x2g - x1g) / (y2g - y1g)) - vl.atan((x2 - x1) / (y2 - y1)), 2)
    with vl.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou_loss + alpha * v, reduction)
