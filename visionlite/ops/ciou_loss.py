"""Complete IoU loss (Zheng et al., https://arxiv.org/abs/1911.08287), as ``torchvision.ops.ciou_loss``;
a composite of differentiable tensor ops."""
import math

import visionlite as vl

from ._utils import _reduce, _upcast_non_float
from .diou_loss import _diou_iou_loss

__all__ = ["complete_box_iou_loss"]


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
