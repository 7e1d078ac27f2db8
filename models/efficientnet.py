"""EfficientNet B0-B7 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
https://arxiv.org/abs/1905.11946) and EfficientNetV2 S/M/L (Tan & Le, "EfficientNetV2: Smaller Models and
Faster Training", https://arxiv.org/abs/2104.00298), with TorchVision's state-dict keys.

Both are stacks of inverted-residual blocks with SiLU activations: MBConv (1x1 expansion, depthwise
convolution, squeeze-excitation, 1x1 projection) and, in V2's early stages, FusedMBConv (one full convolution
in place of expansion and depthwise). Residual branches are dropped with stochastic depth ("row" mode), its
probability growing linearly with the block index.
"""
import copy
import math
from functools import partial

import visionlite as vl
from visionlite import nn
from visionlite.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _make_divisible, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "EfficientNet",
    "EfficientNet_B0_Weights", "EfficientNet_B1_Weights", "EfficientNet_B2_Weights",
    "EfficientNet_B3_Weights", "EfficientNet_B4_Weights", "EfficientNet_B5_Weights",
    "EfficientNet_B6_Weights", "EfficientNet_B7_Weights",
    "EfficientNet_V2_S_Weights", "EfficientNet_V2_M_Weights", "EfficientNet_V2_L_Weights",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
    "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
]


class _MBConvConfig:
    """One stage: ``num_layers`` blocks of type ``block``; the first has ``stride`` and maps
    ``input_channels`` to ``out_channels``, the others keep ``out_channels`` at stride 1."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return _make_divisible(channels * width_mult, 8, min_value)

    def __repr__(self):
        fields = ("expand_ratio", "kernel", "stride", "input_channels", "out_channels", "num_layers")
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)}' for f in fields)})"


class MBConvConfig(_MBConvConfig):
    """A row of EfficientNet's Table 1 (or V2's Table 4), channels scaled by ``width_mult`` (rounded to
    multiples of 8) and depth by ``depth_mult`` (rounded up)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, width_mult=1.0,
                 depth_mult=1.0, block=None):
        super().__init__(expand_ratio, kernel, stride, self.adjust_channels(input_channels, width_mult),
                         self.adjust_channels(out_channels, width_mult),
                         self.adjust_depth(num_layers, depth_mult), block or MBConv)

    @staticmethod
    def adjust_depth(num_layers, depth_mult):
        return int(math.ceil(num_layers * depth_mult))


