"""Spatial transformers (Jaderberg et al., 2015): ``affine_grid`` makes a sampling grid from affine
matrices, ``grid_sample`` reads an image at the grid's points.

Both are composites: the grid is a matmul, and sampling gathers the neighbouring pixels of every point
(rows of a channels-last copy of the input) and blends them with weights computed from the grid, so
autograd reaches both the input and the grid. Coordinates are normalised to [-1, 1] as in PyTorch.
"""
import itertools
import math

import numpy as np

from ...amp_state import autocast_op
from ...autograd import function as _function
from ...autograd.node_names import presents_as
from ...backend import array_module
from ...ops import elementwise as ew
from ...ops.indexing import index_select
from ...ops.movement import cat
from ...tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]


def _steps(n, align_corners, xp, dtype):
    """``n`` pixel centres in [-1, 1] (the extreme pixels' centres when ``align_corners``, else their
    outer edges sit at -1 and 1)."""
    if n <= 1:
        return xp.zeros(max(n, 1), dtype=dtype)
    # Bit for bit PyTorch's values (its linspace fills from both ends with fused multiply-adds, then
    # scales by (n-1)/n in two roundings): an identity theta then lands exactly on the pixel centres
    # PyTorch's does, which decides the side of grid_sample's kink in the gradient.
    f = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    wide = np.longdouble if f is np.float64 else np.float64  # one rounding, as a fused multiply-add
    step = f(2.0) / f(n - 1)
    i = np.arange(n)
    from_start = (wide(-1) + wide(step) * i).astype(f)
    from_end = (wide(1) - wide(step) * (n - 1 - i)).astype(f)
    steps = np.where(i < n // 2, from_start, from_end).astype(f)
    if not align_corners:
        steps = steps * f(n - 1) / f(n)
    return xp.asarray(steps, dtype=dtype)


@presents_as("AffineGridGeneratorBackward0", "theta")
def affine_grid(theta, size, align_corners=None):
    """Sampling grid for ``grid_sample`` from affine matrices.

    ``theta (N, 2, 3)`` with ``size = (N, C, H, W)`` gives ``(N, H, W, 2)`` (x, y) points;
    ``theta (N, 3, 4)`` with ``size = (N, C, D, H, W)`` gives ``(N, D, H, W, 3)`` (x, y, z) points.
    ``align_corners=None`` means False, as in PyTorch.
    """
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid(): theta must be a Tensor, got {type(theta).__name__}")
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) not in (4, 5):
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine "
                                  f"transforms, respectively. Got size {tuple(size)}.")
    nd = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size "
                         f"{tuple(size)}. Got {tuple(theta.shape)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {tuple(size)}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid(): theta holds {theta.shape[0]} matrices but size asks for a batch of "
                         f"{size[0]}; they must match")
    xp = array_module(theta._data)
    dtype = theta._data.dtype
    spatial = size[2:]
    # Homogeneous points (x, y[, z], 1) with x running along the last (width) dim.
    axes = [_steps(n, bool(align_corners), xp, dtype) for n in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")
    base = xp.stack([*mesh[::-1], xp.ones_like(mesh[0])], axis=-1).reshape(1, -1, nd + 1)
    grid = Tensor._wrap(base).matmul(theta.transpose(1, 2))
    return grid.reshape(size[0], *spatial, nd)


def _reflect(c, twice_low, twice_high):
    """Fold coordinates into [twice_low/2, twice_high/2] by mirroring at its ends, as often as needed."""
    if twice_low == twice_high:
        return c * 0.0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = ew.abs(c - low)
    xp = array_module(c._data)
    flips = xp.floor(c._data / span)
    extra = c - Tensor._wrap(flips * span)
    return ew.where(Tensor._wrap(flips % 2 == 0), extra + low, (span + low) - extra)


def _source_index(coord, size, padding_mode, align_corners):
    """Grid values in [-1, 1] -> pixel coordinates along a dim of ``size`` pixels, with the padding
    mode's folding or clipping applied (their gradients follow, zero where clipped, as in PyTorch)."""
    if align_corners:
        c = (coord + 1) * ((size - 1) / 2)
    else:
        c = ((coord + 1) * size - 1) / 2
    if padding_mode == "border":
        c = c.clamp(0, size - 1)
    elif padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        c = c.clamp(0, size - 1)
    return c


def _check_grid_sample(input, grid, mode, padding_mode):
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor):
            raise TypeError(f"grid_sample(): {name} must be a Tensor, got {type(t).__name__}")
    if mode not in ("bilinear", "nearest"):
        if mode == "bicubic":
            raise NotImplementedError("grid_sample(): mode='bicubic' is not supported yet; use 'bilinear' or "
                                      "'nearest'")
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
                         f"'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError("grid_sampler(): expected a 4-D or 5-D input and a grid with as many dims, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input "
                           f"with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, "
                           f"but got grid with sizes {list(grid.shape)}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if not input.is_floating_point():
        raise RuntimeError(f"grid_sampler(): expected a floating point input, got {input.dtype}")
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): input is on {input.device} but grid is on {grid.device}")


