"""Small layers shared by the model families, as ``torchvision.ops.misc``: conv-norm-activation stacks,
squeeze-excitation, the MLP block, ``Permute`` and a frozen batch norm."""
import warnings

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn

__all__ = ["Conv2dNormActivation", "Conv3dNormActivation", "SqueezeExcitation", "MLP", "Permute",
           "FrozenBatchNorm2d"]


def _same_padding(kernel_size, dilation):
    # (k - 1) // 2 * d per dimension: "same" output size for odd kernels at stride 1.
    if isinstance(kernel_size, int) and isinstance(dilation, int):
        return (kernel_size - 1) // 2 * dilation
    n = len(kernel_size) if not isinstance(kernel_size, int) else len(dilation)
    k = (kernel_size,) * n if isinstance(kernel_size, int) else tuple(kernel_size)
    d = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    return tuple((ki - 1) // 2 * di for ki, di in zip(k, d))


class _ConvNormActivation(nn.Sequential):
    """Convolution, then a norm layer (unless None), then an activation (unless None), as one Sequential
    with keys ``0`` (conv), ``1`` (norm), then the activation."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
                 activation_layer, dilation, inplace, bias, conv_layer):
        if padding is None:
            padding = _same_padding(kernel_size, dilation)
        if bias is None:
            bias = norm_layer is None  # a norm layer's shift makes the conv bias redundant
        layers = [conv_layer(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                             groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
        super().__init__(*layers)
        self.out_channels = out_channels


class Conv2dNormActivation(_ConvNormActivation):
    """Conv2d -> norm -> activation.

    Args:
        in_channels, out_channels: channels of the input ``(N, C_in, H, W)`` and output.
        kernel_size, stride, dilation, groups: as :class:`nn.Conv2d`.
        padding: default ``(kernel_size - 1) // 2 * dilation`` per dimension.
        norm_layer: constructor called with ``out_channels`` (default ``nn.BatchNorm2d``), or None.
        activation_layer: constructor (default ``nn.ReLU``), or None.
        inplace: passed to the activation as ``inplace=`` unless None.
        bias: conv bias; default True only when there is no norm layer.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
                         activation_layer, dilation, inplace, bias, nn.Conv2d)


class Conv3dNormActivation(_ConvNormActivation):
    """Conv3d -> norm (default ``nn.BatchNorm3d``) -> activation, for video ``(N, C, T, H, W)``; arguments
    as :class:`Conv2dNormActivation`."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm3d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
                         activation_layer, dilation, inplace, bias, nn.Conv3d)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation (Hu et al., https://arxiv.org/abs/1709.01507): each channel of ``(N, C, H, W)``
    is scaled by a gate computed from the global average through two 1x1 convolutions.

    Args:
        input_channels: ``C``.
        squeeze_channels: width of the bottleneck between ``fc1`` and ``fc2``.
        activation: constructor of the bottleneck activation (delta of the paper, default ReLU).
        scale_activation: constructor of the gate (sigma, default Sigmoid).
    """

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))

    def forward(self, input):
        return self._scale(input) * input


class MLP(nn.Sequential):
    """Linear layers over the last dimension: ``Linear [-> norm] -> activation -> Dropout`` per hidden width,
    then ``Linear -> Dropout`` to ``hidden_channels[-1]``.

    Args:
        in_channels: size of the input's last dimension.
        hidden_channels: widths of the successive linear layers (the last is the output width).
        norm_layer: constructor called with each hidden width, or None (default).
        activation_layer: constructor (default ``nn.ReLU``).
        inplace: passed to the activation and dropout as ``inplace=`` unless None (default: their defaults).
        bias: bias of the linear layers.
        dropout: dropout probability.
    """

    def __init__(self, in_channels, hidden_channels, norm_layer=None, activation_layer=nn.ReLU, inplace=None,
                 bias=True, dropout=0.0):
        params = {} if inplace is None else {"inplace": inplace}
        layers = []
        width = in_channels
        for hidden in hidden_channels[:-1]:
            layers.append(nn.Linear(width, hidden, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden))
            layers += [activation_layer(**params), nn.Dropout(dropout, **params)]
            width = hidden
        layers += [nn.Linear(width, hidden_channels[-1], bias=bias), nn.Dropout(dropout, **params)]
        super().__init__(*layers)


class Permute(nn.Module):
    """Returns the input with its dimensions in the order ``dims`` (a view, as ``Tensor.permute``)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return vl.permute(x, self.dims)


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters, all four stored as buffers (no gradient, not
    updated): ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` over ``(N, C, H, W)``.

    Loads BatchNorm2d checkpoints: their ``num_batches_tracked`` entry is ignored.
    """

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", vl.ones(num_features))
        self.register_buffer("bias", vl.zeros(num_features))
        self.register_buffer("running_mean", vl.zeros(num_features))
        self.register_buffer("running_var", vl.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, x):
        # Fold the four buffers into one scale and one shift, then a single multiply-add over the input.
        scale = self.weight.reshape(1, -1, 1, 1) * (self.running_var.reshape(1, -1, 1, 1) + self.eps).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x * scale + shift

    def __repr__(self):
        return f"{type(self).__name__}({self.weight.shape[0]}, eps={self.eps})"


interpolate = F.interpolate  # torchvision.ops.misc.interpolate is nn.functional.interpolate


class ConvNormActivation(_ConvNormActivation):
    """The generic conv -> norm -> activation stack with its convolution chosen by ``conv_layer``; kept for
    old code, as TorchVision (which warns when it is built directly): use :class:`Conv2dNormActivation`."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None,
                 conv_layer=nn.Conv2d):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups, norm_layer,
                         activation_layer, dilation, inplace, bias, conv_layer)
        if type(self) is ConvNormActivation:
            warnings.warn("Don't use ConvNormActivation directly, please use Conv2dNormActivation and "
                          "Conv3dNormActivation instead.", stacklevel=2)
