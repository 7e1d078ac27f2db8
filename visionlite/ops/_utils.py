"""Helpers shared by the ops, as ``torchvision.ops._utils``: dtype upcasts against overflow, the RoI box
formats (``Tensor[K, 5]`` or a list of ``Tensor[L, 4]``), and splitting norm parameters."""
import visionlite as vl
from visionlite import nn

__all__ = ["_cat", "convert_boxes_to_roi_format", "check_roi_boxes_shape", "split_normalization_params",
           "_upcast", "_upcast_non_float", "_loss_inter_union", "_enclosing", "_reduce"]


def _cat(tensors, dim=0):
    """``vl.cat`` that returns a single tensor as is (no copy)."""
    if len(tensors) == 1:
        return tensors[0]
    return vl.cat(tensors, dim)


def convert_boxes_to_roi_format(boxes):
    """Per-image boxes ``[Tensor[L_i, 4], ...]`` as one ``Tensor[K, 5]``, the image index first."""
    concat = _cat(list(boxes), dim=0)
    ids = _cat([vl.full_like(b[:, :1], i) for i, b in enumerate(boxes)], dim=0)
    return vl.cat([ids, concat], dim=1)


def check_roi_boxes_shape(boxes):
    """Raise unless ``boxes`` is a ``Tensor[K, 5]`` or a list/tuple of ``Tensor[L, 4]``."""
    if isinstance(boxes, (list, tuple)):
        for t in boxes:
            if t.ndim != 2 or t.size(1) != 4:
                raise AssertionError("The shape of the tensor in the boxes list is not correct as "
                                     "List[Tensor[L, 4]]")
    elif isinstance(boxes, vl.Tensor):
        if boxes.ndim != 2 or boxes.size(1) != 5:
            raise AssertionError("The boxes tensor shape is not correct as Tensor[K, 5]")
    else:
        raise AssertionError("boxes is expected to be a Tensor[L, 5] or a List[Tensor[K, 4]]")


def split_normalization_params(model, norm_classes=None):
    """``(norm_params, other_params)``: trainable parameters of normalization layers, and all the others."""
    if not norm_classes:
        from visionlite.core.nn.modules.normalization import _BatchNorm, _InstanceNorm

        norm_classes = [_BatchNorm, nn.LayerNorm, nn.GroupNorm, _InstanceNorm, nn.LocalResponseNorm]
    for t in norm_classes:
        if not issubclass(t, nn.Module):
            raise ValueError(f"Class {t} is not a subclass of nn.Module.")
    classes = tuple(norm_classes)
    norm_params, other_params = [], []
    for module in model.modules():
        if next(module.children(), None):
            other_params.extend(p for p in module.parameters(recurse=False) if p.requires_grad)
        elif isinstance(module, classes):
            norm_params.extend(p for p in module.parameters() if p.requires_grad)
        else:
            other_params.extend(p for p in module.parameters() if p.requires_grad)
    return norm_params, other_params


def _upcast(t):
    """float16/bfloat16 -> float32 and small ints -> int32, so products do not overflow."""
    if t.is_floating_point():
        return t if t.dtype in (vl.float32, vl.float64) else t.float()
    return t if t.dtype in (vl.int32, vl.int64) else t.int()


def _upcast_non_float(t):
    """Anything but float32/float64 -> float32."""
    return t if t.dtype in (vl.float32, vl.float64) else t.float()


def _loss_inter_union(boxes1, boxes2):
    """Elementwise ``(intersection, union)`` of two same-shape sets of xyxy boxes ``[..., 4]``."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1 = vl.maximum(x1, x1g)
    ykis1 = vl.maximum(y1, y1g)
    xkis2 = vl.minimum(x2, x2g)
    ykis2 = vl.minimum(y2, y2g)
    overlap = (ykis2 > ykis1) & (xkis2 > xkis1)
    inter = vl.where(overlap, (xkis2 - xkis1) * (ykis2 - ykis1), vl.zeros_like(x1))
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _enclosing(boxes1, boxes2):
    """Elementwise smallest enclosing box ``(x1, y1, x2, y2)`` of two sets of xyxy boxes."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    return vl.minimum(x1, x1g), vl.minimum(y1, y1g), vl.maximum(x2, x2g), vl.maximum(y2, y2g)


def _reduce(loss, reduction, empty_mean_is_zero=True):
    """A loss reduction ('none' | 'mean' | 'sum'); the box losses average an empty loss to 0."""
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