@autocast_op("grid_sampler")
@presents_as(lambda a, k: f"GridSampler{(a[0] if a else k['input']).ndim - 2}DBackward0", "input", "grid")
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input (N, C, H, W)`` at ``grid (N, Ho, Wo, 2)`` -> ``(N, C, Ho, Wo)`` (or
    ``(N, C, D, H, W)`` at ``(N, Do, Ho, Wo, 3)``); grid points are (x, y[, z]) in [-1, 1].

    ``mode``: 'bilinear' (trilinear for 5-D) or 'nearest' (ties round to even); ``padding_mode`` says what
    lies outside: 'zeros', 'border' (the edge pixel) or 'reflection'. ``align_corners=None`` means False.
    Gradients reach ``input`` and, for 'bilinear', ``grid``.
    """
    _check_grid_sample(input, grid, mode, padding_mode)
    align = bool(align_corners)
    if _function.is_op_tracing():  # the ONNX exporter: one op (ONNX GridSample), not value-made indices
        from ...ops.grid_sample_op import GridSampleOp

        return GridSampleOp.apply(input, grid, mode=mode, padding_mode=padding_mode, align_corners=align)
    n, c, *spatial = input.shape
    out_spatial = tuple(grid.shape[1:-1])
    nd = len(spatial)
    q = math.prod(out_spatial)
    xp = array_module(input._data)
    pts = grid.reshape(n, q, nd)
    # The grid's last axis is (x, y[, z]): x indexes the last spatial dim, so reverse to match dims.
    coords = [_source_index(pts[..., nd - 1 - d], spatial[d], padding_mode, align) for d in range(nd)]
    if mode == "nearest":
        # One corner per point; its weight is the in-bounds mask, with a zero gradient to the grid
        # (so grid.grad is zeros rather than None, as in PyTorch).
        per_dim = [[(xp.round(cd._data), None)] for cd in coords]
    else:
        per_dim = []
        for cd in coords:
            lo = xp.floor(cd._data)
            frac = cd - Tensor._wrap(lo)
            per_dim.append([(lo, 1 - frac), (lo + 1, frac)])
    strides = [math.prod(spatial[d + 1:]) for d in range(nd)]
    # Row b*P + p of the channels-last input holds pixel p of image b.
    offsets = xp.arange(n, dtype=np.int64)[:, None] * math.prod(spatial)
    rows, weights = [], []
    for corner in itertools.product(*per_dim):
        flat = offsets
        inside = xp.ones((n, q), dtype=bool)
        weight = None
        for d, (ix, w) in enumerate(corner):
            inside &= (ix >= 0) & (ix <= spatial[d] - 1)
            flat = flat + xp.clip(ix, 0, spatial[d] - 1).astype(np.int64) * strides[d]
            weight = w if weight is None else weight * w
        mask = inside.astype(input._data.dtype)
        if weight is None:
            weight = ew.ZeroGrad.apply(coords[0], fn=lambda _, m=mask: m)
        else:
            weight = weight * Tensor._wrap(mask)  # corners outside the image read zeros
        rows.append(flat)
        weights.append(weight)
    k = len(rows)
    table = input.reshape(n, c, -1).transpose(1, 2).reshape(-1, c)  # (N * P, C)
    picked = index_select(table, 0, Tensor._wrap(xp.stack(rows, axis=-1).reshape(-1)))  # (N * q * k, C)
    w = cat([wt.unsqueeze(-1) for wt in weights], dim=-1)  # (N, q, k)
    out = (picked.reshape(n, q, k, c) * w.unsqueeze(-1)).sum(2)  # (N, q, C)
    return out.transpose(1, 2).reshape(n, c, *out_spatial)
