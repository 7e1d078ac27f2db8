"""RoIAlign (He et al., "Mask R-CNN", https://arxiv.org/abs/1703.06870), as ``torchvision.ops.roi_align``:
each output bin averages bilinear samples of the feature map on a regular grid inside the bin.

Forward and backward (to the input) are vectorised over all RoIs, bins and samples (see
``_roi_common``); boxes get no gradient, as in TorchVision.
"""
import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.core.autograd.function import Op
from visionlite.core.backend import array_module

from . import _roi_common as rc

__all__ = ["roi_align", "RoIAlign"]


def _roi_geometry(rois, scale, offset, clamp_one, ph, pw, sampling_ratio, dtype):
    """Per-roi start, bin size and sample-grid size along y and x, as TorchVision's kernel computes them
    (box coordinates scaled in float64, then everything in the input dtype)."""
    xp = array_module(rois)
    t = dtype.type
    r = rois.astype(np.float64)
    start_w, start_h, end_w, end_h = [(r[:, i] * scale - offset).astype(dtype) for i in (1, 2, 3, 4)]
    roi_w, roi_h = end_w - start_w, end_h - start_h
    if clamp_one:
        roi_w, roi_h = xp.maximum(roi_w, t(1)), xp.maximum(roi_h, t(1))
    bin_h, bin_w = roi_h / t(ph), roi_w / t(pw)
    if sampling_ratio > 0:
        grid_h = xp.full(r.shape[0], sampling_ratio, dtype=np.int64)
        grid_w = grid_h
    else:
        grid_h = xp.maximum(xp.ceil(roi_h / t(ph)), 0).astype(np.int64)
        grid_w = xp.maximum(xp.ceil(roi_w / t(pw)), 0).astype(np.int64)
    return start_h, start_w, bin_h, bin_w, grid_h, grid_w


def sample_plans(rois, height, width, ph, pw, scale, sampling_ratio, offset, clamp_one, dtype):
    """Yield ``(roi_indices, idx, w)`` per group of rois sharing a sampling grid; ``w`` already divided
    by the sample count (at least 1, as TorchVision)."""
    xp = array_module(rois)
    start_h, start_w, bin_h, bin_w, grid_h, grid_w = _roi_geometry(rois, scale, offset, clamp_one, ph, pw,
                                                                  sampling_ratio, dtype)
    batch = rois[:, 0].astype(np.int64)
    keys = grid_h * (int(grid_w.max()) + 1 if grid_w.size else 1) + grid_w
    for key in xp.unique(keys).tolist():
        sel = xp.flatnonzero(keys == key)
        gh, gw = int(grid_h[sel[0]]), int(grid_w[sel[0]])
        if gh == 0 or gw == 0:
            yield sel, None, None  # no samples: the bins are zero
            continue
        ys = rc.axis_windows(rc.axis_samples(xp, start_h[sel], bin_h[sel], grid_h[sel].astype(dtype), ph, gh,
                                             height, dtype))
        xs = rc.axis_windows(rc.axis_samples(xp, start_w[sel], bin_w[sel], grid_w[sel].astype(dtype), pw, gw,
                                             width, dtype))
        # Sub-groups of rois with the same window sizes, so no roi gathers more pixels than it needs.
        spans = ys[2] * (int(xs[2].max()) + 1) + xs[2]
        for span in xp.unique(spans).tolist():
            part = xp.flatnonzero(spans == span)
            ry, rx = int(ys[2][part[0]]), int(xs[2][part[0]])
            wy = (ys[0][part], ys[1][part, :, :ry])
            wx = (xs[0][part], xs[1][part, :, :rx])
            idx, w = rc.window_plan(batch[sel][part], wy, wx, height, width)
            yield sel[part], idx, w / dtype.type(gh * gw)


class _RoIAlignOp(Op):
    def forward(self, x, rois, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        xp = array_module(x)
        n, c, h, w = x.shape
        ph, pw = output_size
        xcl = rc.channels_last(x)
        out = xp.zeros((rois.shape[0], ph * pw, c), dtype=x.dtype)
        plans = []
        for sel, idx, wt in sample_plans(rois, h, w, ph, pw, spatial_scale, sampling_ratio,
                                         0.5 if aligned else 0.0, not aligned, x.dtype):
            if idx is not None:
                out[sel] = rc.gather_weighted(xcl, idx, wt)
                plans.append((sel, idx, wt))
        if self.recording:
            self.plans, self.in_shape = plans, x.shape
        return xp.ascontiguousarray(out.transpose(0, 2, 1)).reshape(rois.shape[0], c, ph, pw)

    def backward(self, g):
        n, c, h, w = self.in_shape
        xp = array_module(g._data)
        k, _, ph, pw = g.shape
        gcl = g._data.reshape(k, c, ph * pw).transpose(0, 2, 1)
        grad = xp.zeros((n * h * w, c), dtype=g._data.dtype)
        for sel, idx, wt in self.plans:
            grad += rc.scatter_weighted(xp.ascontiguousarray(gcl[sel]), idx, wt, n * h * w)
        return vl.Tensor._wrap(xp.ascontiguousarray(grad.reshape(n, h, w, c).transpose(0, 3, 1, 2))), None


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoIAlign pooling.

    Args:
        input: Tensor[N, C, H, W].
        boxes: Tensor[K, 5] of ``(batch_index, x1, y1, x2, y2)``, or a list of per-image Tensor[L, 4].
        output_size: ``int`` or ``(height, width)`` of the pooled output.
        spatial_scale: factor mapping box coordinates to input coordinates (e.g. 1/16 for stride 16).
        sampling_ratio: samples per bin along each axis; ``<= 0`` picks ``ceil(roi_size / output_size)``.
        aligned: shift boxes by -0.5 pixel (Detectron2); False keeps the legacy behaviour.
    Returns Tensor[K, C, output_size[0], output_size[1]].
    """
    rois = rc.rois_tensor(boxes)
    rc.check_inputs(input, rois, "roi_align")
    if rois.dtype != input.dtype:
        rois = rois.to(input.dtype)
    return _RoIAlignOp.apply(input, rois.detach(), output_size=rc.pair(output_size),
                             spatial_scale=float(spatial_scale), sampling_ratio=int(sampling_ratio),
                             aligned=bool(aligned))


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align`."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
                f"aligned={self.aligned})")
