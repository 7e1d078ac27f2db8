"""RoI max pooling (Girshick, "Fast R-CNN", https://arxiv.org/abs/1504.08083) and position-sensitive RoI
average pooling (Dai et al., "R-FCN", https://arxiv.org/abs/1605.06409), as ``torchvision.ops.roi_pool``
and ``ps_roi_pool``.

Boxes are rounded to whole input pixels and each bin is an integer window; windows are read as gather
taps over all RoIs at once (``_roi_common.window_taps``), a chunk of RoIs at a time. The gradient of
``roi_pool`` goes to each bin's first maximum; that of ``ps_roi_pool`` is spread evenly over the window.
"""
import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.core.autograd.function import Op
from visionlite.core.backend import array_module

from . import _roi_common as rc

__all__ = ["roi_pool", "RoIPool", "ps_roi_pool", "PSRoIPool"]


def _bin_edges(xp, start, length, n_bins, size, upper, dtype):
    """Integer ``[start, end)`` of each bin (K, n_bins): ``floor``/``ceil`` of the bin boundaries in the
    input dtype, shifted by the roi start and clamped to ``[0, upper]``."""
    t = dtype.type
    bin_size = length.astype(dtype) / t(n_bins)
    b = xp.arange(n_bins, dtype=dtype)
    lo = xp.floor(b[None] * bin_size[:, None]).astype(np.int64) + start[:, None]
    hi = xp.ceil((b[None] + t(1)) * bin_size[:, None]).astype(np.int64) + start[:, None]
    return xp.clip(lo, 0, upper), xp.clip(hi, 0, upper)


def _edges(rois, height, width, ph, pw, scale, position_sensitive, dtype, clamp_last=None):
    """Integer bin windows ``(hs, he, ws, we)`` (each (K, bins)) of TorchVision's roi_pool kernels."""
    xp = array_module(rois)
    # roi_pool scales in the input dtype (a float32 spatial_scale), ps_roi_pool in float64.
    r = rois.astype(dtype) * dtype.type(scale) if not position_sensitive else rois.astype(np.float64) * scale
    x1, y1, x2, y2 = [rc.round_half_away(xp, r[:, i]).astype(np.int64) for i in (1, 2, 3, 4)]
    extra = 0 if position_sensitive else 1
    roi_w = xp.maximum(x2 - x1 + extra, 1)
    roi_h = xp.maximum(y2 - y1 + extra, 1)
    # Windows are clamped to [0, size]; ps_roi_pool's forward clamps to [0, size - 1] (its backward does not).
    last = position_sensitive if clamp_last is None else clamp_last
    hs, he = _bin_edges(xp, y1, roi_h, ph, height, height - 1 if last else height, dtype)
    ws, we = _bin_edges(xp, x1, roi_w, pw, width, width - 1 if last else width, dtype)
    return hs, he, ws, we


def _area(edges, sel, p):
    hs, he, ws, we = [e[sel] for e in edges]
    return ((he - hs)[:, :, None] * (we - ws)[:, None, :]).reshape(len(sel), p, 1)


def _group_taps(rois, edges, sel, height, width):
    hs, he, ws, we = [e[sel] for e in edges]
    return rc.window_taps(rois[sel, 0].astype(np.int64), hs, he, ws, we, height, width)


def _chan_index(xp, c_out, ph, pw):
    # Output channel c of bin p reads input channel c * PH * PW + p (R-FCN's position-sensitive maps).
    p = ph * pw
    return xp.arange(c_out)[None, :] * p + xp.arange(p)[:, None]


