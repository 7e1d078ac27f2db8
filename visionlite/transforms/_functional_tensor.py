"""The tensor backend of ``transforms.functional``, on raw ``...,C,H,W`` arrays (numpy or cupy).

Arithmetic follows TorchVision's tensor ops step by step, in the same dtypes and with PyTorch's CPU
roundings (fused multiply-adds, summation orders; see ``_aten_math``, ``_blur``, ``core.ops.interp``):
integer images are computed in float32 and cast back by truncation (colour ops) or rounding (filters
and warps), and float32 and uint8 results equal TorchVision v1's (``tests/test_transforms_exactness``
lists the one-ulp exceptions). v2's own roundings live in ``_color_v2``. Validation happens in
``functional``.
"""
import contextlib
import threading

import numpy as np

from visionlite.core.backend import array_module

from . import _tensor_resample as rs

_F32 = np.float32


def max_value(dtype):
    """The value of full intensity: 1 for floats, the largest integer otherwise."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1
    if dtype.kind == "b":
        return 1
    return int(np.iinfo(dtype).max)


def work_dtype(dtype):
    """The float dtype an op computes in: the image's own for floats, float32 for integers. (Warp grids
    for float16 images are computed in float32 and rounded once, see ``_tensor_resample``.)"""
    return np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(_F32)


def _scalar(value, dtype):
    return np.dtype(dtype).type(value)


def to_float(x):
    return x if x.dtype.kind == "f" else x.astype(_F32)


def cast_back(x, dtype, rounding=True):
    """Cast a float result to ``dtype``: integers are rounded (half to even) when ``rounding``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    if rounding:
        x = array_module(x).rint(x)
    return x.astype(dtype)


def as_batch(x):
    """``x`` as ``N,C,H,W`` and a function that restores its original leading shape."""
    shape = x.shape
    x4 = x.reshape((-1,) + shape[-3:]) if x.ndim >= 3 else x.reshape((1, 1) + shape)
    return x4, lambda y: y.reshape(shape[:-2] + y.shape[-2:])


