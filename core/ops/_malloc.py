"""Keep freed array memory in the process instead of handing it back to the OS after every op.

Every op returns a new array, and numpy takes them from the C allocator. glibc's malloc serves arrays
above its mmap threshold (dynamic, 128 KB to start) with fresh ``mmap`` pages and gives memory at the
top of its heap back to the OS once more than a trim threshold is free. The next op's output then
lands on pages the kernel must fault in and zero again: measured on a LeNet training step (batch 256),
4,400 page faults and 10-12 ms of system time per 30 ms step; PyTorch pays the same (4,700 faults per
20 ms step), and Intel's PyTorch tuning guide swaps in jemalloc or tcmalloc for exactly this.

Here glibc itself is told to reuse the memory (``mallopt``): arrays up to 32 MB (glibc's largest mmap
threshold) come from the heap, and up to 256 MB of free memory at its top stays mapped for the next
arrays. Peak memory is unchanged (nothing is kept beyond what the process already used); memory a
process has used and freed stays counted in its RSS, up to that bound.

Left alone when the allocator is not glibc's, when the user configured it already (the
``MALLOC_*_`` variables or ``GLIBC_TUNABLES``), or when ``VISIONLITE_MALLOC_TUNING=0``.
"""

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for the mmap threshold on 64-bit systems
TRIM_THRESHOLD = 256 << 20
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_applied = [False]


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl and other C libraries: their allocators have no such knobs
    return libc


def keep_freed_memory():
    """Apply the settings above once per process. Returns True when they are in force."""
    if _applied[0]:
        return True
    if os.environ.get("VISIONLITE_MALLOC_TUNING", "1") == "0" or any(v in os.environ for v in _USER_SETTINGS):
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _applied[0] = ok
    return ok


def applied():
    """Whether ``keep_freed_memory`` is in force in this process."""
    return _applied[0]
