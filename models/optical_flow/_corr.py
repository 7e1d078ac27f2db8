"""RAFT's correlation lookup as a windowed read.

RAFT samples each correlation map on a square of integer offsets around one (fractional) position, so every
point of the square shares the same bilinear fraction: the square is a bilinear blend of one
``(2r + 2) x (2r + 2)`` window of whole pixels. Reading that window once (a single gather) and blending it
separably gives what ``grid_sample`` (bilinear, zero padding, corners aligned) gives, at a fraction of the
gathers. Gradients reach the correlation maps (never the positions: RAFT detaches them).
"""
import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.ops.indexing import index_select
from visionlite.core.tensor import Tensor


def _axis(start, size, span, dtype, xp):
    """Clipped indices ``(M, span)`` of the pixels ``start + k`` and their in-bounds mask as ``dtype``."""
    idx = start[:, None] + xp.arange(span, dtype=np.int64)[None, :]
    inside = ((idx >= 0) & (idx < size)).astype(dtype)
    return xp.clip(idx, 0, size - 1), inside


def lookup_window(volume, centroids, radius):
    """Bilinear samples of ``volume`` ``(M, 1, H, W)`` on the ``(2 radius + 1)^2`` integer offsets around
    ``centroids`` ``(M, 2)`` (x, y pixel positions): ``(M, side, side)``, indexed ``[m, x offset, y offset]``
    (the layout of TorchVision's ``grid_sample`` call). Outside the map reads zero."""
    m, _, h, w = volume.shape
    xp = array_module(volume._data)
    dtype = volume._data.dtype
    span = 2 * radius + 2
    pos = xp.nan_to_num(centroids._data.astype(dtype, copy=False))
    # Positions far outside only ever read zeros; clamping them keeps the integer maths bounded.
    pos = xp.clip(pos, -float(span) - 1, float(max(h, w) + span))
    base = xp.floor(pos)
    frac = (pos - base).astype(dtype)
    base = base.astype(np.int64) - radius
    xs, x_in = _axis(base[:, 0], w, span, dtype, xp)
    ys, y_in = _axis(base[:, 1], h, span, dtype, xp)
    flat = (xp.arange(m, dtype=np.int64)[:, None, None] * (h * w) + ys[:, :, None] * w + xs[:, None, :])
    window = index_select(volume.reshape(-1), 0, Tensor._wrap(flat.reshape(-1))).reshape(m, span, span)
    # Blend weights of the left/right (top/bottom) neighbour of each offset, zero where it lies outside.
    fx, fy = frac[:, 0:1], frac[:, 1:2]
    wx0, wx1 = (1 - fx) * x_in[:, :-1], fx * x_in[:, 1:]
    wy0, wy1 = (1 - fy) * y_in[:, :-1], fy * y_in[:, 1:]
    rows = (window[:, :, :-1] * Tensor._wrap(wx0[:, None, :])
            + window[:, :, 1:] * Tensor._wrap(wx1[:, None, :]))
    out = rows[:, :-1, :] * Tensor._wrap(wy0[:, :, None]) + rows[:, 1:, :] * Tensor._wrap(wy1[:, :, None])
    return out.transpose(1, 2)  # [m, y, x] -> [m, x, y]
