"""Process-wide switches PyTorch scripts set at the top: deterministic algorithms and float32 matmul
precision, with PyTorch's names, argument checks and read-back.

visionlite's CPU kernels are deterministic and it has no TF32 path, so the switches change no result:
they are stored so that scripts which set and then assert them run unchanged.
"""

__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_float32_matmul_precision", "get_float32_matmul_precision"]

_deterministic = False
_warn_only = False
_DEBUG_MODES = ("default", "warn", "error")
_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (``mode``: bool); ``warn_only`` makes nondeterministic ops warn
    instead of raise. visionlite's ops are all deterministic, so this only records the request."""
    global _deterministic, _warn_only
    if not isinstance(mode, bool):
        raise TypeError("use_deterministic_algorithms(): argument 'mode' must be bool, "
                        f"not {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError("use_deterministic_algorithms(): argument 'warn_only' must be bool, "
                        f"not {type(warn_only).__name__}")
    _deterministic, _warn_only = mode, warn_only


def are_deterministic_algorithms_enabled():
    """True after ``use_deterministic_algorithms(True)``."""
    return _deterministic


def is_deterministic_algorithms_warn_only_enabled():
    """True after ``use_deterministic_algorithms(True, warn_only=True)``."""
    return _warn_only


def set_deterministic_debug_mode(debug_mode):
    """``"default"``/0 (off), ``"warn"``/1 (on, warn only) or ``"error"``/2 (on)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    """0, 1 or 2, as ``set_deterministic_debug_mode`` takes them."""
    if not _deterministic:
        return 0
    return 1 if _warn_only else 2


def set_float32_matmul_precision(precision):
    """``"highest"``, ``"high"`` or ``"medium"``; visionlite always computes float32 matmuls in float32."""
    global _matmul_precision
    if precision not in _PRECISIONS:
        raise RuntimeError(f"set_float32_matmul_precision: expected one of {_PRECISIONS}, got {precision!r}")
    _matmul_precision = precision


def get_float32_matmul_precision():
    """The setting last given to ``set_float32_matmul_precision`` (``'highest'`` by default)."""
    return _matmul_precision
