"""Resizing as in ``torch.nn.functional``: ``interpolate`` (nearest, nearest-exact, linear, bilinear,
bicubic, trilinear, area) and the older ``upsample*`` aliases.

Each spatial axis is resampled separately by ``core/ops/interp.py`` (all these modes are separable).
"""
import math

from ...amp_state import autocast_op
from ...autograd.node_names import presents_as
from ...ops.interp import Resample1dOp, axis_taps
from ...ops.interp_aa import AAResample1dOp
from ...tensor import Tensor
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_AXIS_MODE = {"linear": "linear", "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic",
              "nearest": "nearest", "nearest-exact": "nearest-exact"}


def _output_size(x, size, scale_factor, dims):
    """``(output sizes, per-axis scale factors or None)`` from exactly one of ``size``/``scale_factor``."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor must be given")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * dims
        if len(sizes) != dims:
            raise ValueError(f"interpolate: input with {dims} spatial dims (shape {list(x.shape)}) needs "
                             f"size of length {dims}, got {size!r}")
        sizes = tuple(int(s) for s in sizes)
        if min(sizes) < 1:
            raise ValueError(f"interpolate: output size must be positive, got {size!r}")
        return sizes, (None,) * dims
    scales = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * dims
    if len(scales) != dims:
        raise ValueError(f"interpolate: input with {dims} spatial dims (shape {list(x.shape)}) needs "
                         f"scale_factor of length {dims}, got {scale_factor!r}")
    scales = tuple(float(s) for s in scales)
    sizes = tuple(int(math.floor(float(n) * s)) for n, s in zip(x.shape[2:], scales))
    if min(sizes) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives an empty output for input of "
                         f"shape {list(x.shape)}")
    return sizes, scales


def _interpolate_name(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                      recompute_scale_factor=None, antialias=False):
    """PyTorch's op name for an interpolate call (autocast lists the upsample kernels on cuda)."""
    d = input.ndim - 2
    if mode == "area":
        return f"adaptive_avg_pool{d}d"
    name = {"nearest": f"upsample_nearest{d}d", "nearest-exact": f"_upsample_nearest_exact{d}d"}.get(mode)
    if name is None:
        name = f"upsample_{mode}{d}d" + ("_aa" if antialias else "")
        name = "_" + name if antialias else name
    return name


_UPSAMPLE = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
             "bilinear": "Bilinear", "bicubic": "Bicubic", "trilinear": "Trilinear"}


def _upsample_node_name(args, kwargs):
    # PyTorch's node for interpolate: UpsampleBilinear2DBackward0 and the like (area is adaptive pooling)
    x = args[0] if args else kwargs["input"]
    mode = args[3] if len(args) > 3 else kwargs.get("mode", "nearest")
    if mode == "area":
        return f"AdaptiveAvgPool{x.ndim - 2}DBackward0"
    aa = "Aa" if (args[6] if len(args) > 6 else kwargs.get("antialias", False)) else ""
    return f"Upsample{_UPSAMPLE.get(mode, mode.title())}{x.ndim - 2}D{aa}Backward0"


@autocast_op(_interpolate_name)
@presents_as(_upsample_node_name, "input")
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize ``input (N, C, *spatial)`` (1 to 3 spatial dims) to ``size`` or by ``scale_factor``.

    Modes: 'nearest' (PyTorch's legacy ``floor(dst * scale)`` rule), 'nearest-exact', 'linear' (3-D input),
    'bilinear' / 'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive average pooling). ``align_corners``
    applies to the interpolating modes only; ``recompute_scale_factor=True`` computes the kernel's scale
    from the output size instead of using ``scale_factor``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape "
                         f"{list(input.shape)}")
    if mode not in _AXIS_MODE and mode != "area":
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}; expected one of 'nearest', "
                                  f"'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area'")
    dims = input.ndim - 2
    if mode in _SPATIAL and _SPATIAL[mode] != dims:
        raise NotImplementedError(f"interpolate: got {input.ndim}D input, but {mode} mode needs "
                                  f"{_SPATIAL[mode] + 2}D input")
    if align_corners is not None and mode not in _SPATIAL:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias and (mode not in ("bilinear", "bicubic") or input.ndim != 4):
        raise NotImplementedError("interpolate: anti-alias option is restricted to bilinear and bicubic "
                                  "modes and requires a 4-D tensor as input")
    if not input.is_floating_point():
        raise TypeError(f"interpolate: expected a floating point input, got {input.dtype}")
    sizes, scales = _output_size(input, size, scale_factor, dims)
    if recompute_scale_factor:
        scales = (None,) * dims
    if mode == "area":
        if dims == 1:
            return adaptive_avg_pool1d(input, sizes[0])
        if dims == 2:
            return adaptive_avg_pool2d(input, sizes)
        raise NotImplementedError("interpolate: mode 'area' supports 3-D and 4-D inputs")
    out = input
    if antialias:  # the width first, then the height, as PyTorch's separable antialiased kernel
        for d in reversed(range(dims)):
            if out.shape[2 + d] != sizes[d]:
                out = AAResample1dOp.apply(out, axis=2 + d, mode=mode, size=sizes[d],
                                           align_corners=bool(align_corners), scale=scales[d])
        return input.clone() if out is input else out
    for d in reversed(range(dims)):  # the last axis first: PyTorch's nesting sums the width innermost
        axis = 2 + d
        taps = axis_taps(_AXIS_MODE[mode], input.shape[axis], sizes[d], scales[d], bool(align_corners),
                         input._data.dtype)
        out = Resample1dOp.apply(out, axis=axis, taps=taps)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
