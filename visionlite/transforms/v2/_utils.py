"""Sample queries used when writing v2 transforms, as ``torchvision.transforms.v2``'s helpers: each takes
a flat list of a sample's leaves (``check_type`` one object)."""
from .._common import is_pil_image
from .functional import get_dimensions, get_size, is_pure_tensor
from .tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video

__all__ = ["check_type", "has_any", "has_all", "get_bounding_boxes", "get_keypoints", "query_chw",
           "query_size"]


def _is_pil(obj):
    return is_pil_image(obj)


def check_type(obj, types_or_checks):
    """True if ``obj`` is an instance of one of the types, or one of the predicates accepts it."""
    return any(isinstance(obj, t) if isinstance(t, type) else t(obj) for t in types_or_checks)


def has_any(flat_inputs, *types_or_checks):
    """True if some leaf matches one of the types or predicates."""
    return any(check_type(x, types_or_checks) for x in flat_inputs)


def has_all(flat_inputs, *types_or_checks):
    """True if every type or predicate matches some leaf."""
    return all(any(check_type(x, (t,)) for x in flat_inputs) for t in types_or_checks)


def get_bounding_boxes(flat_inputs):
    """The (first) ``BoundingBoxes`` among the leaves."""
    for x in flat_inputs:
        if isinstance(x, BoundingBoxes):
            return x
    raise ValueError("No bounding boxes were found in the sample")


def get_keypoints(flat_inputs):
    """The (first) ``KeyPoints`` among the leaves."""
    for x in flat_inputs:
        if isinstance(x, KeyPoints):
            return x
    raise ValueError("No keypoints were found in the sample")


def _unique(values, what):
    if len(values) > 1:
        shown = ", ".join(str(v) for v in sorted(values))
        raise ValueError(f"Found multiple {what} dimensions in the sample: {shown}")
    return values.pop()


def query_chw(flat_inputs):
    """``(channels, height, width)`` shared by the images and videos of the sample."""
    chws = {tuple(get_dimensions(x)) for x in flat_inputs
            if check_type(x, (is_pure_tensor, Image, _is_pil, Video))}
    if not chws:
        raise TypeError("No image or video was found in the sample")
    return _unique(chws, "CxHxW")


def query_size(flat_inputs):
    """``(height, width)`` shared by the images, videos, masks, boxes and key points of the sample."""
    sizes = {tuple(get_size(x)) for x in flat_inputs
             if check_type(x, (is_pure_tensor, Image, _is_pil, Video, Mask, BoundingBoxes, KeyPoints))}
    if not sizes:
        raise TypeError("No image, video, mask, bounding box of keypoint was found in the sample")
    return _unique(sizes, "HxW")
