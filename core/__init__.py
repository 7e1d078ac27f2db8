"""visionlite.core: the Tensor, autograd, nn, optim, data loading and serialization (no images here).

Submodules that pull in more code (``nn``, ``optim``, ``data``, ``serialization``) load on first use.
"""

import importlib

from . import dtypes
from .amp_state import (
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .autograd import (
    Function,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import Device as device
from .backend import cuda_available
from .compile import compile  # noqa: A004  (torch.compile: returns the model)
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .default_device import get_default_device, set_default_device
from .dtype_info import can_cast, finfo, iinfo, promote_types, result_type
from .dtypes import (
    bfloat16,
    bool_,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .flags import (
    are_deterministic_algorithms_enabled,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from .memory_format import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from .ops import *  # noqa: F401,F403
from .ops import __dict__ as _ops_namespace
from .ops._threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads
from .printing import set_printoptions
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Size, Tensor

bool = bool_  # noqa: A001  (visionlite.bool, as torch.bool)
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001


def is_tensor(obj):
    """True when ``obj`` is a visionlite Tensor, as ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


from .out_arg import OUT_FUNCTIONS as _OUT_FUNCTIONS  # noqa: E402
from .out_arg import with_out as _with_out  # noqa: E402

for _name in _OUT_FUNCTIONS:  # the public functions take out= (Tensor methods stay as they are)
    globals()[_name] = _with_out(globals()[_name])


def numel(t):
    """The number of elements of tensor ``t`` (an int), as ``torch.numel``."""
    return t.numel()


def is_floating_point(t):
    """True when tensor ``t`` has a floating-point dtype, as ``torch.is_floating_point``."""
    return t.is_floating_point()


_LAZY = {"nn", "optim", "data", "serialization", "utils", "cuda", "autograd", "backends", "multiprocessing",
         "amp", "accelerator", "checkpoint", "linalg", "testing",
         "distributions"}
# nn.functional ops PyTorch also offers as torch.<name> with the same leading arguments (loaded on first use)
_TOP_LEVEL_FUNCTIONAL = (
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "dropout", "alpha_dropout",
    "feature_alpha_dropout", "layer_norm", "group_norm", "bilinear", "pixel_shuffle", "pixel_unshuffle",
    "cosine_similarity", "pairwise_distance", "prelu", "selu", "celu", "rrelu", "hardshrink", "threshold",
    "rms_norm", "max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d", "conv3d", "conv_transpose3d",
    "max_pool3d")
_LAZY_ATTRS = {"save": "serialization", "load": "serialization", "autocast": "amp",
               **{n: "linalg._legacy" for n in ("det", "inverse", "logdet", "slogdet", "pinverse", "cholesky",
                                                "svd", "qr")},
               **{n: "nn.functional" for n in _TOP_LEVEL_FUNCTIONAL}}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    raise AttributeError(f"module 'visionlite.core' has no attribute {name!r}")


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("importlib",)] + [
    n for n in _ops_namespace if not n.startswith("_")
]
