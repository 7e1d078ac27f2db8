"""3-D convolutions as in ``torch.nn.functional``: ``conv3d`` and ``conv_transpose3d``.

Each is the 2-D machinery of ``core/ops/conv.py`` (phase-plane im2col + GEMM) with the time axis folded
into channels by ``core/ops/conv3d.py`` (see there). This module checks arguments and shapes.
"""
from ...amp_state import autocast_op
from ...autograd import function as _function
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.node_names import presents_as
from ...ops.conv import Conv2dOp
from ...ops.conv3d import ClipGeometry, TemporalFoldOp, TemporalUnfoldOp, TemporalWindows
from ...ops.matmul import matmul
from .conv import _check_tensors, _pair, conv2d, conv_transpose2d

__all__ = ["conv3d", "conv_transpose3d"]


def _records(*tensors):
    """Whether autograd records this call (then the differentiable window-copy path runs)."""
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _batched5(x, op):
    if x.ndim == 5:
        return x, False
    if x.ndim == 4:
        return x.unsqueeze(0), True
    raise RuntimeError(f"{op}: expected 4D (unbatched) or 5D (batched) input, but got input of shape "
                       f"{list(x.shape)}")


def _same_padding(k, dilation, stride, op):
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
    return [(d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2) for kk, d in zip(k, dilation)]


