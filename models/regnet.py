"""RegNet X and Y (Radosavovic et al., "Designing Network Design Spaces", https://arxiv.org/abs/2003.13678),
every size TorchVision registers (400MF to 128GF, incl. the SWAG end-to-end and linear-probe weights), with
TorchVision's state-dict keys.

A RegNet is a stem, four stages of residual bottleneck blocks with grouped 3x3 convolutions (RegNetY adds
squeeze-excitation) and a linear head. The stage widths and depths follow from four numbers (depth, initial
width ``w_0``, slope ``w_a``, log-step ``w_m``) through the quantized linear rule of the paper.
"""
import math
from collections import OrderedDict
from functools import partial

import numpy as np

import visionlite as vl
from visionlite import nn
from visionlite.ops import Conv2dNormActivation, SqueezeExcitation

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _make_divisible, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "RegNet",
    "RegNet_Y_400MF_Weights", "RegNet_Y_800MF_Weights", "RegNet_Y_1_6GF_Weights", "RegNet_Y_3_2GF_Weights",
    "RegNet_Y_8GF_Weights", "RegNet_Y_16GF_Weights", "RegNet_Y_32GF_Weights", "RegNet_Y_128GF_Weights",
    "RegNet_X_400MF_Weights", "RegNet_X_800MF_Weights", "RegNet_X_1_6GF_Weights", "RegNet_X_3_2GF_Weights",
    "RegNet_X_8GF_Weights", "RegNet_X_16GF_Weights", "RegNet_X_32GF_Weights",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf",
    "regnet_y_32gf", "regnet_y_128gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf",
    "regnet_x_3_2gf", "regnet_x_8gf", "regnet_x_16gf", "regnet_x_32gf",
]


