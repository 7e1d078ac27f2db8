"""visionlite: PyTorch + TorchVision habits on numpy (CPU) and cupy (GPU).

``import visionlite as vl`` gives the core API (``vl.tensor``, ``vl.nn``, ``vl.optim``, ...); the vision
parts (``transforms``, ``io``, ``datasets``, ``models``, ``hub``, ``utils``) load on first use.
"""

import importlib

from . import _aliases
from .core import *  # noqa: F401,F403
from .core import _TOP_LEVEL_FUNCTIONAL
from .core import __all__ as _core_all

# The star import brings core's private op package as ``ops``; ``visionlite.ops`` is TorchVision's ops (lazy).
globals().pop("ops", None)

__version__ = "0.1.0"

_aliases.install()

_LAZY = {
    "nn",
    "optim",
    "data",
    "autograd",
    "serialization",
    "cuda",
    "transforms",
    "io",
    "datasets",
    "models",
    "hub",
    "utils",
    "download",
    "cli",
    "tv_tensors",
    "backends",
    "multiprocessing",
    "accelerator",
    "ops",
    "amp",
    "distributed",
    "linalg",
    "testing",
    "distributions",
    "onnx",
    "fx",
}
_LAZY_ATTRS = {
    "save": ("visionlite.core.serialization", "save"),
    "load": ("visionlite.core.serialization", "load"),
    "autocast": ("visionlite.core.amp", "autocast"),  # torch.autocast
    "_assert": ("visionlite.fx.tracer", "_assert"),  # torch._assert: an assert that symbolic traces record
    **{n: ("visionlite._media_backends", n)  # torchvision's top-level backend switches
       for n in ("set_image_backend", "get_image_backend", "set_video_backend", "get_video_backend")},
    **{n: ("visionlite.core.nn.functional", n) for n in _TOP_LEVEL_FUNCTIONAL},
    **{n: ("visionlite.core.linalg._legacy", n)
       for n in ("det", "inverse", "logdet", "slogdet", "pinverse", "cholesky", "svd", "qr")},
}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"visionlite.{name}")
    if name in _LAZY_ATTRS:
        mod, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'visionlite' has no attribute {name!r}")


__all__ = [n for n in _core_all if n != "ops"]
