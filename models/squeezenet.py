"""SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB
model size", https://arxiv.org/abs/1602.07360), versions 1.0 and 1.1, with TorchVision's state-dict keys."""
import visionlite as vl
from visionlite import nn

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["SqueezeNet", "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights", "squeezenet1_0", "squeezenet1_1"]


class Fire(nn.Module):
    """A 1x1 "squeeze" convolution feeding parallel 1x1 and 3x3 "expand" convolutions, concatenated."""

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return vl.cat([self.expand1x1_activation(self.expand1x1(x)),
                       self.expand3x3_activation(self.expand3x3(x))], 1)


# (in, squeeze, expand) per Fire module; "M" is a 3x3 stride-2 max-pool with ceil mode.
_FIRES = {
    "1_0": ["M", (96, 16, 64), (128, 16, 64), (128, 32, 128), "M", (256, 32, 128), (256, 48, 192),
            (384, 48, 192), (384, 64, 256), "M", (512, 64, 256)],
    "1_1": ["M", (64, 16, 64), (128, 16, 64), "M", (128, 32, 128), (256, 32, 128), "M", (256, 48, 192),
            (384, 48, 192), (384, 64, 256), (512, 64, 256)],
}


class SqueezeNet(nn.Module):
    """SqueezeNet body: a stem convolution, Fire modules between max-pools, and a convolutional classifier.

    Args:
        version: ``"1_0"`` (7x7 stem, 96 channels) or ``"1_1"`` (3x3 stem, 64 channels, ~2.4x cheaper).
        num_classes: size of the output ``(N, num_classes)``.
        dropout: dropout probability before the final convolution.
    Input ``(N, 3, H, W)``; at least 21x21 (1.0) or 17x17 (1.1).
    """

    def __init__(self, version="1_0", num_classes=1000, dropout=0.5):
        super().__init__()
        self.num_classes = num_classes
        if version not in _FIRES:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")
        if version == "1_0":
            stem = nn.Conv2d(3, 96, kernel_size=7, stride=2)
        else:
            stem = nn.Conv2d(3, 64, kernel_size=3, stride=2)
        layers = [stem, nn.ReLU(inplace=True)]
        for spec in _FIRES[version]:
            if spec == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
            else:
                inplanes, squeeze, expand = spec
                layers.append(Fire(inplanes, squeeze, expand, expand))
        self.features = nn.Sequential(*layers)

        final_conv = nn.Conv2d(512, self.num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return vl.flatten(self.classifier(self.features(x)), 1)


def _squeezenet(version, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = SqueezeNet(version, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class SqueezeNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("squeezenet1_0", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class SqueezeNet1_1_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("squeezenet1_1", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


@register_model()
def squeezenet1_0(*, weights: SqueezeNet1_0_Weights | None = None, progress: bool = True,
                  **kwargs) -> SqueezeNet:
    """SqueezeNet 1.0 from `SqueezeNet: AlexNet-level accuracy with 50x fewer parameters`.

    Args:
        weights: a :class:`SqueezeNet1_0_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`SqueezeNet` (``num_classes``, ``dropout``).
    """
    _reject_pretrained(kwargs, SqueezeNet1_0_Weights)
    return _squeezenet("1_0", SqueezeNet1_0_Weights.verify(weights), progress, **kwargs)


@register_model()
def squeezenet1_1(*, weights: SqueezeNet1_1_Weights | None = None, progress: bool = True,
                  **kwargs) -> SqueezeNet:
    """SqueezeNet 1.1 (official repo's cheaper version: same accuracy, ~2.4x less computation).

    Args:
        weights: a :class:`SqueezeNet1_1_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`SqueezeNet` (``num_classes``, ``dropout``).
    """
    _reject_pretrained(kwargs, SqueezeNet1_1_Weights)
    return _squeezenet("1_1", SqueezeNet1_1_Weights.verify(weights), progress, **kwargs)
