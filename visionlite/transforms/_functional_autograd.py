"""The differentiable tensor backend of ``transforms.functional``: float images that require grad.

TorchVision's tensor transforms are torch ops, so a gradient flows through them wherever the op is
differentiable. ``_functional_tensor`` works on raw arrays (fast, but outside the graph); the functions
here compute the same results with visionlite Tensor ops, so ``functional`` sends a float image here
when it requires grad and grad mode is on. Sampling positions and weights (crop windows, resize
matrices, warp grids, blur kernels) are constants, as in TorchVision: the gradient reaches the image.

Every function takes a float Tensor ``...,C,H,W`` whose arguments ``functional`` has already checked.
"""
import numpy as np

from visionlite.core import ops as _ops
from visionlite.core.creation import ones_like, zeros_like
from visionlite.core.tensor import Tensor

from . import _functional_tensor as F_t
from . import _tensor_resample as rs


def _nf():
    """``nn.functional``, imported on first use (importing the transforms stays light)."""
    from visionlite.core.nn import functional

    return functional


def _const(values, like):
    """A constant Tensor of ``like``'s dtype and device."""
    if hasattr(values, "get") and not isinstance(values, dict):  # a cupy array: through the host
        values = values.get()
    return Tensor(np.asarray(values, dtype=like._data.dtype), device=like.device)


def _index(values, like):
    return Tensor(np.asarray(values, dtype=np.int64), device=like.device)


def _as_batch(t):
    """``t`` as ``N,C,H,W`` and a function restoring its leading dims."""
    shape = tuple(t.shape)
    t4 = t.reshape(-1, *shape[-3:]) if t.ndim >= 3 else t.reshape(1, 1, *shape)
    return t4, lambda y: y.reshape(*shape[:-2], *y.shape[-2:])


# -------------------------------------------------------------------------------------- index maps
def _remap(t, iy, ix, fill=0.0):
    """``out[..., a, b] = t[..., iy[a], ix[b]]``, and ``fill`` where an index is -1 (outside)."""
    iy, ix = np.asarray(iy), np.asarray(ix)
    out = t[..., _index(iy.clip(0), t)[:, None], _index(ix.clip(0), t)[None, :]]
    inside = (iy >= 0)[:, None] & (ix >= 0)[None, :]
    if inside.all():
        return out
    return _ops.where(Tensor(inside, device=t.device), out, _const(fill, t))


def _axis_map(n, before, after, mode):
    """Source index along one axis after padding by ``before``/``after`` (negative amounts crop)."""
    idx = np.arange(n)[max(-before, 0):n - max(-after, 0)]
    before, after = max(before, 0), max(after, 0)
    if mode == "constant":
        return np.pad(idx, (before, after), mode="constant", constant_values=-1)
    return np.pad(idx, (before, after), mode=mode)


def pad(t, padding, fill=0, padding_mode="constant"):
    left, top, right, bottom = F_t.parse_padding(padding)
    h, w = t.shape[-2:]
    kept_h, kept_w = h - max(-top, 0) - max(-bottom, 0), w - max(-left, 0) - max(-right, 0)
    if padding_mode == "reflect" and (max(left, right) >= kept_w or max(top, bottom) >= kept_h):
        raise ValueError(f"reflect padding of ({left}, {top}, {right}, {bottom}) needs each amount smaller "
                         f"than the image side it pads (image is {kept_h}x{kept_w}); use padding_mode="
                         "'symmetric' or pad less")
    iy = _axis_map(h, top, bottom, padding_mode)
    ix = _axis_map(w, left, right, padding_mode)
    return _remap(t, iy, ix, float(fill))


def crop(t, top, left, height, width):
    h, w = t.shape[-2:]
    iy, ix = np.arange(top, top + height), np.arange(left, left + width)
    iy = np.where((iy >= 0) & (iy < h), iy, -1)
    ix = np.where((ix >= 0) & (ix < w), ix, -1)
    return _remap(t, iy, ix)


def hflip(t):
    return t.flip(-1)


def vflip(t):
    return t.flip(-2)


