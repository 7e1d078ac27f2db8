"""DenseNet-BC (Huang et al., "Densely Connected Convolutional Networks", https://arxiv.org/abs/1608.06993).

Each layer of a dense block sees the concatenation of every earlier feature map in the block and adds
``growth_rate`` new channels; transitions halve the channels and the resolution. State-dict keys equal
TorchVision's, and the official checkpoints, which still use the LuaTorch-era names
(``denselayer1.norm.1.weight`` for ``denselayer1.norm1.weight``), load with ``strict=True``: the dense layer
renames those keys as it loads them.
"""
import re
from collections import OrderedDict

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights", "DenseNet201_Weights",
    "densenet121", "densenet161", "densenet169", "densenet201",
]

# "norm.1.weight" (old checkpoints) -> "norm1.weight"; likewise relu/conv and the BN buffers.
_LEGACY_KEY = re.compile(r"^(norm|relu|conv)\.([12])\.(weight|bias|running_mean|running_var)$")


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv to ``bn_size * growth_rate`` channels, then BN-ReLU-3x3 conv to ``growth_rate``.

    ``forward`` takes one tensor or the list of the block's earlier outputs (concatenated on channels).
    """

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1,
                               bias=False)
        self.drop_rate = float(drop_rate)
        # Accepted for TorchVision compatibility; visionlite has no activation checkpointing, so the
        # bottleneck is always kept (same numbers, more memory).
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs):
        """The 1x1 bottleneck applied to the channel concatenation of ``inputs``."""
        return self.conv1(self.relu1(self.norm1(vl.cat(list(inputs), 1))))

    def forward(self, input):
        features = [input] if isinstance(input, vl.Tensor) else input
        out = self.conv2(self.relu2(self.norm2(self.bn_function(features))))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            match = _LEGACY_KEY.match(key[len(prefix):])
            if match:
                name, index, field = match.groups()
                state_dict[f"{prefix}{name}{index}.{field}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1`` ...); the output concatenates the input and every layer's
    output: ``num_input_features + num_layers * growth_rate`` channels."""

    _version = 2

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate,
                 memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(
                num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size,
                drop_rate=drop_rate, memory_efficient=memory_efficient))

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return vl.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``num_output_features``, then 2x2 average pooling."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC: a 7x7 stem, four dense blocks joined by transitions, a final BN, ReLU, global average
    pooling and a linear ``classifier``.

    Args:
        growth_rate: channels each dense layer adds (``k`` in the paper).
        block_config: number of layers in each of the four blocks.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width as a multiple of ``growth_rate``.
        drop_rate: dropout after each dense layer (training only).
        num_classes: size of the output ``(N, num_classes)``.
        memory_efficient: accepted for compatibility (TorchVision recomputes the bottleneck in backward to
            save memory); here it changes nothing.
    Input ``(N, 3, H, W)`` with ``H, W >= 29``.
    """

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 drop_rate=0, num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(
                num_layers, channels, bn_size=bn_size, growth_rate=growth_rate, drop_rate=drop_rate,
                memory_efficient=memory_efficient))
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        out = F.relu(self.features(x))
        out = vl.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


def _densenet(growth_rate, block_config, num_init_features, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("densenet121", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("densenet161", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("densenet169", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("densenet201", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """DenseNet-{depth} from `Densely Connected Convolutional Networks`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`DenseNet` (``num_classes``, ``drop_rate``, ``bn_size``, ...).
    """


def _documented(depth, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(depth=depth, enum=enum.__name__)
        return fn
    return wrap


@register_model()
@_documented(121, DenseNet121_Weights)
def densenet121(*, weights: DenseNet121_Weights | None = None, progress: bool = True, **kwargs) -> DenseNet:
    _reject_pretrained(kwargs, DenseNet121_Weights)
    return _densenet(32, (6, 12, 24, 16), 64, DenseNet121_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented(161, DenseNet161_Weights)
def densenet161(*, weights: DenseNet161_Weights | None = None, progress: bool = True, **kwargs) -> DenseNet:
    _reject_pretrained(kwargs, DenseNet161_Weights)
    return _densenet(48, (6, 12, 36, 24), 96, DenseNet161_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented(169, DenseNet169_Weights)
def densenet169(*, weights: DenseNet169_Weights | None = None, progress: bool = True, **kwargs) -> DenseNet:
    _reject_pretrained(kwargs, DenseNet169_Weights)
    return _densenet(32, (6, 12, 32, 32), 64, DenseNet169_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented(201, DenseNet201_Weights)
def densenet201(*, weights: DenseNet201_Weights | None = None, progress: bool = True, **kwargs) -> DenseNet:
    _reject_pretrained(kwargs, DenseNet201_Weights)
    return _densenet(32, (6, 12, 48, 32), 64, DenseNet201_Weights.verify(weights), progress, **kwargs)
