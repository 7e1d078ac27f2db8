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

Besides, for the GEMM paths: ``gemm`` calls cblas in place on strided views, and ``small_gemm_step`` says
where a product is better cut into pieces that OpenBLAS's small-matrix kernels take.
"""

import ctypes
import os

import numpy as _np

_FLOAT32 = _np.dtype(_np.float32)
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


def blas_corename():
    """The kernel set numpy's OpenBLAS runs (``"Haswell"``, ``"SkylakeX"``, ...; OpenBLAS picks it from the
    CPU, or ``OPENBLAS_CORETYPE`` forces it), or None when numpy uses another BLAS."""
    lib = openblas()
    fn = None if lib is None else _symbol(lib, "get_corename")
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()


# OpenBLAS (0.3.16 on) runs a float32 product of at most 100**3 multiply-adds through "small matrix"
# kernels on its SkylakeX family of kernel sets: no packing of the operands, straight from the caller's
# arrays. For skinny products (few output rows, as in LeNet's 6- and 16-channel convolutions or a
# 32-channel 1x1 layer) those run 1.1-2x faster than the packed path on the same product, so cutting such
# a product into pieces under the limit pays (measured on Zen 4, one thread: (6x25)@(25x20976) 45 -> 88
# GFLOP/s, (16x150)@(150x3496) 77 -> 98, (32x144)@(144x784) 89 -> 101). Only plain-by-plain products are
# cut: with a transposed operand the small kernels measured slower than the packed path as soon as two
# threads ran them at once (a (25xN)@(Nx6) weight gradient: 2.2 -> 2.5 ms per LeNet layer). Pieces
# narrower than _MIN_SMALL_STEP gained nothing (64x147 at 96 columns: 100 -> 101) and cost calls.
_SMALL_MACS = 100**3
_SMALL_CORES = frozenset({"SkylakeX", "CooperLake", "SapphireRapids"})
_MIN_SMALL_STEP = 192
_small = [None]  # [bool], looked up once


def _small_kernels():
    if _small[0] is None:
        _small[0] = blas_corename() in _SMALL_CORES
    return _small[0]


def small_gemm_step(m, n, k, dtype, along):
    """Cut for a row-major product ``(m x k) @ (k x n)`` of two plain (not transposed) operands along
    ``along`` (``"m"`` or ``"n"``): the piece size, a multiple of 16, at which every piece runs in
    OpenBLAS's small-matrix kernel (see above); 0 when the product should be one call (it is small
    already, pieces would be too narrow, or the kernel is absent)."""
    if not _small_kernels() or dtype != _FLOAT32:
        return 0
    extent = m if along == "m" else n
    limit = _SMALL_MACS * extent // max(m * n * k, 1) // 16 * 16
    if limit < _MIN_SMALL_STEP or extent <= limit:
        return 0
    pieces = -(-extent // limit)
    return -(-extent // pieces) + 15 & ~15


_GEMM_NAMES = {"float32": "sgemm", "float64": "dgemm"}
_gemm_funcs = {}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _gemm_function(dtype):
    """ctypes ``cblas_?gemm`` of numpy's OpenBLAS for ``dtype`` (float32/float64), or None."""
    import numpy as np

    try:
        name = _GEMM_NAMES.get(np.dtype(dtype).name)
    except TypeError:
        return None
    if name is None:
        return None
    if name not in _gemm_funcs:
        lib, fn, idx = openblas(), None, ctypes.c_int32
        for sym, width in ((f"scipy_cblas_{name}64_", ctypes.c_int64), (f"cblas_{name}64_", ctypes.c_int64),
                           (f"cblas_{name}", ctypes.c_int32)):
            fn = None if lib is None else getattr(lib, sym, None)
            if fn is not None:
                idx = width
                break
        if fn is not None:
            real = ctypes.c_float if name == "sgemm" else ctypes.c_double
            ptr = ctypes.c_void_p
            fn.argtypes = [ctypes.c_int] * 3 + [idx] * 3 + [real, ptr, idx, ptr, idx, real, ptr, idx]
            fn.restype = None
        _gemm_funcs[name] = fn
    return _gemm_funcs[name]


def has_gemm(dtype):
    """Whether ``gemm`` can run for arrays of ``dtype`` (numpy's BLAS reachable, float32/float64)."""
    return _gemm_function(dtype) is not None


def _operand(v, size):
    """(transpose flag, leading dimension) of a 2-D view for row-major cblas, or None if not BLAS-able."""
    r, c = v.shape
    s0, s1 = v.strides
    if (s1 == size or c == 1) and s0 % size == 0 and s0 // size >= max(c, 1):
        return _NO_TRANS, s0 // size
    if (s0 == size or r == 1) and s1 % size == 0 and s1 // size >= max(r, 1):
        return _TRANS, s1 // size
    return None


def gemm(a, b, out, beta=0.0):
    """``out = a @ b + beta * out`` in place by numpy's BLAS, on 2-D CPU views that need not be
    contiguous: each operand may be a row- or column-major window of a bigger array (shifted or sliced
    columns, a transpose), which ``numpy.matmul`` would copy first. ``out`` must be row-major. All three
    share a dtype with ``has_gemm``. Runs on the calling thread (BLAS's own threads as configured)."""
    size = out.itemsize
    (m, n), k = out.shape, a.shape[1]
    if m == 0 or n == 0:
        return out
    if k == 0:
        out *= beta
        return out
    fa, fb = _operand(a, size), _operand(b, size)
    if fa is None or fb is None or out.strides[1] != size and n > 1 or out.strides[0] % size:
        raise ValueError("gemm: operands must be row- or column-major 2-D views")
    ldc = max(out.strides[0] // size, n)
    _gemm_function(out.dtype)(_ROW_MAJOR, fa[0], fb[0], m, n, k, 1.0, a.ctypes.data, fa[1], b.ctypes.data,
                              fb[1], beta, out.ctypes.data, ldc)
    return out


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
