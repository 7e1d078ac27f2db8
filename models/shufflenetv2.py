"""ShuffleNet V2 (Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
https://arxiv.org/abs/1807.11164).

Each unit splits its channels in two (or, when downsampling, feeds the whole input to two strided
branches), transforms one half with a 1x1 / depthwise 3x3 / 1x1 branch, concatenates, and interleaves the
two halves' channels ("channel shuffle") so information crosses between them in the next unit. State-dict
keys equal TorchVision's.
"""
import visionlite as vl
from visionlite import nn

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "ShuffleNetV2", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights", "ShuffleNet_V2_X1_5_Weights",
    "ShuffleNet_V2_X2_0_Weights", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]


def channel_shuffle(x, groups):
    """Interleave the ``groups`` channel groups of ``(N, C, H, W)``: channel ``g * (C // groups) + i`` moves
    to ``i * groups + g``."""
    # Spelled as TorchVision spells it, so a symbolic trace has its node names (size, view, transpose, ...).
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = vl.transpose(x, 1, 2).contiguous()
    return x.view(n, c, h, w)


def _depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class InvertedResidual(nn.Module):
    """A ShuffleNet V2 unit from ``inp`` to ``oup`` channels. At stride 1 the input's second half goes through
    ``branch2`` and the first half passes unchanged (so ``inp == oup``); at stride 2 or 3 both branches see
    the whole input. Either way the two halves are concatenated and channel-shuffled."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} values. If "
                             "stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, 1, bias=False), nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, 1, bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
            _depthwise(branch_features, stride), nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, 1, bias=False), nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def depthwise_conv(i, o, kernel_size, stride=1, padding=0, bias=False):
        """A depthwise convolution (``groups=i``), as TorchVision's helper of the same name."""
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = vl.cat((x1, self.branch2(x2)), 1)
        else:
            out = vl.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2: a strided 3x3 stem and max pooling, three stages of units (``stage2``-``stage4``, each
    opening with a stride-2 unit), a 1x1 ``conv5``, global average pooling and a linear ``fc``.

    Args:
        stages_repeats: units in each of the three stages.
        stages_out_channels: channels of the stem, the three stages and ``conv5`` (five numbers).
        num_classes: size of the output ``(N, num_classes)``.
        inverted_residual: the unit class (default :class:`InvertedResidual`).
    """

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000,
                 inverted_residual=InvertedResidual):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False), nn.BatchNorm2d(channels),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (repeats, out_channels) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            units = [inverted_residual(channels, out_channels, 2)]
            units += [inverted_residual(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            channels = out_channels
        out_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(channels, out_channels, 1, 1, 0, bias=False),
                                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.fc = nn.Linear(out_channels, num_classes)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


def _shufflenetv2(weights, progress, *args, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ShuffleNetV2(*args, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class ShuffleNet_V2_X0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("shufflenet_v2_x0_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("shufflenet_v2_x1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("shufflenet_v2_x1_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X2_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("shufflenet_v2_x2_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """ShuffleNetV2 with {width}x output channels, from `ShuffleNet V2: Practical Guidelines for
    Efficient CNN Architecture Design`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`ShuffleNetV2` (``num_classes``, ``inverted_residual``).
    """


def _documented(width, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(width=width, enum=enum.__name__)
        return fn
    return wrap


_REPEATS = [4, 8, 4]


@register_model()
@_documented(0.5, ShuffleNet_V2_X0_5_Weights)
def shufflenet_v2_x0_5(*, weights: ShuffleNet_V2_X0_5_Weights | None = None, progress: bool = True,
                       **kwargs) -> ShuffleNetV2:
    _reject_pretrained(kwargs, ShuffleNet_V2_X0_5_Weights)
    weights = ShuffleNet_V2_X0_5_Weights.verify(weights)
    return _shufflenetv2(weights, progress, _REPEATS, [24, 48, 96, 192, 1024], **kwargs)


@register_model()
@_documented(1.0, ShuffleNet_V2_X1_0_Weights)
def shufflenet_v2_x1_0(*, weights: ShuffleNet_V2_X1_0_Weights | None = None, progress: bool = True,
                       **kwargs) -> ShuffleNetV2:
    _reject_pretrained(kwargs, ShuffleNet_V2_X1_0_Weights)
    weights = ShuffleNet_V2_X1_0_Weights.verify(weights)
    return _shufflenetv2(weights, progress, _REPEATS, [24, 116, 232, 464, 1024], **kwargs)


@register_model()
@_documented(1.5, ShuffleNet_V2_X1_5_Weights)
def shufflenet_v2_x1_5(*, weights: ShuffleNet_V2_X1_5_Weights | None = None, progress: bool = True,
                       **kwargs) -> ShuffleNetV2:
    _reject_pretrained(kwargs, ShuffleNet_V2_X1_5_Weights)
    weights = ShuffleNet_V2_X1_5_Weights.verify(weights)
    return _shufflenetv2(weights, progress, _REPEATS, [24, 176, 352, 704, 1024], **kwargs)


@register_model()
@_documented(2.0, ShuffleNet_V2_X2_0_Weights)
def shufflenet_v2_x2_0(*, weights: ShuffleNet_V2_X2_0_Weights | None = None, progress: bool = True,
                       **kwargs) -> ShuffleNetV2:
    _reject_pretrained(kwargs, ShuffleNet_V2_X2_0_Weights)
    weights = ShuffleNet_V2_X2_0_Weights.verify(weights)
    return _shufflenetv2(weights, progress, _REPEATS, [24, 244, 488, 976, 2048], **kwargs)