class SimpleStemIN(Conv2dNormActivation):
    """ImageNet stem: 3x3 stride-2 convolution, norm, activation."""

    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1 (``a``), grouped 3x3 with the stride (``b``), optional squeeze-excitation (``se``, squeezing to
    ``se_ratio`` times the block's input width), linear 1x1 (``c``)."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width,
                 bottleneck_multiplier, se_ratio):
        w_b = int(round(width_out * bottleneck_multiplier))
        layers = OrderedDict()
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=w_b // group_width,
                                           norm_layer=norm_layer, activation_layer=activation_layer)
        if se_ratio:
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """``activation(shortcut(x) + f(x))``; the shortcut is a strided 1x1 projection (``proj``) when the shape
    changes, else the identity."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer, group_width,
                                     bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class AnyStage(nn.Sequential):
    """``depth`` blocks named ``block{stage_index}-{i}``; the first has the stride and the width change."""

    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer, activation_layer,
                 group_width, bottleneck_multiplier, se_ratio=None, stage_index=0):
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                                      norm_layer, activation_layer, group_width, bottleneck_multiplier,
                                      se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    """Per-stage settings: ``depths``, ``widths``, ``group_widths``, ``bottleneck_multipliers``, ``strides``
    (lists, one entry per stage) and the network-wide ``se_ratio``."""

    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides, se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0, se_ratio=None,
                         **kwargs):
        """The stages of a RegNet with ``depth`` blocks: block ``j`` would have width ``w_0 + w_a * j``;
        each is snapped to ``w_0 * w_m ** k`` (``k`` the nearest integer) and quantized to a multiple of 8,
        and consecutive blocks of equal width form a stage. Group widths are then made to divide the
        bottleneck widths. Computed in float32, as TorchVision does, so rounding ties fall the same way."""
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        f32 = np.float32
        widths_cont = np.arange(depth).astype(f32) * f32(w_a) + f32(w_0)
        capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(math.log(w_m)))
        snapped = f32(w_0) * np.power(f32(w_m), capacity)
        block_widths = (np.round(snapped / f32(8)) * 8).astype(np.int64).tolist()

        # A new stage starts wherever the width changes.
        starts = [j for j in range(depth) if j == 0 or block_widths[j] != block_widths[j - 1]] + [depth]
        stage_widths = [block_widths[j] for j in starts[:-1]]
        stage_depths = [b - a for a, b in zip(starts[:-1], starts[1:])]
        n = len(stage_widths)
        multipliers = [bottleneck_multiplier] * n
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(stage_widths, multipliers,
                                                                            [group_width] * n)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=multipliers, strides=[2] * n, se_ratio=se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths, self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        """Stage widths whose bottleneck widths are multiples of the (capped) group widths."""
        bottlenecks = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_widths = [min(g, w) for g, w in zip(group_widths, bottlenecks)]
        bottlenecks = [_make_divisible(w, g) for w, g in zip(bottlenecks, group_widths)]
        return [int(w / b) for w, b in zip(bottlenecks, bottleneck_ratios)], group_widths


class RegNet(nn.Module):
    """RegNet body: ``stem``, ``trunk_output`` (stages ``block1``..``block4``), pooling and a linear ``fc``.

    Args:
        block_params: :class:`BlockParams` of the stages.
        num_classes: size of the output ``(N, num_classes)``.
        stem_width: output channels of the stem.
        stem_type, block_type: constructors of the stem (default SimpleStemIN) and blocks
            (ResBottleneckBlock).
        norm_layer: normalization constructor (default ``nn.BatchNorm2d``).
        activation: activation constructor (default ``nn.ReLU``).
    Input ``(N, 3, H, W)``, any ``H, W >= 1``.
    """

    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None, block_type=None,
                 norm_layer=None, activation=None):
        super().__init__()
        stem_type = stem_type or SimpleStemIN
        norm_layer = norm_layer or nn.BatchNorm2d
        block_type = block_type or ResBottleneckBlock
        activation = activation or nn.ReLU

        self.stem = stem_type(3, stem_width, norm_layer, activation)
        width = stem_width
        stages = OrderedDict()
        for i, (width_out, stride, depth, group_width, multiplier) in enumerate(
                block_params._get_expanded_params()):
            stages[f"block{i + 1}"] = AnyStage(width, width_out, stride, depth, block_type, norm_layer,
                                               activation, group_width, multiplier, block_params.se_ratio,
                                               stage_index=i + 1)
            width = width_out
        self.trunk_output = nn.Sequential(stages)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=width, out_features=num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(vl.flatten(x, 1))


# arch: depth, w_0, w_a, w_m, group width, squeeze-excitation ratio (RegNetY) -- the paper's Table 7 rows.
_ARCHS = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None),
}


def _block_params(arch):
    depth, w_0, w_a, w_m, group_width, se_ratio = _ARCHS[arch]
    return BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group_width=group_width,
                                        se_ratio=se_ratio)


def _regnet(arch, enum, weights, progress, **kwargs):
    _reject_pretrained(kwargs, enum)
    weights = enum.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    model = RegNet(_block_params(arch), norm_layer=norm_layer, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class RegNet_Y_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_400mf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_400mf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_800mf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_800mf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_1_6gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_1_6gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_3_2gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_3_2gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_8gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_8gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_16gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_16gf", "IMAGENET1K_V2")
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("regnet_y_16gf", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("regnet_y_16gf", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_y_32gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_y_32gf", "IMAGENET1K_V2")
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("regnet_y_32gf", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("regnet_y_32gf", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_128GF_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("regnet_y_128gf", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("regnet_y_128gf", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


class RegNet_X_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_400mf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_400mf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_800mf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_800mf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_1_6gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_1_6gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_3_2gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_3_2gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_8gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_8gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_16gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_16gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class RegNet_X_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("regnet_x_32gf", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("regnet_x_32gf", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """{title} from `Designing Network Design Spaces`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``, ...) or None for
            random initialisation. Pretrained weights are downloaded once, verified and cached.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`RegNet` (``num_classes``, ``stem_width``, ``norm_layer``, ``activation``,
            ...).
    """


def _documented(arch, enum) -> Decorator:
    def wrap(fn):
        title = arch.replace("regnet_", "RegNet").replace("_", "-", 1).replace("_", ".").upper()
        fn.__doc__ = _BUILDER_DOC.format(title=title.replace("REGNET", "RegNet"), enum=enum.__name__)
        return fn
    return wrap


@register_model()
@_documented("regnet_y_400mf", RegNet_Y_400MF_Weights)
def regnet_y_400mf(*, weights: RegNet_Y_400MF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_y_400mf", RegNet_Y_400MF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_800mf", RegNet_Y_800MF_Weights)
def regnet_y_800mf(*, weights: RegNet_Y_800MF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_y_800mf", RegNet_Y_800MF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_1_6gf", RegNet_Y_1_6GF_Weights)
def regnet_y_1_6gf(*, weights: RegNet_Y_1_6GF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_y_1_6gf", RegNet_Y_1_6GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_3_2gf", RegNet_Y_3_2GF_Weights)
def regnet_y_3_2gf(*, weights: RegNet_Y_3_2GF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_y_3_2gf", RegNet_Y_3_2GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_8gf", RegNet_Y_8GF_Weights)
def regnet_y_8gf(*, weights: RegNet_Y_8GF_Weights | None = None, progress: bool = True,
                 **kwargs) -> RegNet:
    return _regnet("regnet_y_8gf", RegNet_Y_8GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_16gf", RegNet_Y_16GF_Weights)
def regnet_y_16gf(*, weights: RegNet_Y_16GF_Weights | None = None, progress: bool = True,
                  **kwargs) -> RegNet:
    return _regnet("regnet_y_16gf", RegNet_Y_16GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_32gf", RegNet_Y_32GF_Weights)
def regnet_y_32gf(*, weights: RegNet_Y_32GF_Weights | None = None, progress: bool = True,
                  **kwargs) -> RegNet:
    return _regnet("regnet_y_32gf", RegNet_Y_32GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_y_128gf", RegNet_Y_128GF_Weights)
def regnet_y_128gf(*, weights: RegNet_Y_128GF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_y_128gf", RegNet_Y_128GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_400mf", RegNet_X_400MF_Weights)
def regnet_x_400mf(*, weights: RegNet_X_400MF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_x_400mf", RegNet_X_400MF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_800mf", RegNet_X_800MF_Weights)
def regnet_x_800mf(*, weights: RegNet_X_800MF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_x_800mf", RegNet_X_800MF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_1_6gf", RegNet_X_1_6GF_Weights)
def regnet_x_1_6gf(*, weights: RegNet_X_1_6GF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_x_1_6gf", RegNet_X_1_6GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_3_2gf", RegNet_X_3_2GF_Weights)
def regnet_x_3_2gf(*, weights: RegNet_X_3_2GF_Weights | None = None, progress: bool = True,
                   **kwargs) -> RegNet:
    return _regnet("regnet_x_3_2gf", RegNet_X_3_2GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_8gf", RegNet_X_8GF_Weights)
def regnet_x_8gf(*, weights: RegNet_X_8GF_Weights | None = None, progress: bool = True,
                 **kwargs) -> RegNet:
    return _regnet("regnet_x_8gf", RegNet_X_8GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_16gf", RegNet_X_16GF_Weights)
def regnet_x_16gf(*, weights: RegNet_X_16GF_Weights | None = None, progress: bool = True,
                  **kwargs) -> RegNet:
    return _regnet("regnet_x_16gf", RegNet_X_16GF_Weights, weights, progress, **kwargs)


@register_model()
@_documented("regnet_x_32gf", RegNet_X_32GF_Weights)
def regnet_x_32gf(*, weights: RegNet_X_32GF_Weights | None = None, progress: bool = True,
                  **kwargs) -> RegNet:
    return _regnet("regnet_x_32gf", RegNet_X_32GF_Weights, weights, progress, **kwargs)