class FusedMBConvConfig(_MBConvConfig):
    """A FusedMBConv row of EfficientNetV2's Table 4 (no scaling)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block=None):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         block or FusedMBConv)


class _ResidualBlock(nn.Module):
    """``block`` plus, when the shape is kept, a shortcut whose branch goes through stochastic depth."""

    def _finish(self, cnf, layers, stochastic_depth_prob):
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


def _check_stride(cnf):
    if not 1 <= cnf.stride <= 2:
        raise ValueError(f"illegal stride value {cnf.stride}: 1 or 2 expected")


class MBConv(_ResidualBlock):
    """1x1 expansion (when it widens), depthwise ``kernel`` convolution, squeeze-excitation (squeezing to a
    quarter of the block's input channels), linear 1x1 projection."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer, se_layer=SqueezeExcitation):
        super().__init__()
        _check_stride(cnf)
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                           groups=expanded, norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(se_layer(expanded, max(1, cnf.input_channels // 4),
                               activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self._finish(cnf, layers, stochastic_depth_prob)


class FusedMBConv(_ResidualBlock):
    """A full ``kernel`` convolution doing expansion and striding at once, then a linear 1x1 projection (or,
    without expansion, the full convolution alone)."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        _check_stride(cnf)
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers = [
                Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                     norm_layer=norm_layer, activation_layer=nn.SiLU),
                Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                     activation_layer=None),
            ]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU)]
        self._finish(cnf, layers, stochastic_depth_prob)


class EfficientNet(nn.Module):
    """EfficientNet V1 and V2 body: a stride-2 3x3 stem, one Sequential per stage config, a 1x1 head
    convolution, pooling, dropout and a linear classifier.

    Args:
        inverted_residual_setting: list of :class:`MBConvConfig` / :class:`FusedMBConvConfig`, one per stage.
        dropout: dropout probability before the classifier.
        stochastic_depth_prob: stochastic depth probability of the last block (block ``i`` of ``n`` gets
            ``stochastic_depth_prob * i / n``).
        num_classes: size of the output ``(N, num_classes)``.
        norm_layer: normalization constructor (default ``nn.BatchNorm2d``).
        last_channel: width of the head convolution (default four times the last stage's width).
    Input ``(N, 3, H, W)``, any ``H, W >= 1``.
    """

    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2, num_classes=1000,
                 norm_layer=None, last_channel=None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        norm_layer = norm_layer or nn.BatchNorm2d

        first = inverted_residual_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first, kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        total_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for i in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if i > 0:
                    block_cnf.input_channels, block_cnf.stride = block_cnf.out_channels, 1
                sd_prob = stochastic_depth_prob * float(block_id) / total_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(last_out, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        x = vl.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


# Rows: expand ratio, kernel, stride, input channels, output channels, layers.
_B_ROWS = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
           (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
# V2 stages: the first three fused (F), the rest MBConv (M).
_V2_ROWS = {
    "efficientnet_v2_s": [("F", 1, 3, 1, 24, 24, 2), ("F", 4, 3, 2, 24, 48, 4), ("F", 4, 3, 2, 48, 64, 4),
                          ("M", 4, 3, 2, 64, 128, 6), ("M", 6, 3, 1, 128, 160, 9),
                          ("M", 6, 3, 2, 160, 256, 15)],
    "efficientnet_v2_m": [("F", 1, 3, 1, 24, 24, 3), ("F", 4, 3, 2, 24, 48, 5), ("F", 4, 3, 2, 48, 80, 5),
                          ("M", 4, 3, 2, 80, 160, 7), ("M", 6, 3, 1, 160, 176, 14),
                          ("M", 6, 3, 2, 176, 304, 18), ("M", 6, 3, 1, 304, 512, 5)],
    "efficientnet_v2_l": [("F", 1, 3, 1, 32, 32, 4), ("F", 4, 3, 2, 32, 64, 7), ("F", 4, 3, 2, 64, 96, 7),
                          ("M", 4, 3, 2, 96, 192, 10), ("M", 6, 3, 1, 192, 224, 19),
                          ("M", 6, 3, 2, 224, 384, 25), ("M", 6, 3, 1, 384, 640, 7)],
}


def _efficientnet_conf(arch, width_mult=1.0, depth_mult=1.0):
    """Stage configs and head width of ``arch`` ("efficientnet_b*" scaled by the multipliers, or a V2)."""
    if arch.startswith("efficientnet_b"):
        return [MBConvConfig(*row, width_mult=width_mult, depth_mult=depth_mult) for row in _B_ROWS], None
    for name, rows in _V2_ROWS.items():
        if arch.startswith(name):
            kinds = {"F": FusedMBConvConfig, "M": MBConvConfig}
            return [kinds[kind](*row) for kind, *row in rows], 1280
    raise ValueError(f"Unsupported model type {arch}")


_BN_1E3_M01 = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)  # the batch norm of the B5-B7 ports
_BN_1E3 = partial(nn.BatchNorm2d, eps=1e-03)
# arch: width multiplier, depth multiplier, default dropout, norm layer (None: BatchNorm2d's defaults)
_ARCHS = {
    "efficientnet_b0": (1.0, 1.0, 0.2, None), "efficientnet_b1": (1.0, 1.1, 0.2, None),
    "efficientnet_b2": (1.1, 1.2, 0.3, None), "efficientnet_b3": (1.2, 1.4, 0.3, None),
    "efficientnet_b4": (1.4, 1.8, 0.4, None), "efficientnet_b5": (1.6, 2.2, 0.4, _BN_1E3_M01),
    "efficientnet_b6": (1.8, 2.6, 0.5, _BN_1E3_M01), "efficientnet_b7": (2.0, 3.1, 0.5, _BN_1E3_M01),
    "efficientnet_v2_s": (1.0, 1.0, 0.2, _BN_1E3), "efficientnet_v2_m": (1.0, 1.0, 0.3, _BN_1E3),
    "efficientnet_v2_l": (1.0, 1.0, 0.4, _BN_1E3),
}


def _efficientnet(arch, enum, weights, progress, **kwargs):
    _reject_pretrained(kwargs, enum)
    weights = enum.verify(weights)
    width_mult, depth_mult, dropout, norm_layer = _ARCHS[arch]
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    setting, last_channel = _efficientnet_conf(arch, width_mult, depth_mult)
    if norm_layer is not None:
        kwargs.setdefault("norm_layer", norm_layer)
    model = EfficientNet(setting, kwargs.pop("dropout", dropout), last_channel=last_channel, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class EfficientNet_B0_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b1", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("efficientnet_b1", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b2", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b3", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B4_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b4", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B5_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B6_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b6", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B7_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_b7", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_v2_s", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_M_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_v2_m", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_L_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("efficientnet_v2_l", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_V1_PAPER = "`EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks`"
_V2_PAPER = "`EfficientNetV2: Smaller Models and Faster Training`"
_BUILDER_DOC = """{title}

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`EfficientNet` (``num_classes``, ``dropout`` (default {dropout}),
            ``stochastic_depth_prob``, ``norm_layer``, ...).
    """


def _documented(title, enum, arch) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(title=title, enum=enum.__name__, dropout=_ARCHS[arch][2])
        return fn
    return wrap


@register_model()
@_documented(f"EfficientNet B0 from {_V1_PAPER}.", EfficientNet_B0_Weights, "efficientnet_b0")
def efficientnet_b0(*, weights: EfficientNet_B0_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b0", EfficientNet_B0_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B1 from {_V1_PAPER}.", EfficientNet_B1_Weights, "efficientnet_b1")
def efficientnet_b1(*, weights: EfficientNet_B1_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b1", EfficientNet_B1_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B2 from {_V1_PAPER}.", EfficientNet_B2_Weights, "efficientnet_b2")
def efficientnet_b2(*, weights: EfficientNet_B2_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b2", EfficientNet_B2_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B3 from {_V1_PAPER}.", EfficientNet_B3_Weights, "efficientnet_b3")
def efficientnet_b3(*, weights: EfficientNet_B3_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b3", EfficientNet_B3_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B4 from {_V1_PAPER}.", EfficientNet_B4_Weights, "efficientnet_b4")
def efficientnet_b4(*, weights: EfficientNet_B4_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b4", EfficientNet_B4_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B5 from {_V1_PAPER}.", EfficientNet_B5_Weights, "efficientnet_b5")
def efficientnet_b5(*, weights: EfficientNet_B5_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b5", EfficientNet_B5_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B6 from {_V1_PAPER}.", EfficientNet_B6_Weights, "efficientnet_b6")
def efficientnet_b6(*, weights: EfficientNet_B6_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b6", EfficientNet_B6_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNet B7 from {_V1_PAPER}.", EfficientNet_B7_Weights, "efficientnet_b7")
def efficientnet_b7(*, weights: EfficientNet_B7_Weights | None = None, progress: bool = True,
                    **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_b7", EfficientNet_B7_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNetV2-S from {_V2_PAPER}.", EfficientNet_V2_S_Weights, "efficientnet_v2_s")
def efficientnet_v2_s(*, weights: EfficientNet_V2_S_Weights | None = None, progress: bool = True,
                      **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_v2_s", EfficientNet_V2_S_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNetV2-M from {_V2_PAPER}.", EfficientNet_V2_M_Weights, "efficientnet_v2_m")
def efficientnet_v2_m(*, weights: EfficientNet_V2_M_Weights | None = None, progress: bool = True,
                      **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_v2_m", EfficientNet_V2_M_Weights, weights, progress, **kwargs)


@register_model()
@_documented(f"EfficientNetV2-L from {_V2_PAPER}.", EfficientNet_V2_L_Weights, "efficientnet_v2_l")
def efficientnet_v2_l(*, weights: EfficientNet_V2_L_Weights | None = None, progress: bool = True,
                      **kwargs) -> EfficientNet:
    return _efficientnet("efficientnet_v2_l", EfficientNet_V2_L_Weights, weights, progress, **kwargs)
