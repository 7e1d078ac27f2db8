"""``visionlite.cuda.amp``, as ``torch.cuda.amp``: ``autocast`` and ``GradScaler`` bound to the ``"cuda"``
device type, thin aliases of ``visionlite.amp`` (loaded on first use)."""
import importlib
import warnings

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]  # noqa: F822  (made on first use)

_cache = {}


def _amp():
    try:
        return importlib.import_module("visionlite.amp")
    except ModuleNotFoundError as e:
        if e.name != "visionlite.amp":
            raise
        raise ImportError("visionlite.cuda.amp forwards to visionlite.amp, which this install lacks") from e


def _deprecated(name, call):
    warnings.warn(f"`torch.cuda.amp.{name}(args...)` is deprecated. Please use `{call}` instead.",
                  FutureWarning, stacklevel=3)


def _build(name):
    amp = _amp()
    made = _make(name, amp)
    if isinstance(made, type):
        made.__module__, made.__qualname__ = __name__, name
    return made


def _make(name, amp):
    if name == "autocast":
        from ... import dtypes

        class autocast(amp.autocast):
            """``visionlite.amp.autocast("cuda", ...)``; float16 by default, as in PyTorch."""

            def __init__(self, enabled=True, dtype=dtypes.float16, cache_enabled=True):
                _deprecated("autocast", "visionlite.amp.autocast('cuda', args...)")
                super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

        return autocast
    if name == "GradScaler":

        class GradScaler(amp.GradScaler):
            """``visionlite.amp.GradScaler("cuda", ...)``."""

            def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                         growth_interval=2000, enabled=True):
                _deprecated("GradScaler", "visionlite.amp.GradScaler('cuda', args...)")
                super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                                 backoff_factor=backoff_factor, growth_interval=growth_interval,
                                 enabled=enabled)

        return GradScaler
    return getattr(amp, name)


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _cache:
        _cache[name] = _build(name)
    return _cache[name]