# ------------------------------------------------------------------------------------------ dtypes
def convert_image_dtype(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "f":
        if dtype.kind == "f":
            return x.astype(dtype)
        if (x.dtype == np.float32 and dtype in (np.int32, np.int64)) or (
                x.dtype == np.float64 and dtype == np.int64):
            raise RuntimeError(f"The cast from {x.dtype} to {dtype} cannot be performed safely.")
        # 1 - eps keeps 1.0 from overflowing while spreading [0, 1) evenly over the integer levels
        return (x * _scalar(max_value(dtype) + 1.0 - 1e-3, x.dtype)).astype(dtype)
    in_max = max_value(x.dtype)
    if dtype.kind == "f":
        return x.astype(dtype) / _scalar(in_max, dtype)
    out_max = max_value(dtype)
    if in_max > out_max:
        return (x // ((in_max + 1) // (out_max + 1))).astype(dtype)
    return x.astype(dtype) * dtype.type((out_max + 1) // (in_max + 1))


# ------------------------------------------------------------------------------------------- geometry
def hflip(x):
    return x[..., ::-1]


def vflip(x):
    return x[..., ::-1, :]


def crop(x, top, left, height, width):
    h, w = x.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        ltrb = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(x[..., max(top, 0):bottom, max(left, 0):right], ltrb, fill=0)
    return x[..., top:bottom, left:right]


def parse_padding(padding):
    """(left, top, right, bottom) from an int or a 1-, 2- or 4-sequence."""
    if isinstance(padding, int):
        return [padding] * 4
    padding = list(padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    return padding


def pad(x, padding, fill=0, padding_mode="constant"):
    """Pad the last two dims; negative amounts crop. ``edge`` repeats the border pixel, ``reflect``
    mirrors without repeating it, ``symmetric`` mirrors repeating it."""
    xp = array_module(x)
    left, top, right, bottom = parse_padding(padding)
    h, w = x.shape[-2:]
    x = x[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    if padding_mode == "reflect" and (max(left, right) >= x.shape[-1] or max(top, bottom) >= x.shape[-2]):
        raise ValueError(f"reflect padding of ({left}, {top}, {right}, {bottom}) needs each amount smaller "
                         "than "
                         f"the image side it pads (image is {x.shape[-2]}x{x.shape[-1]}); use padding_mode="
                         "'symmetric' or pad less")
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        value = fill if x.dtype.kind == "f" else int(fill)
        return xp.pad(x, widths, mode="constant", constant_values=value)
    return xp.pad(x, widths, mode=padding_mode)


def resize(x, size, interpolation, antialias):
    if antialias and interpolation not in ("bilinear", "bicubic"):
        antialias = False
    xb, restore = as_batch(x)
    dtype = x.dtype
    work = xb if dtype in (np.float32, np.float64) else xb.astype(_F32)
    out = rs.resize(work, size, interpolation, bool(antialias))
    if interpolation == "bicubic" and dtype == np.uint8:
        out = out.clip(0, 255)
    return restore(cast_back(out, dtype))


def _grid_transform(x, grid, mode, fill):
    """Sample ``x`` at ``grid``; where the grid leaves the image use ``fill`` (or zeros if None)."""
    xp = array_module(x)
    xb, restore = as_batch(x)
    dtype = x.dtype
    work = xb.astype(grid.dtype) if xb.dtype != grid.dtype else xb
    if fill is not None:  # sample a plane of ones too: it tells how much of each output lies inside
        work = xp.concatenate([work, xp.ones_like(work[:, :1])], axis=1)
    out = rs.grid_sample(work, grid, mode)
    if fill is not None:
        out, mask = out[:, :-1], out[:, -1:]
        fill = list(fill) if isinstance(fill, (list, tuple)) else [float(fill)]
        fill_img = xp.asarray(np.array(fill, dtype=out.dtype).reshape(1, -1, 1, 1))
        if mode == "nearest":
            out = xp.where(mask < 0.5, fill_img, out)
        elif _V2_FILL.on:  # v2's in-place form: (img - fill) * mask + fill
            out = (out - fill_img) * mask + fill_img
        else:
            out = out * mask + (1.0 - mask) * fill_img
    return restore(cast_back(out, dtype))


class _V2Fill(threading.local):
    on = False


_V2_FILL = _V2Fill()


@contextlib.contextmanager
def v2_fill():
    """Within this block warps blend their fill colour in v2's arithmetic (``(img - fill) * mask +
    fill``, which rounds differently from v1's ``img * mask + (1 - mask) * fill``)."""
    before, _V2_FILL.on = _V2_FILL.on, True
    try:
        yield
    finally:
        _V2_FILL.on = before


def affine(x, matrix, interpolation, fill):
    h, w = x.shape[-2:]
    grid = rs.affine_grid(matrix, w, h, w, h, work_dtype(x.dtype))
    return _grid_transform(x, grid, interpolation, fill)


def affine_output_size(matrix, w, h):
    """(w, h) of the box holding the whole image after the forward affine ``matrix`` (for expand)."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=_F32)
    new = pts @ np.asarray(matrix, dtype=_F32).reshape(2, 3).T
    lo = new.min(axis=0) + np.array([w * 0.5, h * 0.5], dtype=_F32)
    hi = new.max(axis=0) + np.array([w * 0.5, h * 0.5], dtype=_F32)
    tol = _F32(1e-4)  # trims float noise so that e.g. a 90-degree turn does not grow by a pixel
    cmax = np.ceil(np.trunc(hi / tol) * tol)
    cmin = np.floor(np.trunc(lo / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def rotate(x, matrix, interpolation, expand, fill):
    h, w = x.shape[-2:]
    ow, oh = affine_output_size(matrix, w, h) if expand else (w, h)
    grid = rs.affine_grid(matrix, w, h, ow, oh, work_dtype(x.dtype))
    return _grid_transform(x, grid, interpolation, fill)


def elastic_transform(x, displacement, interpolation, fill):
    """Sample at the identity grid plus ``displacement`` (``H,W,2``, in [-1, 1] grid units)."""
    h, w = x.shape[-2:]
    # TorchVision's identity grid is float32 whatever the image, so the grid (and the sampling, which
    # runs in the grid's dtype) is float32 unless the displacement is float64
    dtype = np.result_type(_F32, displacement.dtype)
    ys = rs._linspace((-h + 1) / h, (h - 1) / h, h)
    xs = rs._linspace((-w + 1) / w, (w - 1) / w, w)
    identity = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1).astype(dtype)
    grid = array_module(displacement).asarray(identity) + displacement.astype(dtype)
    return _grid_transform(x, grid, interpolation, fill)


def perspective(x, coeffs, interpolation, fill):
    h, w = x.shape[-2:]
    grid = rs.perspective_grid(coeffs, w, h, work_dtype(x.dtype))
    return _grid_transform(x, grid, interpolation, fill)


# ---------------------------------------------------------------------------------------------- colour
def rgb_to_grayscale(x, num_output_channels=1):
    if x.shape[-3] == 3:
        f = to_float(x)
        t = f.dtype.type
        gray = (t(0.2989) * f[..., 0, :, :] + t(0.587) * f[..., 1, :, :] + t(0.114) * f[..., 2, :, :])
        gray = gray.astype(x.dtype)[..., None, :, :]
    else:
        gray = x.copy()
    if num_output_channels == 3:
        return array_module(x).broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:]).copy()
    return gray


def blend(img1, img2, ratio):
    """``ratio * img1 + (1 - ratio) * img2``, clamped to the valid range, in ``img1``'s dtype
    (integers truncated, as a tensor ``.to(uint8)`` does)."""
    wt = work_dtype(img1.dtype)
    # 1 - ratio is taken in double precision before the cast, as PyTorch does with Python scalars
    out = wt.type(ratio) * img1.astype(wt, copy=False) + wt.type(1.0 - ratio) * img2.astype(wt, copy=False)
    return out.clip(0, max_value(img1.dtype)).astype(img1.dtype)


def adjust_brightness(x, factor):
    return blend(x, array_module(x).zeros_like(x), factor)


def adjust_contrast(x, factor):
    wt = work_dtype(x.dtype)
    gray = (rgb_to_grayscale(x) if x.shape[-3] == 3 else x).astype(wt)
    if wt == np.float32 and array_module(x) is np:  # torch.mean's own summation order
        from ._aten_math import torch_mean_f32

        mean = torch_mean_f32(gray)
    else:
        mean = gray.mean(axis=(-3, -2, -1), keepdims=True, dtype=wt)
    return blend(x, mean, factor)


def adjust_saturation(x, factor):
    if x.shape[-3] == 1:
        return x
    return blend(x, rgb_to_grayscale(x), factor)


def adjust_hue(x, hue_factor):
    if x.shape[-3] == 1:
        return x
    xp = array_module(x)
    f = convert_image_dtype(x, _F32)
    h, s, v = _rgb2hsv(f)
    h = xp.mod(h + _F32(hue_factor), _F32(1.0))
    return convert_image_dtype(_hsv2rgb(h, s, v), x.dtype)


def _rgb2hsv(img):
    xp = array_module(img)
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    one = img.dtype.type(1.0)
    s = cr / xp.where(eqc, one, maxc)
    crd = xp.where(eqc, one, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (img.dtype.type(2.0) + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (img.dtype.type(4.0) + gc - rc)
    h = xp.fmod((hr + hg + hb) / img.dtype.type(6.0) + one, one)
    return h, s, maxc


def _hsv2rgb(h, s, v):
    xp = array_module(h)
    one = h.dtype.type(1.0)
    i = xp.floor(h * h.dtype.type(6.0))
    f = h * h.dtype.type(6.0) - i
    i = i.astype(np.int32) % 6
    p = (v * (one - s)).clip(0.0, 1.0)
    q = (v * (one - s * f)).clip(0.0, 1.0)
    t = (v * (one - s * (one - f))).clip(0.0, 1.0)
    # for each hue sextant i, which of (v, q, p, t) each of r, g, b takes
    table = ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))
    return xp.stack([xp.choose(i, xp.stack([c.astype(h.dtype) for c in row])) for row in table], axis=-3)


def adjust_gamma(x, gamma, gain=1.0):
    f = x if x.dtype.kind == "f" else convert_image_dtype(x, _F32)
    t = f.dtype.type
    # pow in float64 with the exponent rounded to the image's dtype, then rounded: PyTorch's vector pow
    # agrees but for its last-bit errors (about 2% of float32 values, 1 ulp)
    powed = array_module(f).power(f.astype(np.float64), np.float64(t(gamma))).astype(f.dtype)
    out = (t(gain) * powed).clip(0, 1)
    return convert_image_dtype(out, x.dtype)


def invert(x):
    return (max_value(x.dtype) - x).astype(x.dtype) if x.dtype.kind != "f" else x.dtype.type(1.0) - x


def posterize(x, bits):
    return x & np.uint8((-(2 ** (8 - bits))) & 0xFF)


def solarize(x, threshold):
    return array_module(x).where(x >= threshold, invert(x), x)


def _blurred_degenerate(x):
    """x with its interior replaced by a 3x3 smoothing (centre weight 5, others 1, sum 13): the image
    that ``adjust_sharpness`` blends away from, as in Pillow's SMOOTH filter; the kernel and the
    convolution rounded as TorchVision's (``_blur.conv_depthwise_fma``)."""
    from ._blur import conv_depthwise_fma

    f = to_float(x)
    t = f.dtype.type
    kernel = np.ones((3, 3), dtype=f.dtype)
    kernel[1, 1] = 5
    kernel = (kernel / t(13)).astype(f.dtype)
    fb, _ = as_batch(f)
    inner = conv_depthwise_fma(fb, kernel, (x.shape[-2] - 2, x.shape[-1] - 2))
    out = x.copy()
    out[..., 1:-1, 1:-1] = cast_back(inner, x.dtype).reshape(x.shape[:-2] + inner.shape[-2:])
    return out


def adjust_sharpness(x, factor):
    if x.shape[-1] <= 2 or x.shape[-2] <= 2:
        return x
    return blend(x, _blurred_degenerate(x), factor)


def autocontrast(x):
    xp = array_module(x)
    bound = max_value(x.dtype)
    wt = work_dtype(x.dtype)
    lo = x.min(axis=(-2, -1), keepdims=True).astype(wt)
    hi = x.max(axis=(-2, -1), keepdims=True).astype(wt)
    with np.errstate(divide="ignore", invalid="ignore"):
        # TorchVision writes bound / (max - min), which a tensor evaluates as reciprocal(max - min) * bound
        scale = (wt.type(1) / (hi - lo)).astype(wt) * wt.type(bound)
    flat = ~xp.isfinite(scale)
    lo = xp.where(flat, wt.type(0), lo)
    scale = xp.where(flat, wt.type(1), scale)
    return ((x.astype(wt) - lo) * scale).clip(0, bound).astype(x.dtype)


def _equalize_channel(ch):
    xp = array_module(ch)
    hist = xp.bincount(ch.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return ch
    lut = (xp.cumsum(hist) + step // 2) // step
    lut = xp.concatenate([xp.zeros(1, dtype=lut.dtype), lut[:-1]]).clip(0, 255)
    return lut[ch].astype(np.uint8)


def equalize(x):
    xb, restore = as_batch(x)
    xp = array_module(x)
    out = xp.stack([xp.stack([_equalize_channel(ch) for ch in img]) for img in xb])
    return restore(out)


# ------------------------------------------------------------------------------------------- filters
def gaussian_kernel1d(ksize, sigma, dtype):
    """TorchVision v1's 1-D Gaussian kernel in ``dtype`` (see ``_blur``)."""
    from ._blur import kernel1d_v1

    return kernel1d_v1(ksize, sigma, dtype)


def gaussian_blur(x, kernel_size, sigma, version=1):
    """Blur with TorchVision's 2-D Gaussian (``version`` 1 or 2 kernel), reflect-padding the borders
    (``kernel_size = (kx, ky)``); integer images in float32, rounded back. Bit-exact with TorchVision's
    CPU result for float32 and uint8 images, up to the machine-dependent notes in ``_blur``."""
    from ._blur import gaussian_blur as _blur

    wt = work_dtype(x.dtype)
    if wt == np.float16:  # blurred in float32 and rounded once
        wt = np.dtype(_F32)
    xb, restore = as_batch(x)
    out = _blur(xb.astype(wt, copy=False), kernel_size, sigma, version)
    return restore(cast_back(out, x.dtype))


# ------------------------------------------------------------------------------------------ per-value
def normalize(x, mean, std, inplace=False):
    """``(x - mean) / std`` per channel; ``x`` a float array, written in place when ``inplace``."""
    xp = array_module(x)
    mean = xp.asarray(mean, dtype=x.dtype).reshape(-1, 1, 1)
    std = xp.asarray(std, dtype=x.dtype).reshape(-1, 1, 1)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {x.dtype}, leading to division by zero.")
    out = x if inplace else xp.empty_like(x)
    xp.subtract(x, mean, out=out)
    xp.divide(out, std, out=out)
    return out


def erase(x, i, j, h, w, v, inplace=False):
    out = x if inplace else x.copy()
    out[..., i:i + h, j:j + w] = array_module(x).asarray(v) if hasattr(v, "shape") else v
    return out
