"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244), large and
small, with TorchVision's state-dict keys."""
from functools import partial

import visionlite as vl
from visionlite import nn

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import (
    Conv2dNormActivation,
    SqueezeExcitation,
    _load_weights,
    _make_divisible,
    _ovewrite_named_param,
    _reject_pretrained,
)

__all__ = ["MobileNetV3", "MobileNet_V3_Large_Weights", "MobileNet_V3_Small_Weights", "mobilenet_v3_large",
           "mobilenet_v3_small"]


class InvertedResidualConfig:
    """One bneck row of the paper's tables, channels scaled by ``width_mult`` and rounded to multiples of 8.

    ``activation`` is ``"RE"`` (ReLU) or ``"HS"`` (hard-swish).
    """

    def __init__(self, input_channels, kernel, expanded_channels, out_channels, use_se, activation, stride,
                 dilation, width_mult):
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels, width_mult):
        return _make_divisible(channels * width_mult, 8)


class InvertedResidual(nn.Module):
    """Expansion (when it widens), depthwise ``kernel`` convolution, optional squeeze-excitation with a hard
    sigmoid gate, linear projection; a shortcut when the block keeps the shape."""

    def __init__(self, cnf, norm_layer, se_layer=partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"illegal stride value {cnf.stride}: 1 or 2 expected")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU

        layers = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=activation_layer))
        # A dilated block keeps the resolution: the dilation replaces the stride.
        stride = 1 if cnf.dilation > 1 else cnf.stride
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels,
                                           kernel_size=cnf.kernel, stride=stride, dilation=cnf.dilation,
                                           groups=cnf.expanded_channels, norm_layer=norm_layer,
                                           activation_layer=activation_layer))
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels, _make_divisible(cnf.expanded_channels // 4, 8)))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_res_connect else out


class MobileNetV3(nn.Module):
    """MobileNetV3 body.

    Args:
        inverted_residual_setting: list of :class:`InvertedResidualConfig`, one per block.
        last_channel: width of the classifier's hidden layer.
        num_classes: size of the output ``(N, num_classes)``.
        block: the inverted residual block class.
        norm_layer: normalization layer constructor (default BatchNorm2d with eps=0.001, momentum=0.01).
        dropout: dropout probability before the last linear layer.
    Input ``(N, 3, H, W)``, any ``H, W >= 1``.
    """

    def __init__(self, inverted_residual_setting, last_channel, num_classes=1000, block=None, norm_layer=None,
                 dropout=0.2, **kwargs):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be a list of InvertedResidualConfig")
        block = block or InvertedResidual
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

        first_channels = inverted_residual_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first_channels, kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        lastconv_input = inverted_residual_setting[-1].out_channels
        lastconv_output = 6 * lastconv_input
        layers.append(Conv2dNormActivation(lastconv_input, lastconv_output, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv_output, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return self.classifier(vl.flatten(self.avgpool(self.features(x)), 1))


# Rows: input, kernel, expanded, output, squeeze-excite, activation, stride, dilation (paper tables 1 and 2).
_LARGE = [
    (16, 3, 16, 16, False, "RE", 1, 1),
    (16, 3, 64, 24, False, "RE", 2, 1),
    (24, 3, 72, 24, False, "RE", 1, 1),
    (24, 5, 72, 40, True, "RE", 2, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 3, 240, 80, False, "HS", 2, 1),
    (80, 3, 200, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 480, 112, True, "HS", 1, 1),
    (112, 3, 672, 112, True, "HS", 1, 1),
    (112, 5, 672, 160, True, "HS", 2, 1),
    (160, 5, 960, 160, True, "HS", 1, 1),
    (160, 5, 960, 160, True, "HS", 1, 1),
]
_SMALL = [
    (16, 3, 16, 16, True, "RE", 2, 1),
    (16, 3, 72, 24, False, "RE", 2, 1),
    (24, 3, 88, 24, False, "RE", 1, 1),
    (24, 5, 96, 40, True, "HS", 2, 1),
    (40, 5, 240, 40, True, "HS", 1, 1),
    (40, 5, 240, 40, True, "HS", 1, 1),
    (40, 5, 120, 48, True, "HS", 1, 1),
    (48, 5, 144, 48, True, "HS", 1, 1),
    (48, 5, 288, 96, True, "HS", 2, 1),
    (96, 5, 576, 96, True, "HS", 1, 1),
    (96, 5, 576, 96, True, "HS", 1, 1),
]
_ARCHS = {"mobilenet_v3_large": (_LARGE, 1280), "mobilenet_v3_small": (_SMALL, 1024)}


def _mobilenet_v3_conf(arch, width_mult=1.0, reduced_tail=False, dilated=False, **kwargs):
    """Block configs and classifier width for ``arch``.

    ``reduced_tail`` halves the channels of the last stage (the last three blocks) and the classifier, and
    ``dilated`` dilates those blocks instead of striding, as TorchVision's detection backbones do.
    """
    if arch not in _ARCHS:
        raise ValueError(f"Unsupported model type {arch}")
    rows, last = _ARCHS[arch]
    divider = 2 if reduced_tail else 1
    tail_start = len(rows) - 3
    setting = []
    for i, (inp, k, exp, out, se, act, stride, dil) in enumerate(rows):
        if i >= tail_start:
            inp = inp if i == tail_start else inp // divider
            exp = exp if i == tail_start else exp // divider
            out, dil = out // divider, 2 if dilated else 1
        setting.append(InvertedResidualConfig(inp, k, exp, out, se, act, stride, dil, width_mult))
    last_channel = InvertedResidualConfig.adjust_channels(last // divider, width_mult)
    return setting, last_channel


def _mobilenet_v3(inverted_residual_setting, last_channel, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = MobileNetV3(inverted_residual_setting, last_channel, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class MobileNet_V3_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mobilenet_v3_large", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("mobilenet_v3_large", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class MobileNet_V3_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mobilenet_v3_small", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


@register_model()
def mobilenet_v3_large(*, weights: MobileNet_V3_Large_Weights | None = None, progress: bool = True,
                       **kwargs) -> MobileNetV3:
    """MobileNetV3-Large from `Searching for MobileNetV3`.

    Args:
        weights: a :class:`MobileNet_V3_Large_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: ``width_mult``, ``reduced_tail``, ``dilated`` shape the blocks; the rest go to
            :class:`MobileNetV3` (``num_classes``, ``dropout``, ``norm_layer``).
    """
    _reject_pretrained(kwargs, MobileNet_V3_Large_Weights)
    weights = MobileNet_V3_Large_Weights.verify(weights)
    setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_large", **kwargs)
    return _mobilenet_v3(setting, last_channel, weights, progress, **kwargs)


@register_model()
def mobilenet_v3_small(*, weights: MobileNet_V3_Small_Weights | None = None, progress: bool = True,
                       **kwargs) -> MobileNetV3:
    """MobileNetV3-Small from `Searching for MobileNetV3`.

    Args:
        weights: a :class:`MobileNet_V3_Small_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: ``width_mult``, ``reduced_tail``, ``dilated`` shape the blocks; the rest go to
            :class:`MobileNetV3` (``num_classes``, ``dropout``, ``norm_layer``).
    """
    _reject_pretrained(kwargs, MobileNet_V3_Small_Weights)
    weights = MobileNet_V3_Small_Weights.verify(weights)
    setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_small", **kwargs)
    return _mobilenet_v3(setting, last_channel, weights, progress, **kwargs)
