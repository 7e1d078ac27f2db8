"""Generalized IoU loss (Rezatofighi et al., https://arxiv.org/abs/1902.09630), as
``torchvision.ops.giou_loss``; a composite of differentiable tensor ops."""
from ._utils import _enclosing, _loss_inter_union, _reduce, _upcast_non_float

__all__ = ["generalized_box_iou_loss"]


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
