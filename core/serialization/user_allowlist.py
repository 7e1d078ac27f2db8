"""The user's allowlist for weights-only loading, as ``torch.serialization.add_safe_globals``.

A checkpoint that pickles more than tensors (an ``argparse.Namespace`` of training arguments, a small
config class) names those classes; ``visionlite.load`` refuses any name it does not know. Classes and
functions added here are trusted: a weights-only load may then build them (create the object, restore
its state, call the function), and nothing else.
"""
import contextlib
import threading

__all__ = ["add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

_lock = threading.Lock()
_entries = []  # callables, or (callable, "module.name") pairs


def _check(entry):
    if isinstance(entry, tuple):
        if len(entry) != 2 or not callable(entry[0]) or not isinstance(entry[1], str) or "." not in entry[1]:
            raise TypeError("add_safe_globals: a tuple entry must be (callable, 'module.name'), "
                            f"got {entry!r}")
    elif not callable(entry):
        raise TypeError(f"add_safe_globals: expected classes or functions (or (obj, 'module.name') pairs), "
                        f"got {entry!r}")
    return entry


def add_safe_globals(safe_globals):
    """Allow the classes/functions in ``safe_globals`` (a list; ``(obj, "module.name")`` pairs name an
    object pickled under another path) in ``visionlite.load(..., weights_only=True)``."""
    checked = [_check(e) for e in safe_globals]
    with _lock:
        _entries.extend(e for e in checked if e not in _entries)


def get_safe_globals():
    """The list of globals added with ``add_safe_globals``."""
    with _lock:
        return list(_entries)


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    with _lock:
        _entries.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """``with safe_globals([Namespace]): load(...)``: allow these globals inside the block only."""
    before = get_safe_globals()
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        with _lock:
            _entries[:] = before


def lookup(module, name):
    """The allowed object pickled as ``module.name``, or None."""
    full = f"{module}.{name}"
    for entry in get_safe_globals():
        if isinstance(entry, tuple):
            if entry[1] == full:
                return entry[0]
        elif f"{getattr(entry, '__module__', None)}.{getattr(entry, '__qualname__', None)}" == full:
            return entry
    return None


def is_safe(obj):
    """True when ``obj`` (a class or callable from the pickle) was allowed by the user."""
    return any((e[0] if isinstance(e, tuple) else e) is obj for e in get_safe_globals())
