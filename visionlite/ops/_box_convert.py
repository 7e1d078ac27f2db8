"""Box format conversions behind :func:`visionlite.ops.box_convert`, as ``torchvision.ops._box_convert``.

Axis-aligned: ``xyxy`` (corners), ``xywh`` (top-left corner and size), ``cxcywh`` (centre and size).
Rotated: ``xywhr`` (top-left corner, size, angle ``r`` in degrees counter-clockwise), ``cxcywhr`` (centre,
size, angle) and ``xyxyxyxy`` (the four corners, clockwise from the top-left one). Integer boxes are
converted in float and rounded back, as TorchVision.
"""
import math

import visionlite as vl


def _box_xywh_to_xyxy(boxes):
    x, y, w, h = boxes.unbind(-1)
    return vl.stack((x, y, x + w, y + h), dim=-1)


def _box_cxcywh_to_xyxy(boxes):
    cx, cy, w, h = boxes.unbind(-1)
    return vl.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def _box_xyxy_to_xywh(boxes):
    x1, y1, x2, y2 = boxes.unbind(-1)
    return vl.stack((x1, y1, x2 - x1, y2 - y1), dim=-1)


def _box_xyxy_to_cxcywh(boxes):
    x1, y1, x2, y2 = boxes.unbind(-1)
    return vl.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def _rotated(fn):
    """Run ``fn`` in float for integer boxes, then round back to the input dtype."""
    def wrapper(boxes):
        if boxes.is_floating_point():
            return fn(boxes)
        return fn(boxes.float()).round().to(boxes.dtype)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _cos_sin(r):
    r_rad = r * math.pi / 180.0
    return vl.cos(r_rad), vl.sin(r_rad)


@_rotated
def _box_cxcywhr_to_xywhr(boxes):
    cx, cy, w, h, r = boxes.unbind(-1)
    cos, sin = _cos_sin(r)
    return vl.stack((cx - w / 2 * cos - h / 2 * sin, cy - h / 2 * cos + w / 2 * sin, w, h, r), dim=-1)


@_rotated
def _box_xywhr_to_cxcywhr(boxes):
    x1, y1, w, h, r = boxes.unbind(-1)
    cos, sin = _cos_sin(r)
    return vl.stack((x1 + w / 2 * cos + h / 2 * sin, y1 - w / 2 * sin + h / 2 * cos, w, h, r), dim=-1)


@_rotated
def _box_xywhr_to_xyxyxyxy(boxes):
    x1, y1, w, h, r = boxes.unbind(-1)
    cos, sin = _cos_sin(r)
    x2, y2 = x1 + w * cos, y1 - w * sin
    return vl.stack((x1, y1, x2, y2, x2 + h * sin, y2 + h * cos, x1 + h * sin, y1 + h * cos), dim=-1)


@_rotated
def _box_xyxyxyxy_to_xywhr(boxes):
    x1, y1, x2, y2, x3, y3, x4, y4 = boxes.unbind(-1)
    r = vl.atan2(y1 - y2, x2 - x1) * 180 / math.pi
    w = ((x2 - x1) ** 2 + (y1 - y2) ** 2).sqrt()
    h = ((x3 - x2) ** 2 + (y3 - y2) ** 2).sqrt()
    return vl.stack((x1, y1, w, h, r), dim=-1)


CONVERSIONS = {
    ("xywh", "xyxy"): (_box_xywh_to_xyxy,),
    ("cxcywh", "xyxy"): (_box_cxcywh_to_xyxy,),
    ("xyxy", "xywh"): (_box_xyxy_to_xywh,),
    ("xyxy", "cxcywh"): (_box_xyxy_to_cxcywh,),
    ("xywh", "cxcywh"): (_box_xywh_to_xyxy, _box_xyxy_to_cxcywh),
    ("cxcywh", "xywh"): (_box_cxcywh_to_xyxy, _box_xyxy_to_xywh),
    ("cxcywhr", "xywhr"): (_box_cxcywhr_to_xywhr,),
    ("xywhr", "cxcywhr"): (_box_xywhr_to_cxcywhr,),
    ("cxcywhr", "xyxyxyxy"): (_box_cxcywhr_to_xywhr, _box_xywhr_to_xyxyxyxy),
    ("xyxyxyxy", "cxcywhr"): (_box_xyxyxyxy_to_xywhr, _box_xywhr_to_cxcywhr),
    ("xywhr", "xyxyxyxy"): (_box_xywhr_to_xyxyxyxy,),
    ("xyxyxyxy", "xywhr"): (_box_xyxyxyxy_to_xywhr,),
}
