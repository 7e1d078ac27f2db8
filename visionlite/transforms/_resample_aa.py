"""uint8 resize in PyTorch's int16 fixed point, value for value (the path TorchVision v2 takes for uint8
tensors on x86 and ARM CPUs, bilinear or bicubic, antialiased or not).

PyTorch resamples the width first, then the height. Each output is a short sum over taps: with
antialiasing a triangle (bilinear) or Keys cubic (a = -0.5) filter widened by the downscale factor, as
Pillow's; without, the plain 2 or 4 taps around the source position (cubic a = -0.75). The weights are
computed in float64, normalised, then scaled to int16 with the most fractional bits that keep the largest
weight below 2^15; each pass sums pixel x weight in integers from half an output level, shifts right and
saturates to uint8, so the intermediate image between the passes is uint8 too.

(Float images take ``visionlite.core.ops.interp_aa`` when antialiased, which reproduces PyTorch's float32
summation order bit for bit, and the matrix form in ``_tensor_resample`` otherwise.)
"""
import math

import numpy as np

from visionlite.core.backend import array_module


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0).astype(x.dtype)


def _keys_cubic(x):
    """Keys' cubic with a = -0.5 (Pillow's antialiasing filter), in ``x``'s dtype."""
    t = x.dtype.type
    a = t(-0.5)
    x = np.abs(x)
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


def plain_taps(in_size, out_size, mode):
    """``(start, weights, w_max)`` of the non-antialiased uint8 kernels (float64): the 2 (bilinear) or 4
    (bicubic, Keys a = -0.75) taps around each output's source position; taps falling off the image add
    their weight to the edge tap. ``w_max`` is the largest partial sum met while accumulating, which is what
    PyTorch sizes its fixed point by."""
    n_taps = 2 if mode == "bilinear" else 4
    half = n_taps // 2
    scale = in_size / out_size
    src = scale * (np.arange(out_size) + 0.5) - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
    base = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.clip(src - base, 0.0, 1.0)
    lo = base - half + 1
    start = np.maximum(lo, 0)
    count = np.clip(np.minimum(base + half + 1, in_size) - start, 0, n_taps)
    w = np.zeros((out_size, n_taps))
    w_max = 0.0
    for i in range(out_size):
        slot = 0
        for j in range(n_taps):
            x = abs(j + 1 - half - lam[i])
            if mode == "bilinear":
                v = max(0.0, 1.0 - x)
            else:
                a = -0.75
                v = ((a + 2) * x - (a + 3)) * x * x + 1 if x < 1 else (
                    ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0)
            if lo[i] + j <= 0:
                slot = 0
            elif lo[i] + j >= in_size - 1:
                slot = count[i] - 1
            w[i, slot] += v
            w_max = max(w_max, w[i, slot])
            slot += 1
    return start, w, w_max


def _int16_weights(w, w_max=None):
    """float64 weights -> (int16-valued int32 weights, fractional bits), as PyTorch's uint8 kernels."""
    if w_max is None:
        w_max = float(w.max()) if w.size else 0.0
    bits = 0
    while bits < 22 and int(0.5 + w_max * (1 << (bits + 1))) < (1 << 15):
        bits += 1
    v = w * float(1 << bits)
    q = np.where(v < 0, np.trunc(v - 0.5), np.trunc(v + 0.5))
    return q.astype(np.int32), bits


def _pass(x, axis, start, w, integer_bits):
    """One separable pass along ``axis`` (-1 width, -2 height) of int32 ``x`` with int weights ``w``
    (out, K) of ``integer_bits`` fractional bits; returns uint8."""
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
    out = out + (1 << (integer_bits - 1))
    return xp.clip(out >> integer_bits, 0, 255).astype(np.uint8)


def resize_uint8(x, size, mode, antialias=True):
    """Resize of a uint8 ``...,H,W`` array in PyTorch's int16 fixed point (antialiased or not)."""
    (h, w), (oh, ow) = x.shape[-2:], size
    for axis, n, on in ((-1, w, ow), (-2, h, oh)):
        if on == n:
            continue
        if antialias:
            start, wf = taps(n, on, mode, np.float64)
            wi, bits = _int16_weights(wf)
        else:
            start, wf, w_max = plain_taps(n, on, mode)
            wi, bits = _int16_weights(wf, w_max)
        x = _pass(x.astype(np.int32), axis, start, wi, bits)
    return x
