"""Position-sensitive RoIAlign (Light-Head R-CNN, https://arxiv.org/abs/1711.07264), as
``torchvision.ops.ps_roi_align``: RoIAlign's bilinear bin averages, where bin ``(i, j)`` of output channel
``c`` reads input channel ``c * PH * PW + i * PW + j``. Boxes are always shifted by half a pixel and
never enlarged to one pixel, as TorchVision's kernel."""
import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.core.autograd.function import Op
from visionlite.core.backend import array_module

from . import _roi_common as rc
from .roi_align import sample_plans
from .roi_pool import _chan_index

__all__ = ["ps_roi_align", "PSRoIAlign"]


class _PSRoIAlignOp(Op):
    def forward(self, x, rois, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1):
        xp = array_module(x)
        n, c, h, w = x.shape
        ph, pw = output_size
        c_out = c // (ph * pw)
        chan = _chan_index(xp, c_out, ph, pw)
        xcl = rc.channels_last(x)
        out = xp.zeros((rois.shape[0], ph * pw, c_out), dtype=x.dtype)
        plans = []
        plan = sample_plans(rois, h, w, ph, pw, spatial_scale, sampling_ratio, 0.5, False, x.dtype)
        for sel, idx, wt in plan:
            if idx is None:
                out[sel] = np.nan  # no samples: TorchVision divides an empty sum by a zero count
            else:
                out[sel] = rc.gather_weighted(xcl, idx, wt, chan)
                plans.append((sel, idx, wt))
        if self.recording:
            self.plans, self.in_shape, self.chan = plans, x.shape, chan
        return xp.ascontiguousarray(out.transpose(0, 2, 1)).reshape(rois.shape[0], c_out, ph, pw)

    def backward(self, g):
        n, c, h, w = self.in_shape
        xp = array_module(g._data)
        k, c_out, ph, pw = g.shape
        gcl = g._data.reshape(k, c_out, ph * pw).transpose(0, 2, 1)
        grad = xp.zeros((n * h * w, c), dtype=g._data.dtype)
        for sel, idx, wt in self.plans:
            grad += rc.scatter_weighted(xp.ascontiguousarray(gcl[sel]), idx, wt, n * h * w, self.chan, c)
        return vl.Tensor._wrap(xp.ascontiguousarray(grad.reshape(n, h, w, c).transpose(0, 3, 1, 2))), None


def ps_roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1):
    """Position-sensitive RoIAlign.

    Args:
        input: Tensor[N, C, H, W], C a multiple of ``PH * PW``.
        boxes: Tensor[K, 5] of ``(batch_index, x1, y1, x2, y2)``, or a list of per-image Tensor[L, 4].
        output_size: ``int`` or ``(PH, PW)``.
        spatial_scale, sampling_ratio: as :func:`roi_align`.
    Returns Tensor[K, C / (PH * PW), PH, PW].
    """
    rois = rc.rois_tensor(boxes)
    rc.check_inputs(input, rois, "ps_roi_align")
    ph, pw = rc.pair(output_size)
    if input.shape[1] % (ph * pw) != 0:
        raise RuntimeError(f"ps_roi_align: input channels must be a multiple of pooling height * pooling "
                           f"width, got {input.shape[1]} channels for output_size {(ph, pw)}")
    if rois.dtype != input.dtype:
        rois = rois.to(input.dtype)
    return _PSRoIAlignOp.apply(input, rois.detach(), output_size=(ph, pw), spatial_scale=float(spatial_scale),
                               sampling_ratio=int(sampling_ratio))


class PSRoIAlign(nn.Module):
    """Module form of :func:`ps_roi_align`."""

    def __init__(self, output_size, spatial_scale, sampling_ratio):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input, rois):
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio})")
