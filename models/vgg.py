"""VGG (Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
https://arxiv.org/abs/1409.1556), configurations A/B/D/E (11/13/16/19 layers), with and without
BatchNorm, with TorchVision's state-dict keys."""
import visionlite as vl
from visionlite import nn

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights",
    "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
]


class VGG(nn.Module):
    """VGG body: ``features`` (see :func:`make_layers`), 7x7 adaptive pooling, a three-layer classifier.

    Args:
        features: the convolutional part, producing 512 channels.
        num_classes: size of the output ``(N, num_classes)``.
        init_weights: apply TorchVision's initialisation (skipped when pretrained weights are loaded).
        dropout: dropout probability after the first two classifier layers.
    Input ``(N, 3, H, W)`` with ``H, W >= 32``.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return self.classifier(vl.flatten(self.avgpool(self.features(x)), 1))


def make_layers(cfg, batch_norm=False):
    """3x3 convolutions (each followed by BatchNorm if asked, then ReLU) with ``"M"`` for a 2x2 max-pool."""
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def _vgg(cfg, batch_norm, weights, progress, **kwargs):
    if weights is not None:
        kwargs["init_weights"] = False
        # The SSD feature weights (VGG16_Weights.IMAGENET1K_FEATURES) carry no categories: keep num_classes.
        if weights.meta["categories"] is not None:
            _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg11", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg11_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg13", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg13_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg16", "IMAGENET1K_V1")
    # Ported from amdegroot's SSD: features only (the classifier is not trained), inputs in [0, 255] scale.
    IMAGENET1K_FEATURES = registered_weights("vgg16", "IMAGENET1K_FEATURES")
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg16_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg19", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vgg19_bn", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


def _builder(name, cfg, batch_norm, enum):
    """Registered public builder ``name`` for configuration ``cfg``; its signature names its weights enum."""
    def build(*, weights: enum | None = None, progress: bool = True, **kwargs) -> VGG:
        _reject_pretrained(kwargs, enum)
        return _vgg(cfg, batch_norm, enum.verify(weights), progress, **kwargs)

    layers = sum(isinstance(v, int) for v in cfgs[cfg]) + 3
    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    build.__doc__ = f"""VGG-{layers}{' with BatchNorm' if batch_norm else ''} (configuration "{cfg}") from
    `Very Deep Convolutional Networks for Large-Scale Image Recognition`.

    Args:
        weights: a :class:`{enum.__name__}` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`VGG` (``num_classes``, ``init_weights``, ``dropout``).
    """
    return register_model(name)(build)


vgg11 = _builder("vgg11", "A", False, VGG11_Weights)
vgg11_bn = _builder("vgg11_bn", "A", True, VGG11_BN_Weights)
vgg13 = _builder("vgg13", "B", False, VGG13_Weights)
vgg13_bn = _builder("vgg13_bn", "B", True, VGG13_BN_Weights)
vgg16 = _builder("vgg16", "D", False, VGG16_Weights)
vgg16_bn = _builder("vgg16_bn", "D", True, VGG16_BN_Weights)
vgg19 = _builder("vgg19", "E", False, VGG19_Weights)
vgg19_bn = _builder("vgg19_bn", "E", True, VGG19_BN_Weights)
