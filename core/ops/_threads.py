"""Split heavy numpy passes (pooling, batch-norm arithmetic, im2col copies) across the cores that BLAS
uses. numpy releases the GIL inside its loops, so threads working on disjoint slices of the batch
run truly in parallel; PyTorch parallelizes these passes too, and on two cores this halves their time.

Used only for CPU arrays: on the GPU the work is already parallel, and ``xp is not numpy`` runs inline.
"""

import os
import threading

import numpy as np

_MIN_ELEMS = 1 << 17  # below this many elements, handing work to a thread costs more than it saves
_pool = None
_pool_lock = threading.Lock()
_local = threading.local()


_override = [None]  # set by set_num_threads


def set_num_threads(n):
    """Use ``n`` threads for visionlite's own parallel passes (this module's pool), as
    ``torch.set_num_threads``. numpy's BLAS (matmul, conv) keeps its own thread count, which is fixed at
    start-up by OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS in the environment."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    _override[0] = n


def get_num_threads():
    """The number of threads visionlite's parallel passes use (see ``set_num_threads``)."""
    return num_threads()


def num_threads():
    """Threads to use: set_num_threads, else numpy's BLAS setting (OPENBLAS/OMP/MKL_NUM_THREADS), else
    the usable CPUs."""
    if _override[0] is not None:
        return _override[0]
    for var in ("VISIONLITE_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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


def _run_marked(fn, a, b):
    _local.inside = True
    try:
        return fn(a, b)
    finally:
        _local.inside = False


def split_map(fn, n, elems, xp=np):
    """``[fn(start, stop), ...]`` over ``[0, n)`` cut into one part per thread, run in parallel when the
    work (``elems`` array elements) is large enough; the parts' results in order."""
    k = min(num_threads(), n)
    if xp is not np or k <= 1 or elems < _MIN_ELEMS or getattr(_local, "inside", False):
        return [fn(0, n)]
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    pool = _get_pool(k - 1)
    futures = [pool.submit(_run_marked, fn, a, b) for a, b in bounds[1:]]
    first = _run_marked(fn, *bounds[0])  # this thread takes the first part
    return [first] + [f.result() for f in futures]