@autocast_op("conv3d")
@presents_as("ConvolutionBackward0", "input", "weight", "bias")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) over ``input (N, C, T, H, W)`` or ``(C, T, H, W)`` with
    ``weight (O, C/groups, kT, kH, kW)`` and optional ``bias (O,)`` -> ``(N, O, T_out, H_out, W_out)``.

    ``padding`` is an int, a triple, ``'valid'`` or ``'same'`` (stride 1 only)."""
    op = "conv3d"
    _check_tensors(op, input, weight, bias)
    x, unbatched = _batched5(input, op)
    if weight.ndim != 5:
        raise RuntimeError(f"{op}: weight must be 5-D (out_channels, in_channels/groups, kT, kH, kW), got "
                           f"shape {list(weight.shape)}")
    stride, dilation = _pair(stride, "stride", op, 3), _pair(dilation, "dilation", op, 3)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride={stride}, "
                         f"dilation={dilation}")
    o, cg, kt, kh, kw = weight.shape
    n, c, t, h, w = x.shape
    groups = int(groups)
    if groups < 1 or o % groups:
        raise ValueError(f"{op}: out_channels ({o}, weight shape {list(weight.shape)}) must be divisible by "
                         f"groups={groups}")
    if c != cg * groups:
        raise RuntimeError(f"{op}: expected input with {cg * groups} channels (weight shape "
                           f"{list(weight.shape)}, groups={groups}), got {c} channels in input of shape "
                           f"{list(x.shape)}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        sides = ([(0, 0)] * 3 if padding == "valid" else
                 _same_padding((kt, kh, kw), dilation, stride, op))
    else:
        pads = _pair(padding, "padding", op, 3)
        if min(pads) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
        sides = [(p, p) for p in pads]
    sizes = [t + sum(sides[0]), h + sum(sides[1]), w + sum(sides[2])]
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, (kt, kh, kw))]
    if any(s < e for s, e in zip(sizes, spans)):
        raise RuntimeError(f"{op}: calculated padded input size per channel ({' x '.join(map(str, sizes))}) "
                           f"is smaller than the (dilated) kernel size ({' x '.join(map(str, spans))}); use "
                           f"a larger input or more padding")
    t_out = (sizes[0] - spans[0]) // stride[0] + 1
    if (kt, kh, kw) == (1, 1, 1) and groups == 1 and not any(p for side in sides for p in side):
        # 1x1x1: one GEMM over all positions of each clip, no window copies.
        if stride != (1, 1, 1):
            x = x[:, :, :: stride[0], :: stride[1], :: stride[2]]
        y = matmul(weight.reshape(o, c), x.reshape(n, c, -1))
        if bias is not None:
            y = y + bias.reshape(o, 1)
        y = y.reshape((n, o) + tuple(x.shape[2:]))
        return y.squeeze(0) if unbatched else y
    win = TemporalWindows(t, kt, stride[0], dilation[0], sides[0][0], t_out)
    # (N, To, C, kt, H, W): each output frame's kt input frames as channels c*kt + i, matching the weight
    # reshaped to (O, C/g*kt, kH, kW); groups stay contiguous channel blocks.
    if not _records(x, weight, bias) and sides[1][0] == sides[1][1] and sides[2][0] == sides[2][1]:
        # Inference: the 2-D op reads the clip itself (no window copy) and writes (N, O, To, Ho, Wo).
        geom = ClipGeometry(tuple(x.shape), win, (o, cg * kt, kh, kw), groups, stride[1:],
                            (sides[1][0], sides[1][0], sides[2][0], sides[2][0]), dilation[1:])
        w2 = weight.reshape(o, cg * kt, kh, kw)
        y = Conv2dOp.apply(x, w2, geom=geom) if bias is None else Conv2dOp.apply(x, w2, bias, geom=geom)
        if y.ndim == 4:  # the exact-columns path builds its own (N*To, O, Ho, Wo) output
            y = y.reshape((n, t_out) + tuple(y.shape[1:])).permute(0, 2, 1, 3, 4).contiguous()
        return y.squeeze(0) if unbatched else y
    # (Not while the ONNX exporter traces: it compares op sequences at two batch sizes, which must agree.)
    if kt == 1 and n == 1 and sides[0] == (0, 0) and not _function.is_op_tracing():
        # One clip, per-frame kernel: the frames as a strided (To, C, H, W) view, which the 2-D op's
        # phase-plane split reads directly (no window copy).
        cols = x[0, :, : (t_out - 1) * stride[0] + 1 : stride[0]].transpose(0, 1)
    else:
        cols = TemporalUnfoldOp.apply(x, win=win, fill=0.0, time_major=True).reshape(n * t_out, c * kt, h, w)
    w2 = weight.reshape(o, cg * kt, kh, kw)
    if sides[1][0] == sides[1][1] and sides[2][0] == sides[2][1]:
        y = conv2d(cols, w2, bias, stride[1:], (sides[1][0], sides[2][0]), dilation[1:], groups)
    else:  # 'same' with an even kernel: PyTorch pads the odd extra row/column at the end
        from ...ops.movement import pad

        cols = pad(cols, (sides[2][0], sides[2][1], sides[1][0], sides[1][1]))
        y = conv2d(cols, w2, bias, stride[1:], 0, dilation[1:], groups)
    y = y.reshape((n, t_out) + tuple(y.shape[1:])).permute(0, 2, 1, 3, 4).contiguous()
    return y.squeeze(0) if unbatched else y


@autocast_op("conv_transpose3d")
@presents_as("ConvolutionBackward0", "input", "weight", "bias")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution of ``input (N, C_in, T, H, W)`` with a ``(C_in, C_out/groups, kT, kH, kW)``
    weight: ``(N, C_out, (T-1)*stride - 2*padding + dilation*(kT-1) + output_padding + 1, ...)``."""
    op = "conv_transpose3d"
    _check_tensors(op, input, weight, bias)
    x, unbatched = _batched5(input, op)
    if weight.ndim != 5:
        raise RuntimeError(f"{op}: weight must be 5-D (in_channels, out_channels/groups, kT, kH, kW), got "
                           f"shape {list(weight.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple (string padding is not supported)")
    stride, dilation = _pair(stride, "stride", op, 3), _pair(dilation, "dilation", op, 3)
    pads, out_pad = _pair(padding, "padding", op, 3), _pair(output_padding, "output_padding", op, 3)
    cin, cog, kt, kh, kw = weight.shape
    n, c, t, h, w = x.shape
    groups = int(groups)
    if groups < 1 or cin % groups:
        raise ValueError(f"{op}: in_channels ({cin}) must be divisible by groups={groups}")
    if c != cin:
        raise RuntimeError(f"{op}: expected input with {cin} channels (weight shape {list(weight.shape)}, "
                           f"groups={groups}), got {c} channels in input of shape {list(x.shape)}")
    for p, s, d in zip(out_pad, stride, dilation):
        if p < 0 or (p >= s and p >= d):
            raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                             f"output_padding={out_pad}, stride={stride}, dilation={dilation}")
    cout = cog * groups
    if bias is not None and tuple(bias.shape) != (cout,):
        raise RuntimeError(f"{op}: bias must have shape [{cout}] (one per output channel), got "
                           f"{list(bias.shape)}")
    t_out = (t - 1) * stride[0] - 2 * pads[0] + dilation[0] * (kt - 1) + out_pad[0] + 1
    if t_out < 1:
        raise RuntimeError(f"{op}: the output depth ({t_out}) is too small for input of shape "
                           f"{list(x.shape)}; reduce padding")
    # Each input frame's 2-D transposed convolution, one output channel block per tap (c*kt + i) ...
    frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
    z = conv_transpose2d(frames, weight.reshape(cin, cog * kt, kh, kw), None, stride[1:], pads[1:],
                         out_pad[1:], groups, dilation[1:])
    ho, wo = z.shape[-2:]
    # ... summed into output frame t*stride - padding + i*dilation: the adjoint of conv3d's unfold.
    win = TemporalWindows(t_out, kt, stride[0], dilation[0], pads[0], t)
    y = TemporalFoldOp.apply(z.reshape(n, t, cout, kt, ho, wo), win=win, time_major=True)
    if bias is not None:
        y = y + bias.reshape(-1, 1, 1, 1)
    return y.squeeze(0) if unbatched else y
