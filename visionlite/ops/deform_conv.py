"""Deformable convolution (Dai et al., https://arxiv.org/abs/1703.06211; v2 with a modulation mask, Zhu et
al., https://arxiv.org/abs/1811.11168), as ``torchvision.ops.deform_conv2d``.

Each kernel tap reads the input at its regular position plus a learned offset, by bilinear interpolation
(corners outside the image read zero, a sample at or beyond one pixel outside is zero). The op is built
from differentiable tensor ops: sample all taps of all output positions at once with four gathers, weight
them (and multiply by the mask), then one grouped matrix product with the weights. Autograd then gives
the gradients for the input, offsets, mask, weight and bias, as TorchVision's kernels define them.
"""
import math

import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.nn import init

__all__ = ["deform_conv2d", "DeformConv2d"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _sample(inp, y, x, height, width):
    """Bilinear samples of ``inp`` (B, G, Cg, H*W) at ``y``, ``x`` (B, G, L) -> (B, G, Cg, L)."""
    y0 = vl.floor(y).detach()
    x0 = vl.floor(x).detach()
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    inside = ((y > -1) & (y < height) & (x > -1) & (x < width)).to(inp.dtype)
    out = None
    cg = inp.shape[2]
    for dy, dx, wgt in ((0, 0, hy * hx), (0, 1, hy * lx), (1, 0, ly * hx), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        ok = ((yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)).to(inp.dtype)
        flat = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).to(vl.int64)
        index = flat[:, :, None, :].expand(-1, -1, cg, -1)
        term = vl.gather(inp, 3, index) * (wgt * ok * inside)[:, :, None, :]
        out = term if out is None else out + term
    return out


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                  mask=None):
    """Deformable convolution (v2 when ``mask`` is given).

    Args:
        input: Tensor[B, C_in, H, W].
        offset: Tensor[B, 2 * offset_groups * kh * kw, H_out, W_out]: ``(dy, dx)`` per group and tap.
        weight: Tensor[C_out, C_in / groups, kh, kw].
        bias: Tensor[C_out] or None.
        stride, padding, dilation: ``int`` or pairs, as :func:`conv2d`.
        mask: Tensor[B, offset_groups * kh * kw, H_out, W_out] modulating each sample, or None.
    Returns Tensor[B, C_out, H_out, W_out].
    """
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    b, c_in, height, width = input.shape
    c_out, c_per_group, kh, kw = weight.shape
    taps = kh * kw
    n_offset_grps = offset.shape[1] // (2 * taps)
    if n_offset_grps == 0 or offset.shape[1] % (2 * taps) != 0:
        raise RuntimeError("the shape of the offset tensor at dimension 1 is not valid. It should be a "
                           "multiple of 2 * weight.size[2] * weight.size[3].\nGot "
                           f"offset.shape[1]={offset.shape[1]}, while 2 * weight.size[2] * weight.size[3]="
                           f"{2 * taps}")
    if c_in % c_per_group != 0 or c_in % n_offset_grps != 0:
        raise RuntimeError(f"deform_conv2d: input channels ({c_in}) must be divisible by the weight's "
                           f"channels per group ({c_per_group}) and by the offset groups ({n_offset_grps})")
    n_weight_grps = c_in // c_per_group
    h_out = (height + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    w_out = (width + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    if tuple(offset.shape[2:]) != (h_out, w_out):
        raise RuntimeError(f"deform_conv2d: offset spatial size {tuple(offset.shape[2:])} must equal the "
                           f"output size {(h_out, w_out)}")
    if mask is not None and (mask.shape[1] != n_offset_grps * taps
                             or tuple(mask.shape[2:]) != (h_out, w_out)):
        raise RuntimeError(f"deform_conv2d: mask must be Tensor[{b}, {n_offset_grps * taps}, {h_out}, "
                           f"{w_out}], got {list(mask.shape)}")
    length = taps * h_out * w_out
    # Regular sampling grid per (tap, output position), as the kernel: (oy * s - p) + i * d.
    ki, kj = np.divmod(np.arange(taps), kw)
    gy = (np.arange(h_out) * sh - ph)[None, :, None] + (ki * dh)[:, None, None]
    gx = (np.arange(w_out) * sw - pw)[None, None, :] + (kj * dw)[:, None, None]
    base_y = vl.tensor(np.broadcast_to(gy, (taps, h_out, w_out)).reshape(-1), dtype=input.dtype,
                       device=input.device)
    base_x = vl.tensor(np.broadcast_to(gx, (taps, h_out, w_out)).reshape(-1), dtype=input.dtype,
                       device=input.device)
    off = offset.reshape(b, n_offset_grps, taps, 2, h_out * w_out)
    y = base_y + off[:, :, :, 0].reshape(b, n_offset_grps, length)
    x = base_x + off[:, :, :, 1].reshape(b, n_offset_grps, length)
    inp = input.reshape(b, n_offset_grps, c_in // n_offset_grps, height * width)
    cols = _sample(inp, y, x, height, width)  # (B, G_off, C/G_off, taps * HW_out)
    if mask is not None:
        cols = cols * mask.reshape(b, n_offset_grps, 1, length)
    cols = cols.reshape(b, n_weight_grps, c_per_group * taps, h_out * w_out)
    w = weight.reshape(n_weight_grps, c_out // n_weight_grps, c_per_group * taps)
    out = vl.matmul(w[None], cols).reshape(b, c_out, h_out, w_out)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return out


class DeformConv2d(nn.Module):
    """Module form of :func:`deform_conv2d`: holds ``weight`` (C_out, C_in / groups, kh, kw) and ``bias``;
    ``forward(input, offset, mask=None)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(vl.empty(out_channels, in_channels // groups, *self.kernel_size))
        if bias:
            self.bias = nn.Parameter(vl.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):
        return deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=mask)

    def __repr__(self):
        s = (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        s += ", bias=False" if self.bias is None else ""
        return s + ")"
