"""Float32 arithmetic of PyTorch's CPU kernels, reproduced on numpy arrays where TorchVision's results
depend on it: fused multiply-adds, SLEEF's ``expf``, ATen's summation orders (``torch.sum``,
``at::vec::reduce_all``) and ``torch.mean``.

A fused multiply-add of float32 values is computed in float64 and rounded once: the product is exact
in float64 and the sum is rounded twice only on an exact tie, which is negligibly rare.
"""
import os

import numpy as np

_F32 = np.float32
_F64 = np.float64


def fma32(a, b, c):
    """``a * b + c`` rounded once to float32 (the product is exact in float64; a double rounding of the
    sum can only happen on an exact tie, which is negligibly rare)."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def simd_lanes():
    """float32 lanes of PyTorch's vector kernels here: 16 where it runs AVX-512 code, else 8. PyTorch picks
    AVX-512 on CPUs with AVX-512 F/BW/VL/DQ unless ``ATEN_CPU_CAPABILITY`` asks for less; so does this."""
    forced = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    if forced in ("default", "avx2", "sve256", "zvector"):
        return 8
    try:
        feats = np._core._multiarray_umath.__cpu_features__
    except AttributeError:  # numpy < 2
        feats = np.core._multiarray_umath.__cpu_features__
    return 16 if all(feats.get(f, False) for f in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")) else 8


def sleef_expf(d):
    """SLEEF's ``expf`` (1-ulp variant, fused multiply-adds), which PyTorch's vectorised softmax uses."""
    d = np.asarray(d, _F32)
    q = np.rint((d * _F32(1.442695040888963407359924681001892137426645954152985934135449406931)).astype(_F32))
    s = fma32(q, _F32(-0.693145751953125), d)
    s = fma32(q, _F32(-1.428606765330187045e-06), s)
    u = _F32(0.000198527617612853646278381)
    for c in (0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156,
              0.166666671633720397949219, 0.5):
        u = fma32(u, s, _F32(c))
    u = (_F32(1) + fma32((s * s).astype(_F32), u, s)).astype(_F32)
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


def reduce_all_sum(e, lanes):
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


def torch_sum_rows_f32(x, threads=None):
    """``torch.sum`` over the last axis of a C-contiguous float32 array ``x`` (``rows, n``), one value per
    row. A single row longer than ATen's grain (32768) is split over ``threads`` as ``parallel_for``
    splits it (default: visionlite's thread count, the analogue of ``torch.get_num_threads()``), each
    part summed alone and the parts then summed: the result depends on that count, as PyTorch's does."""
    from visionlite.core.ops._threads import num_threads

    x = np.asarray(x, _F32)
    rows, n = x.shape
    threads = num_threads() if threads is None else threads
    if rows == 1 and n >= _GRAIN and threads > 1:
        chunks = min(threads, -(-n // _GRAIN))
        step = -(-n // chunks)
        parts = np.zeros(threads, _F32)
        for t in range(chunks):
            parts[t] = torch_sum_f32(x[0, t * step:(t + 1) * step])
        return np.array([torch_sum_f32(parts)], _F32)
    return np.array([torch_sum_f32(r) for r in x], _F32)


_GRAIN = 32768


def torch_mean_f32(x, axes=3):
    """``torch.mean(x, dim=(-axes..-1), keepdim=True)`` for float32 ``x``: ATen's sum, then divided by
    the count in float32."""
    lead = x.shape[:-axes]
    n = int(np.prod(x.shape[-axes:]))
    flat = np.ascontiguousarray(x).reshape(-1, n)
    mean = (torch_sum_rows_f32(flat) / _F32(n)).astype(_F32)
    return mean.reshape(lead + (1,) * axes)
