"""numpy's BLAS threads, driven through the BLAS library's own C API so that ``set_num_threads`` governs
them together with visionlite's op pool (``_threads``).

Two things are done here:

* Thread count: ``openblas_set_num_threads`` / ``openblas_get_num_threads`` of the OpenBLAS that numpy
  loaded (found in ``/proc/self/maps``, called through ctypes; symbol names differ between numpy's bundled
  ``scipy_openblas64_`` and a system OpenBLAS). Where numpy uses another BLAS (MKL, Accelerate), the
  optional ``threadpoolctl`` package is used if installed; otherwise the BLAS keeps its own count.
* Idle workers: after every GEMM, OpenBLAS's workers spin for about 2**28 cycles (~0.1 s) waiting for
  the next call. Meanwhile visionlite's pool runs copies and elementwise passes on the same cores, and the
  spinning halves their speed (identical runs become bimodal). ``OPENBLAS_THREAD_TIMEOUT`` shortens the
  spin, but OpenBLAS reads it when it loads, usually before visionlite is imported. ``quiet_idle_workers``
  sets it for the library after the fact: it re-reads the environment (``openblas_read_env``) and stops
  the worker threads (``blas_thread_shutdown_``); the next GEMM starts them again with the short timeout.
  A value the user chose (the environment variable) is left alone.
"""

import ctypes
import os

_IDLE_TIMEOUT = "4"  # log2 of the spin: 2**4 polls, then the worker sleeps until the next GEMM
_lib = [False]  # [ctypes.CDLL | None], False until looked up
_funcs = {}


def _find_openblas():
    """The OpenBLAS library loaded in this process, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        paths = set()
    if not paths:  # not Linux: numpy's wheel keeps its OpenBLAS next to the package
        import glob

        import numpy as np

        root = os.path.dirname(os.path.dirname(np.__file__))
        paths = set(glob.glob(os.path.join(root, "numpy.libs", "*openblas*"))) | set(
            glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*")))
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = _symbol(lib, "set_num_threads")
        getter = _symbol(lib, "get_num_threads")
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
            _funcs.update(set=setter, get=getter)
            return lib
    return None


def _symbol(lib, what):
    for name in (f"scipy_openblas_{what}64_", f"openblas_{what}64_", f"openblas_{what}"):
        fn = getattr(lib, name, None)
        if fn is not None:
            return fn
    return None


def openblas():
    """ctypes handle of numpy's OpenBLAS, or None when numpy uses another BLAS."""
    if _lib[0] is False:
        _lib[0] = _find_openblas()
    return _lib[0]


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def set_blas_threads(n):
    """Have numpy's BLAS use ``n`` threads; False when no BLAS API was reachable."""
    if openblas() is not None:
        _funcs["set"](int(n))
        return True
    tpc = _threadpoolctl()
    if tpc is None:
        return False
    tpc.threadpool_limits(limits=int(n), user_api="blas")
    return True


def get_blas_threads():
    """numpy's BLAS thread count, or None when it cannot be read."""
    if openblas() is not None:
        return int(_funcs["get"]())
    tpc = _threadpoolctl()
    if tpc is None:
        return None
    counts = [info["num_threads"] for info in tpc.threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


def quiet_idle_workers():
    """Make OpenBLAS's idle workers sleep right after each GEMM (see the module docstring). Returns True
    when the short timeout is in force (set here or earlier), False when not applicable."""
    lib = openblas()
    if lib is None or not hasattr(lib, "openblas_read_env") or not hasattr(lib, "blas_thread_shutdown_"):
        return False
    timeout = getattr(lib, "openblas_thread_timeout", None)
    if timeout is not None and timeout() > 0:
        return True  # set by the user before numpy loaded (or by an earlier call): respected
    user_value = "OPENBLAS_THREAD_TIMEOUT" in os.environ  # set after numpy loaded: applied now, as given
    if not user_value:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = _IDLE_TIMEOUT
    try:
        lib.openblas_read_env()
    finally:
        if not user_value:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]  # nothing leaks into the user's child processes
    lib.blas_thread_shutdown_()  # the next GEMM restarts the workers with the short timeout
    return True
