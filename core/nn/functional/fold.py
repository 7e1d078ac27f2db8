"""Sliding blocks: ``unfold`` (im2col) lays every ``kernel_size`` patch of an image out as a column, and
``fold`` (col2im) sums columns back into an image.

The two are each other's adjoint, so they are one primitive pair whose backward is the other's forward
(double backward works). Each runs as ``kh * kw`` strided-slice copies (or adds) over the whole batch,
far cheaper than one autograd node per kernel offset. Padding is the differentiable ``pad`` (unfold)
or a crop (fold) around the pair.
"""
import operator

from ...autograd.function import Op
from ...backend import array_module
from ...ops.movement import pad
from ...tensor import Tensor

__all__ = ["unfold", "fold"]


def _pair(value, name, fn):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        items = tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{fn}(): {name} must be an int or a pair of ints, got {value!r}") from None
    if len(items) != 2:
        raise ValueError(f"{fn}(): {name} must be an int or a pair of ints, got {value!r}")
    return items


def _block_slices(i, j, dilation, stride, blocks):
    """Where kernel tap ``(i, j)`` reads in the (padded) image, for every block: a strided 2-D slice."""
    (dh, dw), (sh, sw), (bh, bw) = dilation, stride, blocks
    return (slice(i * dh, i * dh + sh * (bh - 1) + 1, sh), slice(j * dw, j * dw + sw * (bw - 1) + 1, sw))


class _Im2Col(Op):
    """``(N, C, H, W) -> (N, C * kh * kw, bh * bw)``; column rows run over (channel, tap row, tap col)."""

    def forward(self, a, kernel=(), dilation=(), stride=(), blocks=()):
        self.attrs = dict(kernel=kernel, dilation=dilation, stride=stride, blocks=blocks)
        self.size = a.shape[2:]
        n, c = a.shape[:2]
        (kh, kw), (bh, bw) = kernel, blocks
        out = array_module(a).empty((n, c, kh, kw, bh, bw), dtype=a.dtype)
        for i in range(kh):
            for j in range(kw):
                out[:, :, i, j] = a[(Ellipsis, *_block_slices(i, j, dilation, stride, blocks))]
        return out.reshape(n, c * kh * kw, bh * bw)

    def backward(self, g):
        return _Col2Im.apply(g, size=self.size, **self.attrs)


class _Col2Im(Op):
    """``(N, C * kh * kw, bh * bw) -> (N, C, H, W)``: every column entry added back where it was read."""

    def forward(self, cols, size=(), kernel=(), dilation=(), stride=(), blocks=()):
        self.attrs = dict(kernel=kernel, dilation=dilation, stride=stride, blocks=blocks)
        n = cols.shape[0]
        (kh, kw), (bh, bw) = kernel, blocks
        c = cols.shape[1] // (kh * kw)
        cols = cols.reshape(n, c, kh, kw, bh, bw)
        out = array_module(cols).zeros((n, c, *size), dtype=cols.dtype)
        # Within one tap the strided slice never hits a pixel twice, so += is a plain add; overlaps
        # between taps accumulate across iterations.
        for i in range(kh):
            for j in range(kw):
                out[(Ellipsis, *_block_slices(i, j, dilation, stride, blocks))] += cols[:, :, i, j]
        return out

    def backward(self, g):
        return _Im2Col.apply(g, **self.attrs)


def _options(kernel_size, dilation, padding, stride, fn):
    kernel, dilation = _pair(kernel_size, "kernel_size", fn), _pair(dilation, "dilation", fn)
    padding, stride = _pair(padding, "padding", fn), _pair(stride, "stride", fn)
    for name, v in (("kernel_size", kernel), ("dilation", dilation), ("stride", stride)):
        if min(v) <= 0:
            raise RuntimeError(f"{fn}(): {name} should be greater than zero, but got {name}={v}")
    if min(padding) < 0:
        raise RuntimeError(f"{fn}(): padding should be non-negative, but got padding={padding}")
    return kernel, dilation, padding, stride


def _blocks(size, kernel, dilation, padding, stride):
    return tuple((size[d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1
                 for d in range(2))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding ``kernel_size`` blocks of ``input (N, C, H, W)`` as columns: ``(N, C * kh * kw, L)`` with
    ``L`` the number of blocks (``(C, H, W)`` gives ``(C * kh * kw, L)``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold(): expected a 3-D (unbatched) or 4-D (batched) input, got sizes "
                           f"{list(input.shape)}")
    kernel, dilation, padding, stride = _options(kernel_size, dilation, padding, stride, "unfold")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    blocks = _blocks(x.shape[2:], kernel, dilation, padding, stride)
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of "
                           f"sliding blocks as {blocks}, but its components must be at least one.")
    if any(padding):
        x = pad(x, (padding[1], padding[1], padding[0], padding[0]))
    cols = _Im2Col.apply(x, kernel=kernel, dilation=dilation, stride=stride, blocks=blocks)
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns ``(N, C * kh * kw, L)`` back into an image ``(N, C, *output_size)`` (``(C * kh * kw, L)``
    gives ``(C, H, W)``); overlapping entries add up. ``fold(unfold(x))`` counts each pixel once per block
    that covers it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold(): expected a 2-D (unbatched) or 3-D (batched) input, got sizes "
                           f"{list(input.shape)}")
    size = _pair(output_size, "output_size", "fold")
    kernel, dilation, padding, stride = _options(kernel_size, dilation, padding, stride, "fold")
    batched = input.ndim == 3
    cols = input if batched else input.unsqueeze(0)
    taps = kernel[0] * kernel[1]
    if cols.shape[1] % taps:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={cols.shape[1]} and kernel_size={kernel}.")
    blocks = _blocks(size, kernel, dilation, padding, stride)
    if min(blocks) < 1 or cols.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={cols.shape[2]}.")
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    out = _Col2Im.apply(cols, size=padded, kernel=kernel, dilation=dilation, stride=stride, blocks=blocks)
    if any(padding):
        out = out[:, :, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    return out if batched else out.squeeze(0)
