"""ConvNeXt (Liu et al., "A ConvNet for the 2020s", https://arxiv.org/abs/2201.03545): tiny, small, base and
large, with TorchVision's state-dict keys.

Each block is a 7x7 depthwise convolution, a LayerNorm over channels, an inverted MLP (4x, GELU) applied
channels-last, a learned per-channel layer scale and a stochastic-depth shortcut; stages are joined by a
LayerNorm and a 2x2 stride-2 convolution.
"""
from functools import partial

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import Conv2dNormActivation, Permute, StochasticDepth

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "ConvNeXt",
    "ConvNeXt_Tiny_Weights", "ConvNeXt_Small_Weights", "ConvNeXt_Base_Weights", "ConvNeXt_Large_Weights",
    "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of ``(N, C, H, W)``: each pixel's ``C`` values are normalized
    (``normalized_shape`` is ``C``)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """Depthwise 7x7 conv, channels-last LayerNorm, Linear to 4x, GELU, Linear back, times ``layer_scale``
    (a learned ``(dim, 1, 1)`` parameter), stochastic depth, plus the input."""

    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(vl.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        return self.stochastic_depth(self.layer_scale * self.block(input)) + input


class CNBlockConfig:
    """One stage: ``num_layers`` blocks of width ``input_channels``, then (unless ``out_channels`` is None,
    as in the last stage) a downsampling to ``out_channels``."""

    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"{type(self).__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """ConvNeXt body: a 4x4 stride-4 "patchify" stem, stages of :class:`CNBlock` joined by downsampling
    layers, pooling, then LayerNorm, flatten and a linear classifier.

    Args:
        block_setting: list of :class:`CNBlockConfig`, one per stage.
        stochastic_depth_prob: stochastic depth probability of the last block (block ``i`` of ``n`` gets
            ``stochastic_depth_prob * i / (n - 1)``).
        layer_scale: initial value of each block's layer scale.
        num_classes: size of the output ``(N, num_classes)``.
        block: block constructor ``block(dim, layer_scale, stochastic_depth_prob)`` (default CNBlock).
        norm_layer: norm of the stem, downsampling layers and classifier (default ``LayerNorm2d(eps=1e-6)``).
    Input ``(N, 3, H, W)`` with ``H, W >= 32``.
    """

    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6, num_classes=1000,
                 block=None, norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not all(isinstance(s, CNBlockConfig) for s in block_setting):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        block = block or CNBlock
        norm_layer = norm_layer or partial(LayerNorm2d, eps=1e-6)

        layers = [Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4, stride=4, padding=0,
                                       norm_layer=norm_layer, activation_layer=None, bias=True)]
        total_blocks = sum(cnf.num_layers for cnf in block_setting)
        block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * block_id / (total_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(norm_layer(cnf.input_channels),
                                            nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2,
                                                      stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        width = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(width), nn.Flatten(1), nn.Linear(width, num_classes))

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return self.classifier(self.avgpool(self.features(x)))


# arch: stages as (input channels, output channels, blocks), default stochastic depth probability
_ARCHS = {
    "convnext_tiny": ([(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)], 0.1),
    "convnext_small": ([(96, 192, 3), (192, 384, 3), (384, 768, 27), (768, None, 3)], 0.4),
    "convnext_base": ([(128, 256, 3), (256, 512, 3), (512, 1024, 27), (1024, None, 3)], 0.5),
    "convnext_large": ([(192, 384, 3), (384, 768, 3), (768, 1536, 27), (1536, None, 3)], 0.5),
}


def _convnext(arch, enum, weights, progress, **kwargs):
    _reject_pretrained(kwargs, enum)
    weights = enum.verify(weights)
    rows, sd_prob = _ARCHS[arch]
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ConvNeXt([CNBlockConfig(*row) for row in rows],
                     stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", sd_prob), **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class ConvNeXt_Tiny_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("convnext_tiny", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("convnext_small", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Base_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("convnext_base", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("convnext_large", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """ConvNeXt {size} from `A ConvNet for the 2020s`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`ConvNeXt` (``num_classes``, ``stochastic_depth_prob`` (default {sd}),
            ``layer_scale``, ``block``, ``norm_layer``).
    """


def _documented(arch, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(size=arch.split("_")[1].capitalize(), enum=enum.__name__,
                                         sd=_ARCHS[arch][1])
        return fn
    return wrap


@register_model()
@_documented("convnext_tiny", ConvNeXt_Tiny_Weights)
def convnext_tiny(*, weights: ConvNeXt_Tiny_Weights | None = None, progress: bool = True,
                  **kwargs) -> ConvNeXt:
    return _convnext("convnext_tiny", ConvNeXt_Tiny_Weights, weights, progress, **kwargs)


@register_model()
@_documented("convnext_small", ConvNeXt_Small_Weights)
def convnext_small(*, weights: ConvNeXt_Small_Weights | None = None, progress: bool = True,
                   **kwargs) -> ConvNeXt:
    return _convnext("convnext_small", ConvNeXt_Small_Weights, weights, progress, **kwargs)


@register_model()
@_documented("convnext_base", ConvNeXt_Base_Weights)
def convnext_base(*, weights: ConvNeXt_Base_Weights | None = None, progress: bool = True,
                  **kwargs) -> ConvNeXt:
    return _convnext("convnext_base", ConvNeXt_Base_Weights, weights, progress, **kwargs)


@register_model()
@_documented("convnext_large", ConvNeXt_Large_Weights)
def convnext_large(*, weights: ConvNeXt_Large_Weights | None = None, progress: bool = True,
                   **kwargs) -> ConvNeXt:
    return _convnext("convnext_large", ConvNeXt_Large_Weights, weights, progress, **kwargs)
