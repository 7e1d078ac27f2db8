"""Gaussian blur as TorchVision computes it on the CPU, rounding step for step.

TorchVision builds a 2-D kernel (v1: ``exp(-x^2 / 2 sigma^2)`` normalised by its sum; v2: a softmax over
``-(x / sigma)^2`` on a rescaled grid), reflect-pads the image and runs a depthwise ``conv2d``. For
float32 that convolution is oneDNN's depthwise kernel: per output pixel a chain of fused multiply-adds
over the kernel rows (outer) and columns (inner), starting from zero. Reproducing those roundings makes
float32 and uint8 results equal to TorchVision's (measured on photos, torch 2.14 on x86-64).

Two pieces depend on the machine and are matched as closely as is practical: v1's kernel uses
``torch.exp`` (Intel MKL's vector exp, not reproducible; a correctly rounded exp differs by one ulp in
about 1% of kernel entries, which moves a uint8 pixel only when its value sits on a rounding tie), and
v2's softmax uses SLEEF's ``expf`` and a lane-wise sum whose width follows the CPU (16 lanes with
AVX-512, else 8), both emulated here. float64 images use plain float64 arithmetic (within an ulp).
"""
import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.ops._threads import split_map

from ._aten_math import reduce_all_sum, simd_lanes, sleef_expf, torch_sum_f32

_F32 = np.float32
_F64 = np.float64


def _linspace32(start, end, steps):
    from ._tensor_resample import _linspace

    return _linspace(start, end, steps)


def kernel1d_v1(ksize, sigma, dtype=_F32):
    """TorchVision v1's 1-D Gaussian: ``exp(-0.5 * (x / sigma)^2) / sum`` on ``x = linspace(-k/2, k/2)``
    (half-integers), in ``dtype`` (float32 for integer images)."""
    dtype = np.dtype(dtype)
    half = (ksize - 1) * 0.5
    if dtype != np.float32:
        x = np.linspace(-half, half, ksize).astype(dtype)
        pdf = np.exp(dtype.type(-0.5) * (x / dtype.type(sigma)) ** 2)
        return pdf / pdf.sum(dtype=dtype)
    x = _linspace32(-half, half, ksize)
    t = (x / _F32(sigma)).astype(_F32)
    arg = (_F32(-0.5) * (t * t).astype(_F32)).astype(_F32)
    pdf = np.exp(arg.astype(_F64)).astype(_F32)  # nearest to torch.exp (MKL), see the module notes
    return (pdf / torch_sum_f32(pdf)).astype(_F32)


def kernel1d_v2(ksize, sigma, dtype=_F32):
    """TorchVision v2's 1-D Gaussian: ``softmax(-(x / sigma)^2)`` on ``x = linspace(-lim, lim)`` with
    ``lim = (k - 1) / (2 sqrt 2)``; the softmax as PyTorch's vectorised CPU kernel rounds it."""
    dtype = np.dtype(dtype)
    lim = (ksize - 1) / (2.0 * np.sqrt(2.0))
    if dtype != np.float32:
        x = np.linspace(-lim, lim, ksize).astype(dtype)
        z = -((x / dtype.type(sigma)) ** 2)
        e = np.exp(z - z.max())
        return e * (dtype.type(1) / e.sum(dtype=dtype))
    x = _linspace32(-lim, lim, ksize)
    t = (x / _F32(sigma)).astype(_F32)
    z = -(t * t).astype(_F32)
    e = sleef_expf((z - z.max()).astype(_F32))
    return (e * (_F32(1) / reduce_all_sum(e, simd_lanes()))).astype(_F32)


def _uses_onednn(shape, kh, kw):
    """Whether PyTorch's CPU ``conv2d`` runs a float32 convolution of an ``N,C,H,W`` input with ``C``
    groups through oneDNN (its ``use_mkldnn`` rule); otherwise it takes the native im2col path."""
    n, c, hp, wp = shape
    return c > 1 or (kh > 3 and kw > 3) or n > 1 or n * c * hp * wp > 20480


def conv_depthwise_fma(padded, kernel2d, out_hw):
    """Each channel of ``padded`` (``N,C,H+kh-1,W+kw-1`` float) correlated with ``kernel2d`` (``kh,kw``),
    rounded as PyTorch's CPU ``conv2d`` with ``C`` groups: float32 through oneDNN is a fused multiply-add
    chain (rows outer, from zero); the native path (small single-channel images) and other dtypes
    multiply and add separately, in the same order."""
    xp = array_module(padded)
    (h, w), (kh, kw) = out_hw, kernel2d.shape
    out = xp.zeros(padded.shape[:-2] + (h, w), dtype=padded.dtype)
    lead = int(np.prod(padded.shape[:-3])) if padded.ndim > 3 else 1
    fused = padded.dtype == np.float32 and _uses_onednn((lead,) + padded.shape[-3:], kh, kw)
    taps = [(i, j, _F64(kernel2d[i, j]) if fused else padded.dtype.type(kernel2d[i, j]))
            for i in range(kh) for j in range(kw)]
    flat_in = padded.reshape((-1,) + padded.shape[-2:])
    flat_out = out.reshape((-1, h, w))

    def part(a, b):
        for c in range(a, b):  # one plane at a time keeps the float64 scratch small
            src, dst = flat_in[c], flat_out[c]
            tmp = xp.empty((h, w), dtype=_F64 if fused else padded.dtype)
            for i, j, k in taps:
                xp.multiply(src[i:i + h, j:j + w], k, out=tmp)
                tmp += dst
                dst[...] = tmp

    split_map(part, flat_in.shape[0], out.size * len(taps), xp)
    return out


def gaussian_blur(x, kernel_size, sigma, version=1):
    """Blur float ``x`` (``N,C,H,W``) with TorchVision's Gaussian (``version`` 1 or 2), reflect padding;
    ``kernel_size = (kx, ky)``, ``sigma = (sx, sy)``. Returns the float result."""
    from ._functional_tensor import pad

    make = kernel1d_v2 if version == 2 else kernel1d_v1
    kx = make(kernel_size[0], sigma[0], x.dtype)
    ky = make(kernel_size[1], sigma[1], x.dtype)
    kernel2d = (ky[:, None] * kx[None, :]).astype(x.dtype)  # one rounded product per tap, as torch
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    padded = pad(x, [px, py, px, py], padding_mode="reflect")
    return conv_depthwise_fma(padded, kernel2d, x.shape[-2:])
