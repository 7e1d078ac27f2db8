"""Large GEMMs split across visionlite's op pool, each part a single-threaded BLAS call.

Why not let OpenBLAS thread the GEMM itself: its workers synchronize several times inside one GEMM
(packing, then every block of the kernel). When the machine has more runnable threads than cores (other
processes, a data loader, the op pool's own copies), each barrier waits for a descheduled thread, and a
2-thread GEMM was measured slower than a 1-thread one (loaded 2-core machine: 168 ms against 140 ms for a
64x576 @ 576x53824 product). Cutting the output into one independent block per thread leaves a single
join at the end, so a late thread delays only its own share.

``matmul(a, b, out=None)`` is ``numpy.matmul`` for CPU arrays (batch dims broadcast as numpy does). Above
``_MIN_MACS`` multiply-adds and with ``num_threads() > 1`` it splits the output columns (or rows, when
there are fewer columns than rows) into one block per thread and runs the blocks on the op pool, numpy's
BLAS at one thread (visionlite keeps it there, ``_threads``; should threadpoolctl have raised it, it is
lowered for the call and restored after); otherwise, on cupy arrays, or inside a pool thread it is one
plain call. Every block, or the plain call, goes through ``matmul_here``, which cuts skinny float32
products into pieces for OpenBLAS's small-matrix kernels (``_blas.small_gemm_step``); ``accumulate_here``
is the in-place ``out += a @ b`` of the chunked convolution paths.
"""

import threading

import numpy as np

from . import _blas, _threads

# Below ~8M multiply-adds (~0.15 ms on one core) one plain call: handing half to the pool thread and
# waiting for it costs 50-100 us on a VM whose idle cores sleep. MobileNetV2 batch 1 (1x1 layers of 5-20M
# multiply-adds), in-process A/B: 4M 19.6 ms, 8M 18.5, 12M 18.9; ResNets at batch 1 and 16 unchanged.
_MIN_MACS = 1 << 23
_MIN_BLOCK = 64  # no block narrower than this many rows/columns (BLAS kernels work in tiles of 4-16)
_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex64), np.dtype(np.complex128))
_FLOAT32 = np.dtype(np.float32)
_blas_lock = threading.Lock()  # one splitter at a time owns the BLAS thread setting


def _blas_threads():
    n = _blas.get_blas_threads()
    return n if n is not None else 0


def matmul(a, b, out=None):
    """``numpy.matmul(a, b, out=out)``, split across threads when large (see the module docstring)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 or b.ndim < 2 \
            or a.dtype != b.dtype or a.dtype not in _BLAS_DTYPES:  # BLAS types only, no promotion
        return _plain(a, b, out)
    m, kk, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if a.size * b.size < _MIN_MACS * max(kk, 1):  # an upper bound on the work, without broadcasting
        return _plain(a, b, out)
    k = _threads.num_threads()
    batch = 1
    for d in np.broadcast_shapes(a.shape[:-2], b.shape[:-2]):
        batch *= d
    if k <= 1 or batch * m * kk * n < _MIN_MACS or getattr(_threads._local, "inside", False):
        return _plain(a, b, out)
    along_cols = n >= m
    extent = n if along_cols else m
    k = min(k, extent // _MIN_BLOCK)
    if k <= 1 or not _blas_lock.acquire(blocking=False):  # another thread is splitting: run plainly
        return _plain(a, b, out)
    try:
        if out is None:
            shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (m, n)
            out = np.empty(shape, dtype=a.dtype)
        before = _blas_threads()
        if before != 1:
            _blas.set_blas_threads(1)
        try:
            if along_cols:
                def part(s, e):
                    matmul_here(a, b[..., s:e], out[..., s:e])
            else:
                def part(s, e):
                    matmul_here(a[..., s:e, :], b, out[..., s:e, :])
            _split(part, extent, k)
        finally:
            if before > 1:
                _blas.set_blas_threads(before)
        return out
    finally:
        _blas_lock.release()


def _plain(a, b, out):
    if type(a) is np.ndarray and type(b) is np.ndarray:
        if out is None and a.ndim >= 2 and b.ndim >= 2 and a.dtype == b.dtype == _FLOAT32:
            out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]),
                           dtype=a.dtype)
        return matmul_here(a, b, out) if out is not None else np.matmul(a, b)
    from ..backend import array_module  # a cupy pair: one call, out filled by assignment

    result = array_module(a).matmul(a, b)
    if out is None:
        return result
    out[...] = result
    return out


def matmul_here(a, b, out):
    """``numpy.matmul(a, b, out=out)`` on the calling thread; a float32 product of plain operands as
    pieces that OpenBLAS's small-matrix kernel takes where that is faster (``_blas.small_gemm_step``)."""
    if (a.ndim >= 2 and b.ndim >= 2 and a.dtype == b.dtype == out.dtype
            and a.strides[-1] == a.itemsize and b.strides[-1] == b.itemsize):  # not transposed views
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        step = _blas.small_gemm_step(m, n, k, a.dtype, "n")
        if step:
            for s in range(0, n, step):
                np.matmul(a, b[..., s:s + step], out=out[..., s:s + step])
            return out
        step = _blas.small_gemm_step(m, n, k, a.dtype, "m")
        if step:
            for s in range(0, m, step):
                np.matmul(a[..., s:s + step, :], b, out=out[..., s:s + step, :])
            return out
    return np.matmul(a, b, out=out)


def accumulate_here(a, b, out):
    """``out += a @ b`` on the calling thread for 2-D operands (a weight gradient summed over chunks): in
    place by BLAS where numpy's BLAS is reachable, else a product and an add."""
    if _blas.has_gemm(out.dtype):
        return _blas.gemm(a, b, out, 1.0)
    out += a @ b
    return out


def _split(part, extent, k):
    # blocks rounded to multiples of 16 so that every block but the last keeps whole BLAS tiles
    bounds = [0] + [min(extent, (i * extent // k + 15) // 16 * 16) for i in range(1, k)] + [extent]
    _threads.run_parts(part, list(zip(bounds[:-1], bounds[1:])))
