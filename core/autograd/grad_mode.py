"""Switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each is a context manager and a decorator (with or without parentheses); decorated generator functions
run every step under the mode, as in PyTorch. The mode is process-wide.
"""

import functools
import inspect

# A one-element list so hot paths read it without a function call.
_enabled = [True]
_inference = [False]


def is_grad_enabled():
    return _enabled[0]


def is_inference_mode_enabled():
    return _inference[0]


def _decorate(make_mode, fn):
    """Wrap ``fn`` so that it (each step of it, for a generator function) runs inside ``make_mode()``."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            with make_mode():
                value = next(gen)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:
                    with make_mode():
                        value = gen.throw(exc)
                else:
                    try:
                        with make_mode():
                            value = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_mode():
            return fn(*args, **kwargs)

    return wrapper


class _GradMode:
    """Sets gradient recording on entry and restores it on exit."""

    mode = True

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` without parentheses: the class is called with the function itself.
        if len(args) == 1 and not kwargs and callable(args[0]) and cls._takes_function:
            return _decorate(cls, args[0])
        return super().__new__(cls)

    _takes_function = True

    def __enter__(self):
        self._prev = _enabled[0]
        _enabled[0] = self.mode

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False

    def __call__(self, fn):
        return _decorate(self.clone, fn)

    def clone(self):
        return self.__class__()


class no_grad(_GradMode):
    """Operations inside record no graph: ``with visionlite.no_grad(): ...`` or ``@visionlite.no_grad``."""

    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """Like ``no_grad``; ``inference_mode(False)`` leaves recording as it is."""

    def __init__(self, mode=True):
        self.active = bool(mode)
        self.mode = not mode

    def __enter__(self):
        self._prev = _enabled[0]
        self._prev_inference = _inference[0]
        if self.active:
            _enabled[0] = False
            _inference[0] = True

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        _inference[0] = self._prev_inference
        return False

    def clone(self):
        return inference_mode(self.active)


class set_grad_enabled(_GradMode):
    """Set recording on or off; takes effect at once, as in PyTorch, and also works as a context manager."""

    _takes_function = False

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _enabled[0]
        _enabled[0] = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _enabled[0] = self._prev
        return _decorate(self.clone, fn)

    def clone(self):
        return _Switch(self.mode)


class _Switch(_GradMode):
    """A plain context manager setting the mode (what a ``set_grad_enabled`` decorator runs under)."""

    _takes_function = False

    def __init__(self, mode):
        self.mode = mode
