"""Convolutions as in ``torch.nn.functional``: conv1d, conv2d, conv_transpose1d, conv_transpose2d.

This module checks arguments and shapes; the arithmetic lives in ``core/ops/conv.py``.
"""
import numpy as np

from ...amp_state import autocast_op
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.node_names import presents_as
from ...autograd.versions import counter_of, version_of
from ...ops.conv import Conv2dOp, ConvGeometry, ConvTranspose2dOp
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def _pair(v, name, op, n=2):
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _check_tensors(op, x, w, b):
    for name, t in (("input", x), ("weight", w), ("bias", b)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and t._data.dtype != x._data.dtype:
            raise RuntimeError(f"{op}: input dtype {x.dtype} and {name} dtype {t.dtype} should be the same; "
                               f"convert one with .to(...)")
        if t is not None and t.device != x.device:
            raise RuntimeError(f"{op}: input is on {x.device} but {name} is on {t.device}; move them to one "
                               f"device with .to(...)")


def _batched(x, op, spatial):
    """``x`` with a batch dim (adding one for unbatched input) and whether one was added."""
    nd = spatial + 2
    if x.ndim == nd:
        return x, False
    if x.ndim == nd - 1:
        return x.unsqueeze(0), True
    raise RuntimeError(f"{op}: expected {nd - 1}D (unbatched) or {nd}D (batched) input, but got input of "
                       f"shape {list(x.shape)}")


def _padding(padding, k, stride, dilation, op):
    """Padding as (top, bottom, left, right), resolving 'same' and 'valid' as PyTorch does."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
        out = []
        for kk, d in zip(k, dilation):
            total = d * (kk - 1)
            out += [total // 2, total - total // 2]  # the odd extra pixel goes bottom/right
        return tuple(out)
    ph, pw = _pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


# Validated calls: (op, shapes, stride, padding, dilation, groups) -> ConvGeometry. A layer calls with the
# same arguments every time, and checking and resolving them measured ~20 us of a 65 us tiny conv2d call
# (1x8x8x8, 3x3). The geometry depends on nothing else and is never changed after it is built.
_GEOMETRIES = {}
_MAX_GEOMETRIES = 1024


def _conv2d(x, weight, bias, stride, padding, dilation, groups, op):
    if _plain_cpu(x, weight, bias):
        try:
            key = (op, x._data.shape, weight._data.shape, None if bias is None else bias._data.shape, stride,
                   padding, dilation, groups)
            geom = _GEOMETRIES.get(key)
        except TypeError:  # an unhashable argument (a list): no cache
            key = geom = None
        if geom is not None:
            if x._data.ndim == 4:
                return _run(x, weight, bias, geom)
            return _run(x.unsqueeze(0), weight, bias, geom).squeeze(0)
        geom, y = _conv2d_checked(x, weight, bias, stride, padding, dilation, groups, op)
        if key is not None:
            if len(_GEOMETRIES) >= _MAX_GEOMETRIES:
                _GEOMETRIES.clear()
            _GEOMETRIES[key] = geom
        return y
    return _conv2d_checked(x, weight, bias, stride, padding, dilation, groups, op)[1]


def _plain_cpu(x, weight, bias):
    """Tensors on the CPU with one dtype: the checks of ``_check_tensors`` that a cached call skips pass."""
    if not (isinstance(x, Tensor) and isinstance(weight, Tensor)):
        return False
    if bias is not None and not isinstance(bias, Tensor):
        return False
    xd, wd = x._data, weight._data
    if type(xd) is not np.ndarray or type(wd) is not np.ndarray or wd.dtype != xd.dtype:
        return False
    return bias is None or (type(bias._data) is np.ndarray and bias._data.dtype == xd.dtype)


def _run(x, weight, bias, geom):
    # A weight no gradient will flow to (inference, frozen layers) may have derived arrays cached by
    # the op, keyed by its version counter.
    wkey = None if weight.requires_grad and is_grad_enabled() else (counter_of(weight), version_of(weight))
    if bias is None:
        return Conv2dOp.apply(x, weight, geom=geom, wkey=wkey)
    return Conv2dOp.apply(x, weight, bias, geom=geom, wkey=wkey)


def _conv2d_checked(x, weight, bias, stride, padding, dilation, groups, op):
    """All the argument checks, then the convolution: ``(geometry, output)``."""
    _check_tensors(op, x, weight, bias)
    x, unbatched = _batched(x, op, 2)
    if weight.ndim != 4:
        raise RuntimeError(f"{op}: weight must be 4-D (out_channels, in_channels/groups, kH, kW), got shape "
                           f"{list(weight.shape)}")
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride={stride}, "
                         f"dilation={dilation}")
    groups = int(groups)
    o, cg, kh, kw = weight.shape
    n, c, h, w = x.shape
    if groups < 1 or o % groups:
        raise ValueError(f"{op}: out_channels ({o}, weight shape {list(weight.shape)}) must be divisible by "
                         f"groups={groups}")
    if c != cg * groups:
        raise RuntimeError(f"{op}: expected input with {cg * groups} channels (weight shape "
                           f"{list(weight.shape)}, groups={groups}), got {c} channels in input of shape "
                           f"{list(x.shape)}")
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{op}: bias must have shape [{o}] (one per output channel), got "
                           f"{list(bias.shape)}")
    pad = _padding(padding, (kh, kw), stride, dilation, op)
    ph, pw = h + pad[0] + pad[1], w + pad[2] + pad[3]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if ph < eh or pw < ew:
        raise RuntimeError(f"{op}: calculated padded input size per channel ({ph} x {pw}) is smaller than "
                           f"the (dilated) kernel size ({eh} x {ew}); use a larger input or more padding")
    geom = ConvGeometry(n, c, (h, w), tuple(weight.shape), groups, stride, pad, dilation)
    y = _run(x, weight, bias, geom)
    return geom, (y.squeeze(0) if unbatched else y)


@autocast_op("conv2d")
@presents_as("ConvolutionBackward0", "input", "weight", "bias")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over ``input (N, C, H, W)`` or ``(C, H, W)`` with
    ``weight (O, C/groups, kH, kW)`` and optional ``bias (O,)`` -> ``(N, O, H_out, W_out)``.

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'`` (stride 1 only)."""
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d")


def _as_2d(x, weight, op):
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if x.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected 2D (unbatched) or 3D (batched) input, but got input of shape "
                           f"{list(x.shape)}")
    if weight.ndim != 3:
        raise RuntimeError(f"{op}: weight must be 3-D, got shape {list(weight.shape)}")
    return x.unsqueeze(-2), weight.unsqueeze(-2)