# ---------------------------------------------------------------------------------------- resampling
def resize(t, size, interpolation, antialias):
    (h, w), (oh, ow) = t.shape[-2:], size
    if interpolation in ("nearest", "nearest-exact"):
        exact = interpolation == "nearest-exact"
        return _remap(t, rs._nearest_index(h, oh, exact), rs._nearest_index(w, ow, exact))
    smooth = antialias and interpolation in ("bilinear", "bicubic")
    if not smooth or t._data.dtype in (np.float32, np.float64):  # PyTorch's kernels, value for value
        t4, restore = _as_batch(t)
        t4 = t4 if t4._data.dtype in (np.float32, np.float64) else t4.float()
        out = _nf().interpolate(t4, size=(oh, ow), mode=interpolation, align_corners=False, antialias=smooth)
        return restore(out if out.dtype == t.dtype else out.to(t.dtype))
    wy = _const(rs._antialias_matrix(h, oh, interpolation), t)
    wx = _const(rs._antialias_matrix(w, ow, interpolation).T, t)
    return wy @ t @ wx


def _grid_transform(t, grid, mode, fill):
    """Sample ``t`` at the constant ``grid`` (``oh, ow, 2``) as TorchVision's grid transforms do."""
    tb, restore = _as_batch(t)
    dtype = t.dtype
    g = Tensor(np.asarray(grid), device=t.device)
    work = tb if tb._data.dtype == g._data.dtype else tb.to(g.dtype)
    if fill is not None:  # a plane of ones tells how much of each output pixel lies inside the image
        work = _ops.cat([work, ones_like(work[:, :1])], 1)
    out = _nf().grid_sample(work, g.unsqueeze(0).expand(work.shape[0], *g.shape), mode=mode,
                         padding_mode="zeros", align_corners=False)
    if fill is not None:
        out, mask = out[:, :-1], out[:, -1:]
        values = list(fill) if isinstance(fill, (list, tuple)) else [float(fill)]
        fill_img = _const(np.array(values).reshape(1, -1, 1, 1), out)
        if mode == "nearest":
            out = _ops.where(mask < 0.5, fill_img, out)
        else:
            out = out * mask + (1.0 - mask) * fill_img
    return restore(out if out.dtype == dtype else out.to(dtype))


def _work(t):
    return F_t.work_dtype(t._data.dtype)


def affine(t, matrix, interpolation, fill):
    h, w = t.shape[-2:]
    return _grid_transform(t, rs.affine_grid(matrix, w, h, w, h, _work(t)), interpolation, fill)


def rotate(t, matrix, interpolation, expand, fill):
    h, w = t.shape[-2:]
    ow, oh = F_t.affine_output_size(matrix, w, h) if expand else (w, h)
    return _grid_transform(t, rs.affine_grid(matrix, w, h, ow, oh, _work(t)), interpolation, fill)


def perspective(t, coeffs, interpolation, fill):
    h, w = t.shape[-2:]
    return _grid_transform(t, rs.perspective_grid(coeffs, w, h, _work(t)), interpolation, fill)


def elastic_transform(t, displacement, interpolation, fill):
    h, w = t.shape[-2:]
    dtype = np.result_type(np.float32, displacement.dtype)
    ys = rs._linspace((-h + 1) / h, (h - 1) / h, h)
    xs = rs._linspace((-w + 1) / w, (w - 1) / w, w)
    identity = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1).astype(dtype)
    host = displacement.get() if hasattr(displacement, "get") else displacement  # cupy -> numpy
    grid = identity + np.asarray(host).astype(dtype)
    return _grid_transform(t, grid, interpolation, fill)


# -------------------------------------------------------------------------------------------- colour
def _blend(img1, img2, ratio):
    return (img1 * float(ratio) + img2 * (1.0 - float(ratio))).clamp(0.0, 1.0)


def rgb_to_grayscale(t, num_output_channels=1):
    if t.shape[-3] == 3:
        gray = (t[..., 0, :, :] * 0.2989 + t[..., 1, :, :] * 0.587 + t[..., 2, :, :] * 0.114).unsqueeze(-3)
    else:
        gray = t.clone()
    if num_output_channels == 3:
        return gray.expand(*gray.shape[:-3], 3, *gray.shape[-2:])
    return gray


def adjust_brightness(t, factor):
    return _blend(t, zeros_like(t), factor)


def adjust_contrast(t, factor):
    gray = rgb_to_grayscale(t) if t.shape[-3] == 3 else t
    return _blend(t, gray.mean(dim=(-3, -2, -1), keepdim=True), factor)


