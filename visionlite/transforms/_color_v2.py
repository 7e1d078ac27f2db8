"""The colour kernels of ``torchvision.transforms.v2`` on raw ``...,C,H,W`` arrays, rounded as they are.

v2 rewrote v1's colour ops with in-place tensor methods whose roundings differ: ``a.add_(b, alpha=k)``
is one fused multiply-add on the CPU, greys are floored before blending, autocontrast divides by
``(max - min) / bound``, integer images scale to float by multiplying with ``1 / max`` and back by
``255.999`` then truncating, HSV uses its own operation order. Following them step by step makes
float32 and uint8 results equal to TorchVision's (measured on photos); ``pow`` (gamma) is the one op
PyTorch computes with a vector library whose last-bit roundings (about 2% of values, 1 ulp) are not
reproduced. float64 images use plain float64 arithmetic.
"""
import numpy as np

from visionlite.core.backend import array_module

from ._aten_math import torch_mean_f32
from ._blur import conv_depthwise_fma
from ._functional_tensor import max_value

_F32 = np.float32


def _work(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(_F32)


def _madd(a, b, alpha):
    """``a.add_(b, alpha=alpha)``: ``a + alpha * b``, one fused multiply-add for float32 (``a``'s dtype),
    but where ``b`` is one value per image (the contrast mean), as ``_separate_positions`` tells."""
    t = a.dtype.type
    if a.dtype != np.float32:
        return (a + t(alpha) * b).astype(a.dtype)
    out = (b.astype(np.float64) * np.float64(t(alpha)) + a.astype(np.float64)).astype(_F32)
    if a.ndim >= 3 and b.shape[-3:] == (1, 1, 1) and array_module(a) is np:
        flat = out.reshape(-1)
        at = _separate_positions(a.shape)
        scaled = (t(alpha) * np.broadcast_to(b, a.shape).reshape(-1)[at]).astype(_F32)
        flat[at] = (a.reshape(-1)[at] + scaled).astype(_F32)
    return out


def _separate_positions(shape):
    """Flat positions of an ``...,C,H,W`` image whose ``add_`` of a per-image scalar PyTorch computes as a
    separate multiply and add (measured, AVX2 and AVX-512 alike): each run of the loop (one image, cut
    where ``parallel_for`` splits the elements among threads) leaves its last ``n mod 16`` values to
    compiler-vectorised scalar code that fuses the first of them and multiplies-then-adds the following
    groups of four."""
    from visionlite.core.ops._threads import num_threads

    row = int(np.prod(shape[-3:]))
    numel = int(np.prod(shape))
    cuts = set(range(0, numel + 1, max(row, 1)))
    threads = num_threads()
    if numel >= 32768 and threads > 1:  # ATen's grain: below it one thread does all
        chunks = min(threads, -(-numel // 32768))
        step = -(-numel // chunks)
        cuts |= {min(i * step, numel) for i in range(chunks + 1)}
    cuts = sorted(cuts)
    picked = []
    for start, end in zip(cuts[:-1], cuts[1:]):
        rem = (end - start) % 16
        if rem > 1:
            first = end - rem + 1
            picked.append(np.arange(first, first + 4 * ((rem - 1) // 4)))
    return np.concatenate(picked) if picked else np.zeros(0, np.int64)


def to_float(x, dtype=_F32):
    """``to_dtype(x, dtype, scale=True)`` for a float ``dtype``: integers times ``1 / max`` (float
    images are only cast)."""
    dtype = np.dtype(dtype)
    if x.dtype.kind == "f":
        return x.astype(dtype, copy=False)
    return (x.astype(dtype) * dtype.type(1.0 / max_value(x.dtype))).astype(dtype)


def from_float(x, dtype):
    """``to_dtype(x, dtype, scale=True)`` from a float image: integers by ``x * (max + 1 - 1e-3)``,
    truncated."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    return (x * x.dtype.type(max_value(dtype) + 1.0 - 1e-3)).astype(dtype)


def rgb_to_grayscale(x, num_output_channels=1, preserve_dtype=True):
    """``0.2989 R + 0.587 G + 0.114 B`` as ``r.mul(.2989).add_(g, alpha=.587).add_(b, alpha=.114)``;
    integer images give a float grey unless ``preserve_dtype`` (then truncated)."""
    xp = array_module(x)
    if x.shape[-3] == 1:
        grey = x.copy()
    else:
        wt = _work(x.dtype)
        r, g, b = (x[..., i, :, :].astype(wt, copy=False) for i in range(3))
        grey = (r * wt.type(0.2989)).astype(wt)
        grey = _madd(_madd(grey, g, 0.587), b, 0.114)[..., None, :, :]
        if preserve_dtype:
            grey = grey.astype(x.dtype)
    if num_output_channels == 3:
        return xp.broadcast_to(grey, grey.shape[:-3] + (3,) + grey.shape[-2:]).copy()
    return grey


def blend(img1, img2, ratio):
    """``img1.mul(ratio).add_(img2, alpha=1 - ratio).clamp_(0, bound)``, cast back (truncating)."""
    wt = _work(img1.dtype)
    ratio = float(ratio)
    out = (img1.astype(wt, copy=False) * wt.type(ratio)).astype(wt)
    out = _madd(out, img2.astype(wt, copy=False), 1.0 - ratio)
    out = out.clip(0, max_value(img1.dtype))
    return out if img1.dtype.kind == "f" else out.astype(img1.dtype)


def _grey_float(x):
    """The float grey v2 blends with: floored for integer images."""
    grey = rgb_to_grayscale(x, 1, preserve_dtype=False)
    return grey if x.dtype.kind == "f" else array_module(grey).floor(grey)


def adjust_brightness(x, factor):
    wt = _work(x.dtype)
    out = (x.astype(wt, copy=False) * wt.type(factor)).astype(wt).clip(0, max_value(x.dtype))
    return out if x.dtype.kind == "f" else out.astype(x.dtype)


def adjust_contrast(x, factor):
    wt = _work(x.dtype)
    grey = _grey_float(x) if x.shape[-3] == 3 else x.astype(wt, copy=False)
    if wt == np.float32 and array_module(x) is np:  # torch.mean's summation order (CPU)
        mean = torch_mean_f32(grey)
    else:
        mean = grey.mean(axis=(-3, -2, -1), keepdims=True, dtype=wt)
    return blend(x, array_module(x).asarray(mean), factor)


def adjust_saturation(x, factor):
    if x.shape[-3] == 1:
        return x
    return blend(x, _grey_float(x), factor)


def adjust_sharpness(x, factor):
    """Blend the interior with its 3x3 smoothing (weights 1 and a centre 5, over 13): the difference
    taken first, then added with weight ``1 - factor``, as v2 does in place."""
    h, w = x.shape[-2:]
    if x.size == 0 or h <= 2 or w <= 2:
        return x
    wt = _work(x.dtype)
    kernel = np.full((3, 3), 1.0 / 13.0)
    kernel[1, 1] = 5.0 / 13.0
    lead = x.shape[:-3]
    out = x.astype(wt).reshape((-1,) + x.shape[-3:])
    smooth = conv_depthwise_fma(out, kernel.astype(wt), (h - 2, w - 2))
    if x.dtype.kind != "f":
        smooth = array_module(x).rint(smooth)
    view = out[..., 1:-1, 1:-1]
    view[...] = _madd(view, (smooth - view).astype(wt), 1.0 - float(factor))
    out = out.clip(0, max_value(x.dtype)).reshape(lead + out.shape[1:])
    return out if x.dtype.kind == "f" else out.astype(x.dtype)


def adjust_gamma(x, gamma, gain=1.0):
    """``gain * I ** gamma`` on [0, 1] intensities (pow in float64 with the float32 exponent, rounded:
    PyTorch's vector pow may differ in the last bit)."""
    f = to_float(x)
    t = f.dtype.type
    out = array_module(f).power(f.astype(np.float64), np.float64(t(gamma))).astype(f.dtype)
    if gain != 1.0:
        out = (out * t(gain)).astype(f.dtype).clip(0.0, 1.0)
    return from_float(out, x.dtype)


def autocontrast(x):
    xp = array_module(x)
    bound = max_value(x.dtype)
    wt = _work(x.dtype)
    f = x.astype(wt, copy=False)
    lo = f.min(axis=(-2, -1), keepdims=True)
    hi = f.max(axis=(-2, -1), keepdims=True)
    flat = hi == lo
    inv_scale = ((hi - lo) * wt.type(1.0 / bound)).astype(wt)
    lo = xp.where(flat, wt.type(0), lo)
    inv_scale = xp.where(flat, wt.type(1), inv_scale)
    out = ((f - lo) / inv_scale).clip(0, bound)
    return out if x.dtype.kind == "f" else out.astype(x.dtype)


def _rgb_to_hsv(img):
    xp = array_module(img)
    t = img.dtype.type
    r, g = img[..., 0, :, :], img[..., 1, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    span = maxc - minc
    s = span / xp.where(eqc, t(1), maxc)
    rc, gc, bc = _split3((maxc[..., None, :, :] - img) / xp.where(eqc, t(1), span)[..., None, :, :])
    neq_r = maxc != r
    eq_g = maxc == g
    hg = ((rc + t(2)) - bc) * (eq_g & neq_r)
    hr = (bc - gc) * ~neq_r
    hb = ((gc + t(4)) - rc) * (neq_r & ~eq_g)
    h = ((hr + hg) + hb).astype(img.dtype)
    h = xp.fmod((h * t(1.0 / 6.0)).astype(img.dtype) + t(1), t(1))
    return h, s, maxc


def _split3(a):
    return a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]


def _remainder1(a):
    """``torch.remainder(a, 1.0)``: ``fmod``, plus one where negative."""
    xp = array_module(a)
    m = xp.fmod(a, a.dtype.type(1))
    return xp.where(m < 0, m + a.dtype.type(1), m)


def _hsv_to_rgb(h, s, v):
    xp = array_module(h)
    t = h.dtype.type
    h6 = (h * t(6)).astype(h.dtype)
    i = xp.floor(h6)
    f = h6 - i
    i = i.astype(np.int32) % 6
    sxf = s * f
    one_minus_s = t(1) - s
    q = ((t(1) - sxf) * v).clip(0.0, 1.0)
    tt = ((sxf + one_minus_s) * v).clip(0.0, 1.0)
    p = (one_minus_s * v).clip(0.0, 1.0)
    table = ((v, q, p, p, tt, v), (tt, v, v, q, p, p), (p, p, tt, v, v, q))
    return xp.stack([xp.choose(i, xp.stack([c.astype(h.dtype) for c in row])) for row in table], axis=-3)


def adjust_hue(x, hue_factor):
    if x.shape[-3] == 1:
        return x
    f = to_float(x)
    h, s, v = _rgb_to_hsv(f)
    h = _remainder1((h + f.dtype.type(hue_factor)).astype(f.dtype))
    return from_float(_hsv_to_rgb(h, s, v), x.dtype)