def _one(v):
    return v[0] if isinstance(v, (list, tuple)) else v


@autocast_op("conv1d")
@presents_as("ConvolutionBackward0", "input", "weight", "bias")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over ``input (N, C, L)`` or ``(C, L)`` with ``weight (O, C/groups, k)``."""
    x, w = _as_2d(input, weight, "conv1d")
    pad = padding if isinstance(padding, str) else (0, _one(padding))
    y = _conv2d(x, w, bias, (1, _one(stride)), pad, (1, _one(dilation)), groups, "conv1d")
    return y.squeeze(-2)


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation, op):
    _check_tensors(op, x, weight, bias)
    x, unbatched = _batched(x, op, 2)
    if weight.ndim != 4:
        raise RuntimeError(f"{op}: weight must be 4-D (in_channels, out_channels/groups, kH, kW), got shape "
                           f"{list(weight.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple (string padding is not supported)")
    stride, dilation = _pair(stride, "stride", op), _pair(dilation, "dilation", op)
    (ph, pw), (oph, opw) = _pair(padding, "padding", op), _pair(output_padding, "output_padding", op)
    groups = int(groups)
    cin, cog, kh, kw = weight.shape
    n, c, h, w = x.shape
    if groups < 1 or cin % groups:
        raise ValueError(f"{op}: in_channels ({cin}) must be divisible by groups={groups}")
    if c != cin:
        raise RuntimeError(f"{op}: expected input with {cin} channels (weight shape {list(weight.shape)}, "
                           f"groups={groups}), got {c} channels in input of shape {list(x.shape)}")
    for op_, s, d in ((oph, stride[0], dilation[0]), (opw, stride[1], dilation[1])):
        if op_ < 0 or (op_ >= s and op_ >= d):
            raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                             f"output_padding={(oph, opw)}, stride={stride}, dilation={dilation}")
    cout = cog * groups
    if bias is not None and tuple(bias.shape) != (cout,):
        raise RuntimeError(f"{op}: bias must have shape [{cout}] (one per output channel), got "
                           f"{list(bias.shape)}")
    ho = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
    wo = (w - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
    if ho < 1 or wo < 1:
        raise RuntimeError(f"{op}: the output size ({ho} x {wo}) is too small for input of shape "
                           f"{list(x.shape)}; reduce padding")
    # The convolution whose input-gradient this is maps (N, C_out, ho, wo) to (N, C_in, h, w).
    geom = ConvGeometry(n, cout, (ho, wo), tuple(weight.shape), groups, stride, (ph, ph, pw, pw), dilation,
                        out_hw=(h, w))
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTranspose2dOp.apply(*args, geom=geom)
    return y.squeeze(0) if unbatched else y


@autocast_op("conv_transpose2d")
@presents_as("ConvolutionBackward0", "input", "weight", "bias")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of ``input (N, C_in, H, W)`` with ``weight (C_in, C_out/groups, kH, kW)``
    -> ``(N, C_out, (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1, ...)``."""
    return _conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation,
                             "conv_transpose2d")


@autocast_op("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of ``input (N, C_in, L)`` with ``weight (C_in, C_out/groups, k)``."""
    x, w = _as_2d(input, weight, "conv_transpose1d")
    y = _conv_transpose2d(x, w, bias, (1, _one(stride)), (0, _one(padding)), (0, _one(output_padding)),
                          groups, (1, _one(dilation)), "conv_transpose1d")
    return y.squeeze(-2)
