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

_F32 = np.float32
_F64 = np.float64


def _fma32(a, b, c):
    """``a * b + c`` rounded once to float32 (the product is exact in float64; a double rounding of the
    sum can only happen on an exact tie, which is negligibly rare)."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def _simd_lanes():
    """float32 lanes of PyTorch's vector kernels on this CPU: 16 where AVX-512 is usable, else 8."""
    try:
        feats = np._core._multiarray_umath.__cpu_features__
    except AttributeError:  # numpy < 2
        feats = np.core._multiarray_umath.__cpu_features__
    return 16 if all(feats.get(f, False) for f in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")) else 8


def _sleef_expf(d):
    """SLEEF's ``expf`` (1-ulp variant, fused multiply-adds), which PyTorch's vectorised softmax uses."""
    d = np.asarray(d, _F32)
    q = np.rint((d * _F32(1.442695040888963407359924681001892137426645954152985934135449406931)).astype(_F32))
    s = _fma32(q, _F32(-0.693145751953125), d)
    s = _fma32(q, _F32(-1.428606765330187045e-06), s)
    u = _F32(0.000198527617612853646278381)
    for c in (0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156,
              0.166666671633720397949219, 0.5):
        u = _fma32(u, s, _F32(c))
    u = (_F32(1) + _fma32((s * s).astype(_F32), u, s)).astype(_F32)
    out = np.ldexp(u.astype(_F64), q.astype(np.int64)).astype(_F32)
    out = np.where(d < -104, _F32(0), out)
    return np.where(d > 100, _F32(np.inf), out).astype(_F32)


def _lane_reduce(v):
    """Horizontal sum of one register (``at::vec::vec_reduce_all``): halves folded onto each other."""
    v = v.astype(_F32)
    while v.size > 1:
        half = v.size // 2
        v = (v[:half] + v[half:]).astype(_F32)
    return v[0]


def _reduce_all_sum(e, lanes):
    """``at::vec::reduce_all`` with ``+``: lane-wise partial sums, the tail folded into the first lanes,
    then the lanes summed pairwise (sequentially when fewer values than lanes)."""
    n = e.size
    if n < lanes:
        acc = _F32(e[0])
        for v in e[1:]:
            acc = _F32(acc + v)
        return acc
    acc = e[:lanes].astype(_F32)
    d = lanes
    while d + lanes <= n:
        acc = (acc + e[d:d + lanes]).astype(_F32)
        d += lanes
    if d < n:
        acc[:n - d] = (acc[:n - d] + e[d:]).astype(_F32)
    return _lane_reduce(acc)


def _multi_row_sum(rows):
    """ATen's cascade sum of ``rows`` (``size, nrows[, lanes]``): four levels of partial sums."""
    size = rows.shape[0]
    levels = 4
    power = max(4, (int(np.ceil(np.log2(size))) if size > 1 else 0) // levels)
    step, mask = 1 << power, (1 << power) - 1
    acc = [np.zeros(rows.shape[1:], _F32) for _ in range(levels)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            acc[0] = (acc[0] + rows[i]).astype(_F32)
            i += 1
        for j in range(1, levels):
            acc[j] = (acc[j] + acc[j - 1]).astype(_F32)
            acc[j - 1] = np.zeros_like(acc[j - 1])
            if i & (mask << (j * power)):
                break
    for r in rows[i:]:
        acc[0] = (acc[0] + r).astype(_F32)
    for j in range(1, levels):
        acc[0] = (acc[0] + acc[j]).astype(_F32)
    return acc[0]


def _row_sum(v):
    """ATen's ``row_sum``: four interleaved accumulators, the tail into the first, then combined."""
    ilp = 4
    rows = v.shape[0] // ilp
    if rows:
        parts = _multi_row_sum(v[:rows * ilp].reshape((rows, ilp) + v.shape[1:]))
    else:
        parts = np.zeros((ilp,) + v.shape[1:], _F32)
    first = parts[0]
    for r in v[rows * ilp:]:
        first = (first + r).astype(_F32)
    for k in range(1, ilp):
        first = (first + parts[k]).astype(_F32)
    return first


def torch_sum_f32(v):
    """``torch.sum`` of a contiguous 1-D float32 vector, rounded as ATen's CPU kernel sums (8-lane
    vectors summed with four accumulators, the scalar tail first, then the lanes in order)."""
    v = np.asarray(v, _F32).reshape(-1)
    lanes = 8  # the sum kernel runs 8-lane vectors, measured on AVX-512 and AVX2 builds alike
    if v.size < lanes:
        return _F32(_row_sum(v))
    nv = v.size // lanes
    vec = _row_sum(v[:nv * lanes].reshape(nv, lanes))
    acc = _F32(0)
    for r in v[nv * lanes:]:
        acc = _F32(acc + r)
    for r in vec:
        acc = _F32(acc + r)
    return acc


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
    e = _sleef_expf((z - z.max()).astype(_F32))
    return (e * (_F32(1) / _reduce_all_sum(e, _simd_lanes()))).astype(_F32)


def conv_depthwise_fma(padded, kernel2d, out_hw):
    """Each channel of ``padded`` (``N,C,H+kh-1,W+kw-1`` float) correlated with ``kernel2d`` (``kh,kw``):
    float32 as oneDNN's depthwise kernel (a fused multiply-add chain, rows outer, from zero); other
    dtypes in their own precision."""
    xp = array_module(padded)
    (h, w), (kh, kw) = out_hw, kernel2d.shape
    out = xp.zeros(padded.shape[:-2] + (h, w), dtype=padded.dtype)
    fused = padded.dtype == np.float32
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