def adjust_saturation(t, factor):
    if t.shape[-3] == 1:
        return t
    return _blend(t, rgb_to_grayscale(t), factor)


def autocontrast(t):
    lo = t.amin(dim=(-2, -1), keepdim=True)
    hi = t.amax(dim=(-2, -1), keepdim=True)
    flat = (hi == lo).detach()
    lo = _ops.where(flat, zeros_like(lo), lo)
    span = _ops.where(flat, ones_like(hi), hi - lo)
    return ((t - lo) / span).clamp(0.0, 1.0)


def _rgb2hsv(img):
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.amax(dim=-3), img.amin(dim=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = ones_like(maxc)
    s = cr / _ops.where(eqc, ones, maxc)
    crd = _ops.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    hr = (maxc == r).to(img.dtype) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)).to(img.dtype) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)).to(img.dtype) * (4.0 + gc - rc)
    h = _ops.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv2rgb(h, s, v):
    i = (h * 6.0).floor()
    f = h * 6.0 - i
    sextant = i.detach().to(np.int32) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    table = ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))
    channels = []
    for row in table:
        out = row[0]
        for k in range(1, 6):
            out = _ops.where(sextant == k, row[k], out)
        channels.append(out)
    return _ops.stack(channels, -3)


def adjust_hue(t, hue_factor):
    if t.shape[-3] == 1:
        return t
    f = t if t.dtype == np.float32 else t.to(np.float32)
    h, s, v = _rgb2hsv(f)
    h = _ops.remainder(h + float(hue_factor), 1.0)
    out = _hsv2rgb(h, s, v)
    return out if out.dtype == t.dtype else out.to(t.dtype)


def adjust_gamma(t, gamma, gain=1.0):
    return ((t ** float(gamma)) * float(gain)).clamp(0.0, 1.0)


def invert(t):
    return 1.0 - t


def solarize(t, threshold):
    return _ops.where(t >= threshold, 1.0 - t, t)


def adjust_sharpness(t, factor):
    h, w = t.shape[-2:]
    if w <= 2 or h <= 2:
        return t
    tb, restore = _as_batch(t)
    n, c = tb.shape[:2]
    kernel = _const(np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0, tb)
    inner = _nf().conv2d(tb, kernel.reshape(1, 1, 3, 3).expand(c, 1, 3, 3), groups=c)
    interior = np.zeros((h, w), dtype=bool)
    interior[1:-1, 1:-1] = True
    degenerate = _ops.where(Tensor(interior, device=t.device), _nf().pad(inner, [1, 1, 1, 1]), tb)
    return restore(_blend(tb, degenerate, factor))


def gaussian_blur(t, kernel_size, sigma, version=1):
    from ._blur import kernel1d_v1, kernel1d_v2

    tb, restore = _as_batch(t)
    c = tb.shape[1]
    wt = F_t.work_dtype(t._data.dtype)
    make = kernel1d_v2 if version == 2 else kernel1d_v1
    kx = make(kernel_size[0], sigma[0], wt)
    ky = make(kernel_size[1], sigma[1], wt)
    kernel = _const(np.outer(ky, kx), tb).reshape(1, 1, kernel_size[1], kernel_size[0])
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    padded = pad(tb, [px, py, px, py], padding_mode="reflect")
    out = _nf().conv2d(padded, kernel.expand(c, 1, kernel_size[1], kernel_size[0]), groups=c)
    return restore(out)


# ----------------------------------------------------------------------------------------- per-value
def normalize(t, mean, std, inplace=False):
    mean = _const(np.asarray(mean).reshape(-1, 1, 1), t)
    std = _const(np.asarray(std).reshape(-1, 1, 1), t)
    if bool((std._data == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {t.dtype}, leading to division by zero.")
    if inplace:
        return t.sub_(mean).div_(std)
    return (t - mean) / std


def erase(t, i, j, h, w, v, inplace=False):
    if inplace:
        t[..., i:i + h, j:j + w] = v
        return t
    out = t.clone()  # a non-leaf copy in the graph: the region's gradient is cut, the rest passes
    out[..., i:i + h, j:j + w] = v.to(t.dtype) if isinstance(v, Tensor) else v
    return out
