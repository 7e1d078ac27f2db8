"""Switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each is a context manager and a decorator (with or without parentheses); decorated generator functions
run every step under the mode, as in PyTorch. The mode belongs to the thread that sets it (as in
PyTorch): a ``no_grad`` block in one thread leaves recording on in the others, and a new thread
starts with recording on.

Everything else in visionlite reads the mode through ``is_grad_enabled()`` and changes it only
through ``_set_enabled`` / ``_set_inference`` (each returns the previous value for restoring). The
flags live in context variables, so an asyncio task's ``no_grad`` stays in that task too.
"""

import functools
import inspect
from contextvars import ContextVar, Token

# Context variables, not module globals: each thread (and each asyncio task) has its own value, and a
# new thread starts from the defaults. Reading one costs about as much as a list lookup (a
# threading.local attribute costs three to four times more), which matters since every op reads it.
_enabled = ContextVar("visionlite_grad_enabled", default=True)
_inference = ContextVar("visionlite_inference_mode", default=False)

# ``is_grad_enabled()``: True when operations in this thread record a graph. It is the context
# variable's own getter, since a Python wrapper would double the cost of every op's check.
is_grad_enabled = _enabled.get


def is_inference_mode_enabled():
    """True inside an active ``inference_mode`` block of this thread."""
    return _inference.get()


def _set_enabled(mode):
    """Set this thread's recording flag; returns the previous one."""
    prev = _enabled.get()
    _enabled.set(mode)
    return prev


def _set_inference(mode):
    """Set this thread's inference-mode flag; returns the previous one."""
    prev = _inference.get()
    _inference.set(mode)
    return prev


def _restore(var, token, default):
    """Undo the ``var.set`` that gave ``token`` (a block entered in one context and left in another, which
    ``reset`` refuses, gets the value from before the block)."""
    try:
        var.reset(token)
    except ValueError:
        var.set(default if token.old_value is Token.MISSING else token.old_value)


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
        self._token = _enabled.set(self.mode)  # set + reset by token: half the cost of get/set/set

    def __exit__(self, *exc):
        _restore(_enabled, self._token, True)
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
        if self.active:
            self._tokens = (_enabled.set(False), _inference.set(True))
        else:
            self._tokens = None
            self._prev, self._prev_inference = _enabled.get(), _inference.get()

    def __exit__(self, *exc):
        if self._tokens is not None:
            _restore(_inference, self._tokens[1], False)
            _restore(_enabled, self._tokens[0], True)
        else:
            _set_enabled(self._prev)
            _set_inference(self._prev_inference)
        return False

    def clone(self):
        return inference_mode(self.active)


class set_grad_enabled(_GradMode):
    """Set recording on or off; takes effect at once, as in PyTorch, and also works as a context manager."""

    _takes_function = False

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _set_enabled(self.mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, fn):
        _set_enabled(self._prev)
        return _decorate(self.clone, fn)

    def clone(self):
        return _Switch(self.mode)


class _Switch(_GradMode):
    """A plain context manager setting the mode (what a ``set_grad_enabled`` decorator runs under)."""

    _takes_function = False

    def __init__(self, mode):
        self.mode = mode
