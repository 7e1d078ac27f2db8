"""Switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``."""

import functools

# A one-element list so hot paths read it without a function call.
_enabled = [True]


def is_grad_enabled():
    return _enabled[0]


class _GradMode:
    """Context manager and decorator that sets gradient recording, restoring the old state on exit."""

    mode = True

    def __enter__(self):
        self._prev = _enabled[0]
        _enabled[0] = self.mode

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside record no graph: ``with visionlite.no_grad(): ...`` or ``@visionlite.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """Like ``no_grad``; ``inference_mode(False)`` leaves recording as it is."""

    def __init__(self, mode=True):
        self.mode = not mode
        self._noop = not mode

    def __enter__(self):
        self._prev = _enabled[0]
        if not self._noop:
            _enabled[0] = False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self._noop):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    """Set recording on or off; takes effect at once, as in PyTorch, and also works as a context manager."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _enabled[0]
        _enabled[0] = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _enabled[0] = self._prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper
