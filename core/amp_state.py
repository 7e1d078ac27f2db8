"""Autocast state, as PyTorch keeps it: per thread, per device type (``"cpu"``, ``"cuda"``), whether
autocast is on and to which dtype, plus the cache of weights already cast in the current region.

Ops that autocast acts on are decorated with ``autocast_op(name)``; while no thread has autocast on, the
decorated op costs one list read more than the plain function (``ACTIVE[0]``). When it is on, the call goes
to ``visionlite.amp``'s policy tables (loaded then), which cast the inputs and run the op with autocast
suspended, so the op's own inner calls are not cast again (PyTorch's autocast kernels run the op below
the autocast dispatch key in the same way).
"""
import functools
import threading

__all__ = ["is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
           "is_autocast_cache_enabled", "set_autocast_cache_enabled", "clear_autocast_cache",
           "is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype",
           "autocast_increment_nesting", "autocast_decrement_nesting"]

DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


class _ThreadState(threading.local):
    def __init__(self):
        self.enabled = {}  # device type -> bool
        self.dtype = {}  # device type -> visionlite dtype
        self.cache_enabled = True
        self.nesting = 0
        self.suspended = 0  # > 0 while an autocast op runs its body
        self.cache = {}  # id(weight) -> (weight, version, cast copy)


STATE = _ThreadState()
# The one flag ops read: how many (thread, device type) pairs have autocast on. Zero in ordinary code.
ACTIVE = [0]
_lock = threading.Lock()


def _check_device_type(device_type):
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(f"autocast: unsupported device_type {device_type!r}; visionlite supports "
                           f"{', '.join(map(repr, DEVICE_TYPES))}")


def is_autocast_enabled(device_type=None):
    """Whether autocast is on in this thread for ``device_type`` (``"cuda"`` when omitted, as PyTorch)."""
    device_type = "cuda" if device_type is None else device_type
    _check_device_type(device_type)
    return STATE.enabled.get(device_type, False)


def set_autocast_enabled(device_type, enabled=None):
    """Switch autocast on or off for ``device_type`` in this thread (``set_autocast_enabled(flag)`` means
    ``"cuda"``, as PyTorch's legacy form)."""
    if enabled is None and isinstance(device_type, bool):
        device_type, enabled = "cuda", device_type
    _check_device_type(device_type)
    enabled = bool(enabled)
    was = STATE.enabled.get(device_type, False)
    if was != enabled:
        with _lock:
            ACTIVE[0] += 1 if enabled else -1
    STATE.enabled[device_type] = enabled


def get_autocast_dtype(device_type):
    """The dtype autocast casts to on ``device_type`` in this thread (bfloat16 on cpu, float16 on cuda by
    default)."""
    _check_device_type(device_type)
    dtype = STATE.dtype.get(device_type)
    if dtype is None:
        from . import dtypes

        dtype = getattr(dtypes, _DEFAULT_DTYPE[device_type])
    return dtype


def set_autocast_dtype(device_type, dtype):
    """Sets the dtype autocast casts to on ``device_type`` (``'cpu'`` or ``'cuda'``)."""
    _check_device_type(device_type)
    STATE.dtype[device_type] = dtype


def is_autocast_cpu_enabled():
    """True inside a CPU autocast region (``is_autocast_enabled('cpu')``)."""
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    """The CPU autocast dtype (``get_autocast_dtype('cpu')``, bfloat16 by default)."""
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    """The CUDA autocast dtype (``get_autocast_dtype('cuda')``, float16 by default)."""
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled():
    """True when autocast caches the casted weights within a region (the default)."""
    return STATE.cache_enabled


def set_autocast_cache_enabled(enabled):
    """Turns autocast's cache of casted weights on or off."""
    STATE.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Forget the cast copies of weights kept in the current autocast region."""
    STATE.cache.clear()


def autocast_increment_nesting():
    STATE.nesting += 1
    return STATE.nesting


def autocast_decrement_nesting():
    STATE.nesting -= 1
    return STATE.nesting


def autocast_op(name):
    """Decorate an op that autocast acts on; ``name`` is PyTorch's op name in its autocast lists (e.g.
    ``"linear"``, ``"mse_loss"``, ``"cat"``)."""

    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if ACTIVE[0]:
                return dispatch(name, fn, args, kwargs)
            return fn(*args, **kwargs)

        op.autocast_name = name
        return op

    return decorate


def dispatch(name, fn, args, kwargs):
    """Run op ``fn`` (autocast name ``name``) under this thread's autocast state; ops that check ``ACTIVE``
    inline call this when it is set."""
    state = STATE
    if state.suspended or not any(state.enabled.values()):
        return fn(*args, **kwargs)
    from .amp._policy import autocast_call

    return autocast_call(name, fn, args, kwargs, state)
