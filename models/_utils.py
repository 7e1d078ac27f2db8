"""Helpers shared by the model families: channel rounding, builder argument checks, loading weights, and
the conv-norm-activation and squeeze-excitation blocks (TorchVision keeps the last two in ``ops.misc``)."""
from visionlite import nn

__all__ = ["Conv2dNormActivation", "SqueezeExcitation"]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more than 10%
    below ``v``: the channel rounding of the MobileNet papers."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _ovewrite_named_param(kwargs, param, new_value):
    """Set ``kwargs[param]`` to what the weights need, refusing a conflicting value the caller passed."""
    if param in kwargs and kwargs[param] != new_value:
        raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} "
                         f"instead: the pretrained weights fix it. To use another value, load the weights "
                         f"first and then replace the layer (see visionlite.models.replace_head).")
    kwargs[param] = new_value


def _reject_pretrained(kwargs, weights_enum):
    if "pretrained" in kwargs:
        raise TypeError(f"'pretrained' is not an argument of visionlite's builders: pass "
                        f"weights={weights_enum.__name__}.DEFAULT (or weights='DEFAULT') for pretrained "
                        f"weights, or weights=None.")


def _load_weights(model, weights, progress):
    """Load ``weights`` (a WeightsEnum member) into ``model`` with ``strict=True``: no key may be missing or
    unexpected, so a mismatch between architecture and checkpoint is an error, never a silent partial load."""
    model.load_state_dict(weights.get_state_dict(progress=progress), strict=True)
    return model


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then a norm layer (unless None), then an activation (unless None), as one Sequential.

    Padding defaults to ``(kernel_size - 1) // 2 * dilation`` ("same" for odd kernels at stride 1); the conv
    has a bias only when there is no norm layer, unless ``bias`` says otherwise. Keys: ``0`` (conv),
    ``1`` (norm), then the activation.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        if padding is None:
            k = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
            d = (dilation,) * 2 if isinstance(dilation, int) else tuple(dilation)
            padding = tuple((ki - 1) // 2 * di for ki, di in zip(k, d))
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = padding[0]
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                            groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation (Hu et al., https://arxiv.org/abs/1709.01507): scales each channel of
    ``(N, C, H, W)`` by a gate computed from its global average through two 1x1 convolutions."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, x):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    def forward(self, x):
        return self._scale(x) * x
