"""Multi-scale RoIAlign over a feature pyramid, as ``torchvision.ops.MultiScaleRoIAlign``: each box is
pooled from the level that eq. 1 of the FPN paper (Lin et al., https://arxiv.org/abs/1612.03144) assigns
it, ``floor(k0 + log2(sqrt(area) / 224))`` clamped to the available levels."""
import numpy as np

import visionlite as vl
from visionlite import nn

from ._utils import convert_boxes_to_roi_format
from .boxes import box_area
from .roi_align import roi_align

__all__ = ["MultiScaleRoIAlign", "LevelMapper", "initLevelMapper"]


class LevelMapper:
    """Maps boxes to pyramid levels ``k_min..k_max`` (returned as ``level - k_min``, int64).

    Args:
        k_min, k_max: the finest and coarsest levels (log2 of their strides).
        canonical_scale: box size (sqrt of area) that maps to ``canonical_level``.
        canonical_level: level of a ``canonical_scale`` box (``k0`` of the paper).
        eps: added before the floor, so exact powers of two land on their level.
    """

    def __init__(self, k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
        self.k_min = k_min
        self.k_max = k_max
        self.s0 = canonical_scale
        self.lvl0 = canonical_level
        self.eps = eps

    def __call__(self, boxlists):
        s = vl.sqrt(vl.cat([box_area(b) for b in boxlists]))
        eps = vl.tensor(self.eps, dtype=s.dtype, device=s.device)
        target = vl.floor(self.lvl0 + vl.log2(s / self.s0) + eps)
        target = vl.clamp(target, min=self.k_min, max=self.k_max)
        return target.to(vl.int64) - self.k_min


def initLevelMapper(k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
    return LevelMapper(k_min, k_max, canonical_scale, canonical_level, eps)


def _infer_scale(feature, original_size):
    # The power of two closest to feature size / image size (log2 rounded in float32, halves to even).
    approx = float(feature.shape[-2]) / float(original_size[0])
    return 2 ** float(np.round(np.log2(np.float32(approx))))


def _setup_scales(features, image_shapes, canonical_scale, canonical_level):
    """``(scales, LevelMapper)`` from the feature maps' sizes against the largest image size."""
    if not image_shapes:
        raise ValueError("images list should not be empty")
    original = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
    scales = [_infer_scale(f, original) for f in features]
    lvl_min = -float(np.log2(np.float32(scales[0])))
    lvl_max = -float(np.log2(np.float32(scales[-1])))
    return scales, initLevelMapper(int(lvl_min), int(lvl_max), canonical_scale=canonical_scale,
                                   canonical_level=canonical_level)


_convert_to_roi_format = convert_boxes_to_roi_format


def _filter_input(x, featmap_names):
    return [v for k, v in x.items() if k in featmap_names]


def _multiscale_roi_align(x_filtered, boxes, output_size, sampling_ratio, scales, mapper):
    if scales is None or mapper is None:
        raise ValueError("scales and mapper should not be None")
    rois = convert_boxes_to_roi_format(boxes)
    if len(x_filtered) == 1:
        return roi_align(x_filtered[0], rois, output_size=output_size, spatial_scale=scales[0],
                         sampling_ratio=sampling_ratio)
    levels = mapper(boxes).cpu().numpy()
    dtype = x_filtered[0].dtype
    parts, order = [], []
    for level, (feature, scale) in enumerate(zip(x_filtered, scales)):
        idx = np.flatnonzero(levels == level)
        if idx.size == 0:
            continue
        sel = vl.tensor(idx, device=rois.device)
        parts.append(roi_align(feature, rois[sel], output_size=output_size, spatial_scale=scale,
                               sampling_ratio=sampling_ratio).to(dtype))
        order.append(idx)
    if not parts:
        return vl.zeros((rois.shape[0], x_filtered[0].shape[1]) + tuple(output_size), dtype=dtype,
                        device=rois.device)
    # Concatenate the levels' results, then put each RoI back in its place (differentiable).
    inverse = np.empty(len(levels), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(levels))
    return vl.cat(parts, 0)[vl.tensor(inverse, device=rois.device)]


class MultiScaleRoIAlign(nn.Module):
    """RoIAlign over several feature maps, each box pooled from its FPN level.

    Args:
        featmap_names: keys of the feature dict to pool from (finest first).
        output_size: ``int`` or ``(height, width)``.
        sampling_ratio: as :func:`roi_align`.
        canonical_scale, canonical_level: ``224`` and ``k0 = 4`` of the FPN paper's eq. 1.

    ``forward(x, boxes, image_shapes)``: ``x`` a dict of Tensor[N, C, H_l, W_l], ``boxes`` a list of per-image
    Tensor[L_i, 4] in image coordinates, ``image_shapes`` the ``(height, width)`` of each image. Returns
    Tensor[sum L_i, C, output_size[0], output_size[1]]. Scales are inferred on the first call.
    """

    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224, canonical_level=4):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.scales = None
        self.map_levels = None
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def forward(self, x, boxes, image_shapes):
        x_filtered = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(x_filtered, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        return _multiscale_roi_align(x_filtered, boxes, self.output_size, self.sampling_ratio, self.scales,
                                     self.map_levels)

    def __repr__(self):
        return (f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")

