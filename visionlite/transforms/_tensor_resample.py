"""Resampling for the tensor backend: separable resize (as ``torch.nn.functional.interpolate``, with the
Pillow-style antialiasing filter) and grid sampling for affine, rotate and perspective warps.

All functions take and return raw ``N,C,H,W`` float arrays (numpy or cupy); ``functional`` handles
dtypes. Coordinates follow PyTorch's ``align_corners=False`` convention: pixel centres sit at ``i + 0.5``.
"""
import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.ops.interp import axis_taps, resample_axis
from visionlite.core.ops.interp_aa import aa_resize

_F32 = np.float32


# ------------------------------------------------------------------------------------------- resize
def _bilinear_filter(x):
    return np.maximum(0.0, 1.0 - np.abs(x))


def _cubic_filter(x, a):
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _antialias_matrix(in_size, out_size, mode):
    """``(out, in)`` weights of PyTorch's antialiased resize (Pillow's filters: triangle, cubic a=-0.5).

    Downscaling widens the filter by the scale so that every input pixel contributes; weights are
    computed in float32 as PyTorch does for float32 images, so window edges fall on the same pixels.
    """
    interp_size, fn = (2, _bilinear_filter) if mode == "bilinear" else (4, lambda x: _cubic_filter(x, -0.5))
    scale = _F32(in_size / out_size)
    support = _F32(interp_size * 0.5) * scale if scale >= 1.0 else _F32(interp_size * 0.5)
    invscale = _F32(1.0) / scale if scale >= 1.0 else _F32(1.0)
    center = scale * (np.arange(out_size, dtype=_F32) + _F32(0.5))
    xmin = np.maximum((center - support + _F32(0.5)).astype(np.int64), 0)
    xmax = np.minimum((center + support + _F32(0.5)).astype(np.int64), in_size)
    j = np.arange(in_size, dtype=_F32)[None, :]
    w = fn((j - center[:, None] + _F32(0.5)) * invscale).astype(_F32)
    cols = np.arange(in_size)[None, :]
    w[(cols < xmin[:, None]) | (cols >= xmax[:, None])] = 0.0
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total != 0)


def _nearest_index(in_size, out_size, exact):
    if out_size == in_size:
        return np.arange(out_size)
    scale = _F32(in_size / out_size)
    pos = np.arange(out_size, dtype=_F32) + (_F32(0.5) if exact else _F32(0.0))
    return np.minimum(np.floor(pos * scale).astype(np.int64), in_size - 1)


def resize(x, size, mode, antialias):
    """Resize float ``x`` (``N,C,H,W``) to ``size = (h, w)``; ``mode``: nearest, nearest-exact, bilinear,
    bicubic. Returns a float array of the same dtype (bicubic may overshoot the input range)."""
    xp = array_module(x)
    (h, w), (oh, ow) = x.shape[-2:], size
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        iy = xp.asarray(_nearest_index(h, oh, exact))
        ix = xp.asarray(_nearest_index(w, ow, exact))
        return x[..., iy[:, None], ix[None, :]]
    if antialias and x.dtype in (np.float32, np.float64):  # PyTorch's own rounding, value for value
        return aa_resize(x, (oh, ow), mode)
    if not antialias:  # F.interpolate's taps and summation order (bit-exact for float32)
        axis_mode = "linear" if mode == "bilinear" else "cubic"
        out = x
        for axis, (n_in, n_out) in ((3, (w, ow)), (2, (h, oh))):  # the width first, as PyTorch
            out, _, _ = resample_axis(out, axis, axis_taps(axis_mode, n_in, n_out, None, False, x.dtype))
        return out
    wy = xp.asarray(_antialias_matrix(h, oh, mode), dtype=x.dtype)
    wx = xp.asarray(_antialias_matrix(w, ow, mode), dtype=x.dtype)
    # apply the cheaper axis first: the cost of each pass is (rows kept) x (in) x (out)
    if h * w * ow + ow * h * oh <= w * h * oh + oh * w * ow:
        return xp.matmul(wy, xp.matmul(x, wx.T))
    return xp.matmul(xp.matmul(wy, x), wx.T)


