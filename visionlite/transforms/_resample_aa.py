"""Antialiased (Pillow-style) separable resize, reproducing PyTorch's CPU kernels value for value.

PyTorch resamples the width first, then the height; each output value is a short sum over the taps
of a triangle (bilinear) or Keys cubic (a = -0.5) filter widened by the downscale factor.

* float images: weights in the image's dtype, each output accumulated tap by tap in that dtype (a
  matrix product sums in another order, which moves about one value in 10^4 of a uint8 image by a level).
* uint8 images (TorchVision v2's path on x86 and ARM CPUs): weights computed in float64, then scaled to
  int16 fixed point with the most fractional bits that keep the largest weight below 2^15; each pass
  sums pixel x weight in integers from half an output level, shifts right and saturates to uint8, so the
  intermediate image between the passes is uint8 too.
"""
import math

import numpy as np

from visionlite.core.backend import array_module

_F32 = np.float32


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0).astype(x.dtype)


def _fma32(a, b, c):
    """float32 ``a * b + c`` rounded once (the product is exact in float64), as a fused multiply-add."""
    return (np.asarray(a, np.float64) * np.float64(b) + np.float64(c)).astype(_F32)


def _keys_cubic(x):
    """Keys' cubic with a = -0.5 (Pillow's antialiasing filter), in ``x``'s dtype. In float32 each
    multiply-add is fused, as PyTorch's vectorised (FMA) build of the kernel evaluates it."""
    t = x.dtype.type
    a = t(-0.5)
    x = np.abs(x)
    if x.dtype == _F32:
        near = _fma32(_fma32(x, a + t(2), -(a + t(3))) * x, x, t(1))
        far = _fma32(_fma32(_fma32(x, a, -t(5) * a), x, t(8) * a), x, -t(4) * a)
    else:
        near = ((a + t(2)) * x - (a + t(3))) * x * x + t(1)
        far = ((a * x - t(5) * a) * x + t(8) * a) * x - t(4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, t(0))).astype(x.dtype)


def taps(in_size, out_size, mode, dtype):
    """``(start, weights)``: output ``i`` reads inputs ``start[i] + k`` with ``weights[i, k]`` (zero past
    the window; ``start + k`` is clipped into the image). Computed in ``dtype`` as PyTorch does."""
    t = np.dtype(dtype).type
    interp, fn = (2, _triangle) if mode == "bilinear" else (4, _keys_cubic)
    scale = t(t(in_size) / t(out_size))
    support = t(t(interp * 0.5) * scale) if scale >= 1.0 else t(interp * 0.5)
    invscale = t(1.0 / np.float64(scale)) if scale >= 1.0 else t(1.0)
    n_taps = int(math.ceil(support)) * 2 + 1
    i = np.arange(out_size)
    center = (np.float64(scale) * (i + 0.5)).astype(t)
    # the window bounds are truncated from float64 sums, as in C++ (float + 0.5 promotes)
    start = np.maximum((np.float64(1) * (center - support) + 0.5).astype(np.int64), 0)
    stop = np.minimum((np.float64(1) * (center + support) + 0.5).astype(np.int64), in_size)
    count = np.clip(stop - start, 0, n_taps)
    k = np.arange(n_taps)
    pos = (start[:, None] + k).astype(t)
    arg = (((pos - center[:, None]).astype(np.float64) + 0.5) * np.float64(invscale)).astype(t)
    w = fn(arg)
    w[k[None, :] >= count[:, None]] = 0
    total = np.zeros(out_size, dtype=t)
    for j in range(n_taps):  # sequential, as the C++ loop sums
        total = (total + w[:, j]).astype(t)
    w = np.divide(w, total[:, None], out=np.zeros_like(w), where=total[:, None] != 0).astype(t)
    return start, w


def _int16_weights(w):
    """float64 weights -> (int16-valued int32 weights, fractional bits), as PyTorch's uint8 kernels."""
    w_max = float(w.max()) if w.size else 0.0
    bits = 0
    while bits < 22 and int(0.5 + w_max * (1 << (bits + 1))) < (1 << 15):
        bits += 1
    v = w * float(1 << bits)
    q = np.where(v < 0, np.trunc(v - 0.5), np.trunc(v + 0.5))
    return q.astype(np.int32), bits


def _pass(x, axis, start, w, integer_bits=None):
    """One separable pass along ``axis`` (-1 width, -2 height) with tap weights ``w`` (out, K)."""
    xp = array_module(x)
    size = x.shape[axis]
    index = np.minimum(start[:, None] + np.arange(w.shape[1]), size - 1)
    wk = xp.asarray(w)
    shape = (-1, 1) if axis == -2 else (-1,)
    out = None
    for k in range(w.shape[1]):
        picked = xp.take(x, xp.asarray(index[:, k]), axis=axis)
        term = picked * wk[:, k].reshape(shape)
        out = term if out is None else out + term
    if integer_bits is None:
        return out
    out = out + (1 << (integer_bits - 1))
    return xp.clip(out >> integer_bits, 0, 255).astype(np.uint8)


def resize_float(x, size, mode):
    """Antialiased resize of a float32/float64 ``...,H,W`` array to ``size = (h, w)``."""
    (h, w), (oh, ow) = x.shape[-2:], size
    if ow != w:
        x = _pass(x, -1, *taps(w, ow, mode, x.dtype))
    if oh != h:
        x = _pass(x, -2, *taps(h, oh, mode, x.dtype))
    return x


def resize_uint8(x, size, mode):
    """Antialiased resize of a uint8 ``...,H,W`` array in PyTorch's int16 fixed point."""
    (h, w), (oh, ow) = x.shape[-2:], size
    if ow != w:
        start, wf = taps(w, ow, mode, np.float64)
        wi, bits = _int16_weights(wf)
        x = _pass(x.astype(np.int32), -1, start, wi, bits)
    if oh != h:
        start, wf = taps(h, oh, mode, np.float64)
        wi, bits = _int16_weights(wf)
        x = _pass(x.astype(np.int32), -2, start, wi, bits)
    return x
