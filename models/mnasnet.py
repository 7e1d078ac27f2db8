"""MNASNet (Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile",
https://arxiv.org/abs/1807.11626), variant B1 at depth multipliers 0.5, 0.75, 1.0 and 1.3, with TorchVision's
state-dict keys.

The state dict is versioned as TorchVision's: version 2 (current) scales the stem with the depth multiplier;
a version-1 checkpoint (saved before that change) is loaded by rebuilding the fixed 32/16-channel stem first,
with a warning. Models with multiplier 1.0 are the same in both versions.
"""
import warnings

from visionlite import nn

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["MNASNet", "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights", "MNASNet1_3_Weights",
           "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]

# The paper's TensorFlow momentum 0.9997, in PyTorch's convention (weight of the new batch).
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    """1x1 expansion by ``expansion_factor``, depthwise ``kernel_size`` convolution with the stride, linear
    1x1 projection (BatchNorm after each, ReLU after the first two); a shortcut when the shape is kept."""

    def __init__(self, in_ch, out_ch, kernel_size, stride, expansion_factor, bn_momentum=0.1):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in (3, 5):
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid, 1, bias=False),
            nn.BatchNorm2d(mid, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel_size, padding=kernel_size // 2, stride=stride, groups=mid, bias=False),
            nn.BatchNorm2d(mid, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input):
        out = self.layers(input)
        return out + input if self.apply_residual else out


def _stack(in_ch, out_ch, kernel_size, stride, exp_factor, repeats, bn_momentum):
    """``repeats`` inverted residuals; only the first changes width and strides (so it has no shortcut)."""
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    blocks = [_InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum=bn_momentum)]
    blocks += [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum=bn_momentum)
               for _ in range(1, repeats)]
    return nn.Sequential(*blocks)


def _round_to_multiple_of(val, divisor, round_up_bias=0.9):
    """``val`` rounded to a multiple of ``divisor``, rounding up unless that stays within 10% below ``val``:
    (83, 8) -> 80, (84, 8) -> 88."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError(f"round_up_bias should be greater than 0.0 and smaller than 1.0 instead of "
                         f"{round_up_bias}")
    rounded = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return rounded if rounded >= round_up_bias * val else rounded + divisor


def _get_depths(alpha):
    """Channel counts of the stem and the six stacks, scaled by the depth multiplier ``alpha``."""
    return [_round_to_multiple_of(depth * alpha, 8) for depth in (32, 16, 24, 40, 80, 96, 192, 320)]


def _stem(first, second):
    # conv 3x3 stride 2, then a depthwise-separable convolution without shortcut (keys layers.0 to layers.7)
    return [
        nn.Conv2d(3, first, 3, padding=1, stride=2, bias=False),
        nn.BatchNorm2d(first, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(first, first, 3, padding=1, stride=1, groups=first, bias=False),
        nn.BatchNorm2d(first, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(first, second, 1, padding=0, stride=1, bias=False),
        nn.BatchNorm2d(second, momentum=_BN_MOMENTUM),
    ]


class MNASNet(nn.Module):
    """MNASNet-B1: a stem, six stacks of inverted residuals, a 1x1 convolution to 1280 channels, global
    average pooling, dropout and a linear classifier.

    Args:
        alpha: depth multiplier (scales every width but the last 1280), > 0.
        num_classes: size of the output ``(N, num_classes)``.
        dropout: dropout probability before the classifier.
    Input ``(N, 3, H, W)``, any ``H, W >= 1``.
    """

    # Version 2 scales the stem with alpha; version 1 checkpoints have a fixed 32/16-channel stem.
    _version = 2

    def __init__(self, alpha, num_classes=1000, dropout=0.2):
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha = alpha
        self.num_classes = num_classes
        d = _get_depths(alpha)
        layers = _stem(d[0], d[1]) + [
            _stack(d[1], d[2], 3, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[2], d[3], 5, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[3], d[4], 5, 2, 6, 3, _BN_MOMENTUM),
            _stack(d[4], d[5], 3, 1, 6, 2, _BN_MOMENTUM),
            _stack(d[5], d[6], 5, 2, 6, 4, _BN_MOMENTUM),
            _stack(d[6], d[7], 3, 1, 6, 1, _BN_MOMENTUM),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(1280, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return self.classifier(self.layers(x).mean([2, 3]))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # A state dict without metadata (e.g. rebuilt by a dict comprehension) is taken as the current
        # version, where TorchVision raises; its shapes still have to match.
        version = local_metadata.get("version", self._version)
        if version not in (1, 2):
            raise ValueError(f"version should be set to 1 or 2 instead of {version}")
        if version == 1 and self.alpha != 1.0:
            d = _get_depths(self.alpha)
            v1 = _stem(32, 16) + [_stack(16, d[2], 3, 2, 3, 3, _BN_MOMENTUM)]
            for i, layer in enumerate(v1):
                self.layers[i] = layer
            self._version = 1  # the model now is a version-1 model and saves as one
            warnings.warn("A new version of MNASNet model has been implemented. Your checkpoint was saved "
                          "using the previous version. This checkpoint will load and work as before, but you "
                          "may want to upgrade by training a newer model or transfer learning from an "
                          "updated ImageNet checkpoint.", UserWarning, stacklevel=2)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _mnasnet(alpha, enum, weights, progress, **kwargs):
    _reject_pretrained(kwargs, enum)
    weights = enum.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = MNASNet(alpha, **kwargs)
    if weights:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class MNASNet0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mnasnet0_5", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet0_75_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mnasnet0_75", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mnasnet1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class MNASNet1_3_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("mnasnet1_3", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """MNASNet with depth multiplier {alpha} from `MnasNet: Platform-Aware Neural Architecture
    Search for Mobile`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`MNASNet` (``num_classes``, ``dropout``).
    """


def _documented(alpha, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(alpha=alpha, enum=enum.__name__)
        return fn
    return wrap


@register_model()
@_documented(0.5, MNASNet0_5_Weights)
def mnasnet0_5(*, weights: MNASNet0_5_Weights | None = None, progress: bool = True, **kwargs) -> MNASNet:
    return _mnasnet(0.5, MNASNet0_5_Weights, weights, progress, **kwargs)


@register_model()
@_documented(0.75, MNASNet0_75_Weights)
def mnasnet0_75(*, weights: MNASNet0_75_Weights | None = None, progress: bool = True, **kwargs) -> MNASNet:
    return _mnasnet(0.75, MNASNet0_75_Weights, weights, progress, **kwargs)


@register_model()
@_documented(1.0, MNASNet1_0_Weights)
def mnasnet1_0(*, weights: MNASNet1_0_Weights | None = None, progress: bool = True, **kwargs) -> MNASNet:
    return _mnasnet(1.0, MNASNet1_0_Weights, weights, progress, **kwargs)


@register_model()
@_documented(1.3, MNASNet1_3_Weights)
def mnasnet1_3(*, weights: MNASNet1_3_Weights | None = None, progress: bool = True, **kwargs) -> MNASNet:
    return _mnasnet(1.3, MNASNet1_3_Weights, weights, progress, **kwargs)
