"""Anomaly detection switches, as ``torch.autograd.set_detect_anomaly``/``detect_anomaly``.

visionlite's backward already names the operation that fails (the saved-tensor and in-place checks say
which node); the switches are stored and readable so scripts that turn them on run unchanged.
"""
import contextlib

__all__ = ["set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled():
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    return _state["check_nan"]


class set_detect_anomaly:
    """Turn anomaly detection on or off; as a context manager, only inside the block."""

    def __init__(self, mode, check_nan=True):
        self.prev = dict(_state)
        _state.update(enabled=bool(mode), check_nan=bool(check_nan))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.update(self.prev)
        return False


@contextlib.contextmanager
def _detect(check_nan):
    prev = dict(_state)
    _state.update(enabled=True, check_nan=bool(check_nan))
    try:
        yield
    finally:
        _state.update(prev)


class detect_anomaly:
    """``with detect_anomaly():`` turns anomaly detection on inside the block."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self._cm = None

    def __enter__(self):
        self._cm = _detect(self.check_nan)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