class _RoIPoolOp(Op):
    def forward(self, x, rois, output_size=(1, 1), spatial_scale=1.0, position_sensitive=False):
        xp = array_module(x)
        n, c, h, w = x.shape
        ph, pw = output_size
        k, p = rois.shape[0], ph * pw
        edges = _edges(rois, h, w, ph, pw, spatial_scale, position_sensitive, x.dtype)
        xcl = rc.channels_last(x)
        c_out = c // p if position_sensitive else c
        chan = _chan_index(xp, c_out, ph, pw) if position_sensitive else None
        out = xp.zeros((k, p, c_out), dtype=x.dtype)
        args = []
        for sel in rc.extent_groups(xp, edges):
            idx, valid = _group_taps(rois, edges, sel, h, w)
            if position_sensitive:
                total, _ = rc.window_reduce(xcl, idx, valid, "sum", chan)
                area = _area(edges, sel, p)
                out[sel] = xp.where(area <= 0, 0, total / xp.maximum(area, 1).astype(x.dtype))
            else:
                out[sel], arg = rc.window_reduce(xcl, idx, valid, "max")
                args.append((sel, arg))
        if self.recording:
            if position_sensitive:
                # TorchVision's backward spreads over windows clamped to [0, size], not [0, size - 1].
                self.saved_plan = (rois, _edges(rois, h, w, ph, pw, spatial_scale, True, x.dtype,
                                                clamp_last=False), chan)
            else:
                self.saved_plan = (args,)
        self.in_shape, self.position_sensitive = x.shape, position_sensitive
        return xp.ascontiguousarray(out.transpose(0, 2, 1)).reshape(k, c_out, ph, pw)

    def backward(self, g):
        n, c, h, w = self.in_shape
        gd = g._data
        xp = array_module(gd)
        k, c_out, ph, pw = gd.shape
        gcl = xp.ascontiguousarray(gd.reshape(k, c_out, ph * pw).transpose(0, 2, 1))  # (K, P, C_out)
        grad = xp.zeros((n * h * w, c), dtype=gd.dtype)
        flat = grad.reshape(-1)
        if self.position_sensitive:
            rois, edges, chan = self.saved_plan
            for sel in rc.extent_groups(xp, edges):
                idx, valid = _group_taps(rois, edges, sel, h, w)
                area = _area(edges, sel, ph * pw)
                share = gcl[sel] * xp.where(area <= 0, 0, 1 / xp.maximum(area, 1)).astype(gd.dtype)
                for t in range(idx.shape[2]):
                    ok = xp.broadcast_to(valid[:, :, t, None], share.shape)
                    pos = idx[:, :, t, None] * c + chan[None]
                    rc.scatter_add_rows(flat, xp.broadcast_to(pos, share.shape)[ok], share[ok])
        else:
            (args,) = self.saved_plan
            chan_ids = xp.arange(c)
            for sel, arg in args:
                hit = arg >= 0
                pos = arg.astype(np.int64) * c + chan_ids
                rc.scatter_add_rows(flat, pos[hit], gcl[sel][hit])
        return vl.Tensor._wrap(xp.ascontiguousarray(grad.reshape(n, h, w, c).transpose(0, 3, 1, 2))), None


def _pool(input, boxes, output_size, spatial_scale, position_sensitive, name):
    rois = rc.rois_tensor(boxes)
    rc.check_inputs(input, rois, name)
    ph, pw = rc.pair(output_size)
    if position_sensitive and input.shape[1] % (ph * pw) != 0:
        raise RuntimeError(f"{name}: input channels must be a multiple of pooling height * pooling width, "
                           f"got {input.shape[1]} channels for output_size {(ph, pw)}")
    if rois.dtype != input.dtype:
        rois = rois.to(input.dtype)
    return _RoIPoolOp.apply(input, rois.detach(), output_size=(ph, pw), spatial_scale=float(spatial_scale),
                            position_sensitive=position_sensitive)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """RoI max pooling.

    Args:
        input: Tensor[N, C, H, W].
        boxes: Tensor[K, 5] of ``(batch_index, x1, y1, x2, y2)``, or a list of per-image Tensor[L, 4].
        output_size: ``int`` or ``(height, width)``.
        spatial_scale: factor mapping box coordinates to input coordinates.
    Returns Tensor[K, C, output_size[0], output_size[1]].
    """
    return _pool(input, boxes, output_size, spatial_scale, False, "roi_pool")


def ps_roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Position-sensitive RoI average pooling: bin ``(i, j)`` of output channel ``c`` averages input channel
    ``c * PH * PW + i * PW + j``. ``input`` Tensor[N, C, H, W] with C a multiple of ``PH * PW``; other
    arguments as :func:`roi_pool`. Returns Tensor[K, C / (PH * PW), PH, PW]."""
    return _pool(input, boxes, output_size, spatial_scale, True, "ps_roi_pool")


class RoIPool(nn.Module):
    """Module form of :func:`roi_pool`."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")


class PSRoIPool(RoIPool):
    """Module form of :func:`ps_roi_pool`."""

    def forward(self, input, rois):
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)
