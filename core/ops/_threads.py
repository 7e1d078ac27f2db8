"""Split heavy numpy passes (pooling, batch-norm arithmetic, im2col copies) across the cores that BLAS
uses. numpy releases the GIL inside its loops, so threads working on disjoint slices of the batch
run truly in parallel; PyTorch parallelizes these passes too, and on two cores this halves their time.

One thread count (``set_num_threads``) sizes this pool, and the pool also runs the GEMMs: large ones are
cut into one block per thread (``_gemm_pool``), each a single-threaded BLAS call. numpy's BLAS itself is
kept at one thread: its workers synchronize inside every GEMM and stall whenever the cores are shared
(other processes, data-loader workers, this pool). Measured on a loaded 2-core machine, a
(6 x 84k) @ (84k x 25) weight-gradient GEMM took 1 ms on one BLAS thread and 786 ms (median) on two, and
a 3x3 convolution forward+backward 0.7 s split by the pool against 6.4 s threaded by OpenBLAS. Should
something raise BLAS's count again (threadpoolctl), its idle workers at least sleep right after each
GEMM instead of spinning while this pool works (``_blas``).

Used only for CPU arrays: on the GPU the work is already parallel, and ``xp is not numpy`` runs inline.
"""

import os
import threading

import numpy as np

from . import _blas, _malloc

_MIN_ELEMS = 1 << 17  # below this many elements, handing work to a thread costs more than it saves
_pool = None
_pool_lock = threading.Lock()
_local = threading.local()


_override = [None]  # set by set_num_threads
_interop = [None]  # set by set_num_interop_threads


def _check_count(name, n):
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise RuntimeError(f"{name} expects a positive integer, got {n!r}")


def set_num_threads(n):
    """Use ``n`` threads for intra-op work, as ``torch.set_num_threads``: visionlite's pool runs the copies,
    pooling and normalization passes and the GEMMs of matmul, linear and conv (split into ``n`` blocks,
    each a single-threaded BLAS call; numpy's BLAS stays at one thread, see the module docstring), so
    the work never competes for more cores than asked for."""
    _check_count("set_num_threads", n)
    _override[0] = n
    _blas.set_blas_threads(1)


def get_num_threads():
    """The number of threads used for intra-op work (see ``set_num_threads``)."""
    return num_threads()


def set_num_interop_threads(n):
    """As ``torch.set_num_interop_threads``. visionlite runs ops one after another (no inter-op
    parallelism), so the value is only recorded and reported by ``get_num_interop_threads``."""
    _check_count("set_num_interop_threads", n)
    _interop[0] = n


def get_num_interop_threads():
    """The inter-op thread count (``set_num_interop_threads``; default: the usable CPUs, as PyTorch)."""
    return _interop[0] if _interop[0] is not None else _usable_cpus()


def _usable_cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_blas_default = [None]  # numpy's BLAS count when visionlite loaded (before it was set to one thread)


def num_threads():
    """Threads to use: set_num_threads, else VISIONLITE_NUM_THREADS, else the count numpy's BLAS had when
    visionlite loaded (OpenBLAS takes it from OPENBLAS/OMP_NUM_THREADS or the CPUs), else the usable
    CPUs."""
    if _override[0] is not None:
        return _override[0]
    value = os.environ.get("VISIONLITE_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)  # read on every call (tests split work 3 ways)
    if _blas_default[0] is not None:
        return _blas_default[0]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return _usable_cpus()


def _init_from_env():
    _malloc.keep_freed_memory()  # process-wide CPU settings, applied once when visionlite loads
    _blas.quiet_idle_workers()
    _blas_default[0] = _blas.get_blas_threads()
    _blas.set_blas_threads(1)  # the pool splits GEMMs instead (module docstring)
    value = os.environ.get("VISIONLITE_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        set_num_threads(int(value))


def _get_pool(n):
    from concurrent.futures import ThreadPoolExecutor  # here, so that `import visionlite` stays light

    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="visionlite-op")
        return _pool


def _reset_after_fork():
    # Threads do not survive a fork: a forked data-loader worker must build its own pool (and lock).
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

_init_from_env()


def _run_marked(fn, a, b):
    _local.inside = True
    try:
        return fn(a, b)
    finally:
        _local.inside = False


def split_map(fn, n, elems, xp=np):
    """``[fn(start, stop), ...]`` over ``[0, n)`` cut into one part per thread, run in parallel when the
    work (``elems`` array elements) is large enough; the parts' results in order."""
    if elems < _MIN_ELEMS or xp is not np:  # the cheap tests first: most calls of small ops end here
        return [fn(0, n)]
    k = min(num_threads(), n)
    if k <= 1 or getattr(_local, "inside", False):
        return [fn(0, n)]
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    pool = _get_pool(k - 1)
    futures = [pool.submit(_run_marked, fn, a, b) for a, b in bounds[1:]]
    first = _run_marked(fn, *bounds[0])  # this thread takes the first part
    return [first] + [f.result() for f in futures]
