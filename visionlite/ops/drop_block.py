"""DropBlock (Ghiasi et al., https://arxiv.org/abs/1810.12890), as ``torchvision.ops.drop_block2d/3d``:
in training, zero contiguous ``block_size``-wide squares (cubes) of each feature map and rescale the rest.

Block centres are drawn with probability ``gamma`` over the positions where a whole block fits; the mask
grows each centre into its block with a separable running maximum over ``block_size`` windows (the same
as TorchVision's zero-padded stride-1 max pooling, and cheap in 3-D where there is no ``max_pool3d``).
"""
import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.core.backend import array_module

__all__ = ["drop_block2d", "drop_block3d", "DropBlock2d", "DropBlock3d"]


def _grow_blocks(centres, block_size):
    """``centres`` (N, C, *S') with S' = S - block_size + 1: 1 where a block starts. Returns the (N, C, *S)
    array that is 1 wherever some block covers, i.e. a zero-padded max over ``block_size`` windows."""
    xp = array_module(centres)
    half = block_size // 2
    out = centres
    for axis in range(2, centres.ndim):
        # Pad by block_size - 1 on both sides of the placed centres, then a sliding max of width
        # block_size: position i is covered by centres i - block_size + 1 .. i (of the unpadded grid
        # shifted by half a block, as TorchVision pads by half and pools with half padding).
        width = [(0, 0)] * out.ndim
        width[axis] = (2 * half, 2 * half)
        padded = xp.pad(out, width)
        n = padded.shape[axis] - block_size + 1
        acc = padded.take(xp.arange(0, n), axis=axis)
        for k in range(1, block_size):
            acc = xp.maximum(acc, padded.take(xp.arange(k, k + n), axis=axis))
        out = acc
    return out


def _drop_block(input, p, block_size, inplace, eps, training, ndim):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if input.ndim != ndim + 2:
        raise ValueError(f"input should be {ndim + 2} dimensional. Got {input.ndim} dimensions.")
    if not training or p == 0.0:
        return input
    sizes = tuple(input.shape[2:])
    block_size = min(block_size, *sizes)
    if block_size % 2 == 0:
        raise ValueError(f"block size should be odd. Got {block_size} which is even.")
    valid = [s - block_size + 1 for s in sizes]
    gamma = (p * float(np.prod(sizes))) / ((block_size ** ndim) * float(np.prod(valid)))
    centres = vl.empty(tuple(input.shape[:2]) + tuple(valid), dtype=input.dtype, device=input.device)
    centres.bernoulli_(gamma)
    keep = 1 - _grow_blocks(centres._data, block_size)
    scale = float(keep.size / (eps + keep.sum()))
    noise = vl.Tensor._wrap(keep)
    if inplace:
        return input.mul_(noise).mul_(scale)
    return input * noise * scale


def drop_block2d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on Tensor[N, C, H, W].

    Args:
        p: probability of an element being dropped.
        block_size: side of the dropped squares (odd; capped at the map size).
        inplace: modify ``input`` in place.
        eps: added to the kept count in the rescaling ``numel / (eps + kept)``.
        training: when False (or ``p == 0``) the input is returned unchanged.
    """
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on Tensor[N, C, D, H, W] with ``block_size``-sided cubes; arguments as
    :func:`drop_block2d`."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    """Module form of :func:`drop_block2d`, active in training mode."""

    def __init__(self, p, block_size, inplace=False, eps=1e-06):
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.inplace = inplace
        self.eps = eps

    def forward(self, input):
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, inplace={self.inplace})"


class DropBlock3d(DropBlock2d):
    """Module form of :func:`drop_block3d`, active in training mode."""

    def forward(self, input):
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps, self.training)