# ------------------------------------------------------------------------------------ grid sampling
def _linspace(start, end, steps):
    """float32 ``linspace`` bit for bit as PyTorch's CPU kernel: the first half counts up from ``start``,
    the second down from ``end`` (so symmetric grids are exactly symmetric), each value one fused
    multiply-add, emulated here by an exact float64 product rounded once to float32."""
    if steps == 1:
        return np.array([start], dtype=_F32)
    start, end = _F32(start), _F32(end)
    step = np.float64((end - start) / _F32(steps - 1))
    i = np.arange(steps)
    up = (np.float64(start) + step * i).astype(_F32)
    down = (np.float64(end) - step * (steps - 1 - i)).astype(_F32)
    return np.where(i < steps // 2, up, down)


def _grid_arith(dtype):
    """The dtype grid arithmetic runs in: float16 grids are computed in float32 and rounded once at the
    end, as PyTorch's half-precision matmul accumulates; other floats in their own precision."""
    dtype = np.dtype(dtype)
    return np.dtype(_F32) if dtype == np.float16 else dtype


def _through(values, dtype, acc):
    """``values`` rounded to ``dtype`` (the tensors TorchVision builds), then widened to ``acc``."""
    return np.asarray(values, dtype=np.float64).astype(dtype).astype(acc)


def affine_grid(matrix, w, h, ow, oh, dtype):
    """Sampling grid ``(oh, ow, 2)`` in [-1, 1] units for the inverse affine ``matrix`` (6 numbers,
    centred coordinates), as TorchVision builds it for rotate and affine."""
    dtype = np.dtype(dtype)
    acc = _grid_arith(dtype)
    theta = _through(matrix, dtype, acc).reshape(2, 3)
    xs = _through(_linspace(-ow * 0.5 + 0.5, ow * 0.5 + 0.5 - 1, ow), dtype, acc)
    ys = _through(_linspace(-oh * 0.5 + 0.5, oh * 0.5 + 0.5 - 1, oh), dtype, acc)
    rt = (theta.T / _through([0.5 * w, 0.5 * h], dtype, acc)).astype(dtype).astype(acc)
    gx = xs[None, :] * rt[0, 0] + ys[:, None] * rt[1, 0] + rt[2, 0]
    gy = xs[None, :] * rt[0, 1] + ys[:, None] * rt[1, 1] + rt[2, 1]
    return np.stack([gx, gy], axis=-1).astype(dtype)


def perspective_grid(coeffs, ow, oh, dtype):
    """Sampling grid ``(oh, ow, 2)`` for the 8 perspective coefficients (output -> input pixels)."""
    dtype = np.dtype(dtype)
    acc = _grid_arith(dtype)
    c = _through(coeffs, dtype, acc)
    xs = _through(_linspace(0.5, ow + 0.5 - 1.0, ow), dtype, acc)[None, :]
    ys = _through(_linspace(0.5, oh + 0.5 - 1.0, oh), dtype, acc)[:, None]
    # numerators and denominator are each one matmul in TorchVision: rounded to dtype once
    den = (xs * c[6] + ys * c[7] + acc.type(1.0)).astype(dtype)
    half = _through([0.5 * ow, 0.5 * oh], dtype, acc)
    sx = (c[:3] / half[0]).astype(dtype).astype(acc)
    sy = (c[3:6] / half[1]).astype(dtype).astype(acc)
    num_x = (xs * sx[0] + ys * sx[1] + sx[2]).astype(dtype)
    num_y = (xs * sy[0] + ys * sy[1] + sy[2]).astype(dtype)
    one = dtype.type(1)
    return np.stack([num_x / den - one, num_y / den - one], axis=-1)


def grid_sample(x, grid, mode):
    """``torch.nn.functional.grid_sample(x, grid[None], mode, padding_mode='zeros', align_corners=False)``
    for float ``x`` of shape ``N,C,H,W`` and one grid ``(oh, ow, 2)`` shared by the batch."""
    xp = array_module(x)
    n, c, h, w = x.shape
    grid = xp.asarray(grid)
    one = grid.dtype.type(1)
    if grid.dtype == np.float32:  # PyTorch's CPU kernel: (g + 1) * (size / 2) - 0.5 as one fused op
        ix = _fma32(grid[..., 0] + one, w / 2, -0.5)
        iy = _fma32(grid[..., 1] + one, h / 2, -0.5)
    else:
        ix = ((grid[..., 0] + one) * w - one) / 2
        iy = ((grid[..., 1] + one) * h - one) / 2
    if mode == "nearest":
        # PyTorch rounds half to even (nearbyint), as xp.rint does
        return _gather(x, xp.rint(iy).astype(np.int64), xp.rint(ix).astype(np.int64), None)
    x0, y0 = xp.floor(ix), xp.floor(iy)
    wx1, wy1 = ix - x0, iy - y0  # distances to the west and north neighbours, as PyTorch takes them
    wx0, wy0 = one - wx1, one - wy1
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    taps = ((y0, x0, wx0 * wy0), (y0, x0 + 1, wx1 * wy0),
            (y0 + 1, x0, wx0 * wy1), (y0 + 1, x0 + 1, wx1 * wy1))
    if x.dtype != np.float32:
        out = _gather(x, *taps[0])
        for tap in taps[1:]:
            out += _gather(x, *tap)
        return out
    # float32 as PyTorch's vector kernel rounds: nw * w_nw first, then fused multiply-adds
    out = _gather(x, *taps[0])
    for yy, xx, weight in taps[1:]:
        acc = _gather(x, yy, xx, weight, wide=True)
        acc += out
        out = acc.astype(np.float32)
    return out


def _fma32(a, b, c):
    """``a * b + c`` rounded once to float32 (exact product in float64; see ``core.ops.interp``)."""
    return (a.astype(np.float64) * float(np.float32(b)) + float(np.float32(c))).astype(np.float32)


def _gather(x, iy, ix, weight, wide=False):
    """``x[..., iy, ix] * weight`` with zero where ``(iy, ix)`` falls outside the image; ``wide``: the
    product exact, in float64."""
    h, w = x.shape[-2:]
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    vals = x[..., iy.clip(0, h - 1), ix.clip(0, w - 1)]
    weight = inside.astype(x.dtype) if weight is None else (weight * inside).astype(x.dtype)
    if wide:
        return vals.astype(np.float64) * weight.astype(np.float64)
    return vals * weight
