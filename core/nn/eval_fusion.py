"""Eval-mode folding of a BatchNorm2d into the Conv2d before it, applied inside the library.

Under ``eval()`` and ``no_grad`` a batch norm is the per-channel affine map ``y * s + t`` with
``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``. Scaling the convolution's
weight by ``s`` and using ``t`` (plus the scaled conv bias) as its bias gives the same output with no
pass of its own: the convolution adds the bias while it writes its output anyway.

Where it applies: adjacent ``Conv2d`` -> ``BatchNorm2d`` (or TorchVision's ``FrozenBatchNorm2d``) in a
``Sequential`` (MobileNet's ``Conv2dNormActivation``, ResNet's downsample branches), and blocks that call
``conv_bn`` for their own pairs (``VISIONLITE_FUSE_EVAL=0`` turns it off). Only plain layers with no
hooks, 4-D input, no autocast and no ONNX trace running fold; anything else runs the two layers as
written.

The folded weights are cached on the convolution and rebuilt when any of the six tensors involved is
replaced or changed in place (their version counters move: optimizer steps, ``load_state_dict``,
running-stat updates in training all bump them). Writes through ``.data`` (``conv.weight.data.mul_(2)``)
bypass version counters, as in PyTorch, so the cache also compares the arrays' identity and a few
sampled elements of each: an O(1) guard that catches whole-tensor rewrites.
"""

import os
import sys

import numpy as np

from .. import amp_state
from ..autograd import function as _function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.versions import sample_elements, version_of
from ..backend import array_module
from ..tensor import Tensor

__all__ = ["conv_bn", "sequential_forward", "foldable"]

# VISIONLITE_FUSE_EVAL=0 turns folding off (to compare, or to rule it out when debugging); read at import.
ENABLED = os.environ.get("VISIONLITE_FUSE_EVAL", "1").strip() not in ("0", "false", "no", "off")


def _no_hooks(m):
    return not (m._forward_pre_hooks or m._forward_hooks or m._backward_hooks or m._backward_pre_hooks)


_CLASSES = []  # [Conv2d, BatchNorm2d], imported on first use (this module loads before them)


def _classes():
    if not _CLASSES:
        from .modules.conv import Conv2d
        from .modules.normalization import BatchNorm2d

        _CLASSES.extend((Conv2d, BatchNorm2d))
    return _CLASSES


def _member(m, name):
    """Parameter or buffer ``name`` of module ``m`` (None when unset), read straight from its registries:
    these checks run on every eval convolution, and ``Module.__getattr__`` costs ~0.5 us a lookup."""
    d = m.__dict__
    params = d["_parameters"]
    return params[name] if name in params else d["_buffers"].get(name)


def _is_norm(bn):
    """A BatchNorm2d, or TorchVision's FrozenBatchNorm2d (detection backbones), both exactly."""
    if type(bn) is _classes()[1]:
        return _member(bn, "running_mean") is not None and _member(bn, "running_var") is not None
    misc = sys.modules.get("visionlite.ops.misc")  # loaded whenever a model uses it
    return misc is not None and type(bn) is misc.FrozenBatchNorm2d


def foldable(conv, bn, x):
    """Whether ``bn(conv(x))`` may run as one folded convolution right now."""
    if not ENABLED or is_grad_enabled() or type(conv) is not _classes()[0] or conv.training or bn.training:
        return False
    if not _is_norm(bn):
        return False
    running_var, weight = _member(bn, "running_var"), _member(conv, "weight")
    return (
        running_var.shape == (conv.out_channels,)
        and type(running_var._data) is type(weight._data)  # same device
        and isinstance(x, Tensor)
        and x.ndim == 4
        and not amp_state.ACTIVE[0]
        and not _function.is_op_tracing()
        and _no_hooks(conv)
        and _no_hooks(bn)
    )


_SOURCES = (("weight", "bias"), ("weight", "bias", "running_mean", "running_var"))


def _state(conv, bn):
    """What the folded weights depend on: per source tensor (conv weight and bias, the norm's weight, bias
    and running statistics) the tensor, its array, its version and a sample of its elements."""
    return tuple(None if t is None else (t, t._data, version_of(t), sample_elements(t._data))
                 for m, names in zip((conv, bn), _SOURCES) for t in (_member(m, n) for n in names))


def _same(a, b):
    if a is None or b is None:
        return a is b
    return a[0] is b[0] and a[1] is b[1] and a[2] == b[2] and a[3] == b[3]


def folded(conv, bn):
    """``(weight, bias)`` Tensors of ``conv`` with ``bn``'s eval-mode affine map folded in (cached)."""
    state = _state(conv, bn)
    cached = conv.__dict__.get("_eval_fold")
    if cached is not None:
        c_state, c_eps, w, b = cached
        if c_eps == bn.eps and all(_same(x, y) for x, y in zip(c_state, state)):
            return w, b
    w, b = _fold_arrays(conv, bn)
    conv.__dict__["_eval_fold"] = (state, bn.eps, w, b)
    return w, b


def _fold_arrays(conv, bn):
    cw = conv.weight._data
    xp = array_module(cw)
    dt = cw.dtype
    wide = np.float64 if dt != np.float64 and dt.kind == "f" and dt.itemsize <= 4 else dt  # fold, then round

    def arr(t, fill):
        return xp.full(cw.shape[0], fill, dtype=wide) if t is None else t._data.astype(wide)

    scale = arr(bn.weight, 1.0) / xp.sqrt(arr(bn.running_var, 1.0) + bn.eps)
    bias = (arr(conv.bias, 0.0) - arr(bn.running_mean, 0.0)) * scale + arr(bn.bias, 0.0)
    w = (cw.astype(wide) * scale.reshape(-1, 1, 1, 1)).astype(dt)
    return Tensor._wrap(w), Tensor._wrap(bias.astype(dt))


def conv_bn(conv, bn, x):
    """``bn(conv(x))``, as one convolution with folded weights where ``foldable`` allows."""
    if foldable(conv, bn, x):
        w, b = folded(conv, bn)
        return conv._conv_forward(x, w, b)
    return bn(conv(x))


def sequential_forward(modules, x):
    """A Sequential's modules applied in order, each foldable Conv2d -> BatchNorm2d pair as one call."""
    mods = list(modules)
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        if i + 1 < n and foldable(m, mods[i + 1], x):
            w, b = folded(m, mods[i + 1])
            x = m._conv_forward(x, w, b)
            i += 2
        else:
            x = m(x)
            i += 1
    return x
