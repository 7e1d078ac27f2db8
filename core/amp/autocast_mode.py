"""``autocast``: regions (or decorated functions) in which chosen ops run in lower precision, as
``torch.amp.autocast``; and ``custom_fwd`` / ``custom_bwd`` for custom autograd Functions."""
import copy
import functools
import warnings

from .. import amp_state, dtypes
from ..backend import cuda_available
from ..tensor import Tensor

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available"]

_DEVICE_TYPES = ("cpu", "cuda")


def is_autocast_available(device_type):
    """Whether ``device_type`` supports autocast (``"cpu"`` and ``"cuda"``)."""
    return device_type in _DEVICE_TYPES


class autocast:
    """Run the ops of a region in mixed precision: matmuls and convolutions in ``dtype`` (bfloat16 on cpu,
    float16 on cuda by default), precision-sensitive ops (losses, reductions such as ``prod``...) in
    float32, and ops that mix inputs in the widest of their types, following PyTorch's per-device op lists.
    Only tensors on ``device_type`` are affected. Use as ``with autocast("cpu"):`` or as a decorator.

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.
        dtype: the lower-precision dtype (default: ``get_autocast_dtype(device_type)``).
        enabled: False turns autocast off inside the region (default True).
        cache_enabled: keep the cast copies of weights for the region (default: the thread's setting).

    Backward passes should run outside the region; their ops use the dtypes the forward chose.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = amp_state.get_autocast_dtype(device_type) if dtype is None else dtype
        if cache_enabled is None:
            cache_enabled = amp_state.is_autocast_cache_enabled()
        self._cache_enabled = cache_enabled
        if enabled and device_type == "cuda":
            if not cuda_available():
                warnings.warn("CUDA is not available. Disabling autocast.", stacklevel=2)
                enabled = False
            elif self.fast_dtype is dtypes.bfloat16:
                raise RuntimeError("Current CUDA Device does not support bfloat16 (cupy has no bfloat16). "
                                   "Please switch dtype to float16.")
        elif enabled and self.fast_dtype not in (dtypes.bfloat16, dtypes.float16):
            name = device_type.upper()
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of visionlite.bfloat16, visionlite.float16 "
                          "currently.", stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._saved = []

    def __enter__(self):
        dev = self.device
        self._saved.append((amp_state.is_autocast_enabled(dev), amp_state.get_autocast_dtype(dev),
                            amp_state.is_autocast_cache_enabled()))
        amp_state.set_autocast_enabled(dev, self._enabled)
        amp_state.set_autocast_dtype(dev, self.fast_dtype)
        amp_state.autocast_increment_nesting()
        amp_state.set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if amp_state.autocast_decrement_nesting() == 0:
            amp_state.clear_autocast_cache()
        enabled, dtype, cache = self._saved.pop()
        amp_state.set_autocast_enabled(self.device, enabled)
        amp_state.set_autocast_dtype(self.device, dtype)
        amp_state.set_autocast_cache_enabled(cache)
        return False

    def __call__(self, func):
        """Decorate ``func`` so that every call runs inside this autocast region."""

        @functools.wraps(func)
        def decorated(*args, **kwargs):
            region = copy.copy(self)  # its own saved-state stack: calls may overlap (threads, recursion)
            region._saved = []
            with region:
                return func(*args, **kwargs)

        return decorated

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, enabled={self._enabled}, "
                f"cache_enabled={self._cache_enabled})")


def _cast_floats(value, dtype, device_type):
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.dtype is not dtypes.float64
        if eligible and value.device.type == device_type:
            return value.to(dtype)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floats(v, dtype, device_type) for v in value)
    if isinstance(value, dict):
        return {k: _cast_floats(v, dtype, device_type) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """Decorator for a custom ``Function``'s ``forward``: with ``cast_inputs`` (a dtype) and autocast on,
    its floating inputs are cast to it and it runs with autocast off; without, it runs under the caller's
    autocast state, which ``custom_bwd`` then restores for ``backward``."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    if not is_autocast_available(device_type):
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = amp_state.get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = amp_state.is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = amp_state.is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_floats(args, cast_inputs, device_type),
                           **_cast_floats(kwargs, cast_inputs, device_type))
        return fwd(*args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type="cuda"):
    """Decorator for a custom ``Function``'s ``backward``: runs it under the autocast state its forward
    saw (see ``custom_fwd``)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    if not is_autocast_available(device_type):
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)

    return decorate_bwd


