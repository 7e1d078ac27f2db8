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
_pool_lock = threading.Lock()  # guards the growth of the worker list
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


class _Worker:
    """One pool thread with a task slot: ``go`` is released to start a task, ``done`` once it has run.

    Two plain locks per hand-off instead of ``concurrent.futures`` (a Future, a work item, a queue and a
    condition per task): a no-op split with 0.3 ms between splits (as between a network's layers)
    measured 45-60 against 56-71 us (medians) on an idle 2-core VM whose idle cores sleep, and 22 against
    46 us while other processes kept the cores awake; the difference is less Python for the two threads
    to contend for the GIL on. What remains on the idle VM is waking the sleeping core."""

    def __init__(self, index):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.task = self.result = self.error = None
        threading.Thread(target=self._loop, name=f"visionlite-op-{index}", daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, a, b = self.task
            self.task = None
            try:
                self.result, self.error = _run_marked(fn, a, b), None
            except BaseException as e:  # handed to the caller, raised there
                self.result, self.error = None, e
            self.done.release()

    def start(self, fn, a, b):
        self.task = (fn, a, b)
        self.go.release()

    def join(self):
        """The task's result (its exception raised here). Waits for the task even if interrupted, so that
        the worker is idle again when the pool is next used; the interruption is raised after."""
        interrupted = None
        while True:
            try:
                self.done.acquire()
                break
            except BaseException as e:  # KeyboardInterrupt while waiting: the part finishes first
                interrupted = e
        if interrupted is not None:
            raise interrupted
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        result, self.result = self.result, None
        return result


_workers = []
_busy = threading.Lock()  # held by the caller whose parts the workers are running


def run_parts(fn, bounds):
    """``[fn(a, b) for (a, b) in bounds]``, the first part on this thread and the others on the pool's
    workers at the same time; all run inline when another thread is using the pool or this call comes
    from inside a part."""
    if len(bounds) <= 1 or getattr(_local, "inside", False) or not _busy.acquire(blocking=False):
        return [fn(a, b) for a, b in bounds]
    try:
        with _pool_lock:
            while len(_workers) < len(bounds) - 1:
                _workers.append(_Worker(len(_workers)))
        workers = _workers[: len(bounds) - 1]
        for w, (a, b) in zip(workers, bounds[1:]):
            w.start(fn, a, b)
        try:
            first = _run_marked(fn, *bounds[0])
        finally:
            rest = []
            error = None
            for w in workers:  # every worker is joined, even when a part failed
                try:
                    rest.append(w.join())
                except BaseException as e:
                    error = error or e
        if error is not None:
            raise error
        return [first] + rest
    finally:
        _busy.release()


def _reset_after_fork():
    # Threads do not survive a fork: a forked data-loader worker must start its own (and new locks).
    global _workers, _busy, _pool_lock
    _workers, _busy, _pool_lock = [], threading.Lock(), threading.Lock()


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
    return run_parts(fn, [(i * n // k, (i + 1) * n // k) for i in range(k)])
