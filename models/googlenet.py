"""GoogLeNet, i.e. Inception v1 (Szegedy et al., "Going Deeper with Convolutions",
https://arxiv.org/abs/1409.4842), with batch normalization after every convolution as in TorchVision.

In training mode with ``aux_logits`` the model returns :class:`GoogLeNetOutputs` ``(logits, aux_logits2,
aux_logits1)`` from the two auxiliary classifiers; otherwise the logits alone. As in TorchVision the "5x5"
branch of each Inception block uses a 3x3 convolution (the ported weights were trained that way).
``transform_input`` re-normalises ImageNet-normalised input to the ``(x - 0.5) / 0.5`` scaling the
original weights expect; the pretrained builder turns it on.
"""
import warnings
from collections import namedtuple

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import _ovewrite_named_param, _reject_pretrained

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "_GoogLeNetOutputs", "GoogLeNet_Weights", "googlenet"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
_GoogLeNetOutputs = GoogLeNetOutputs  # TorchVision's older name

# ImageNet mean/std per channel: x * std/0.5 + (mean - 0.5)/0.5 maps ImageNet normalisation to (x - 0.5)/0.5.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _transform_input(x):
    """Re-normalise ``(N, 3, H, W)`` from ImageNet mean/std to ``(x - 0.5) / 0.5`` (Inception v3 too)."""
    channels = [x[:, i].unsqueeze(1) * (std / 0.5) + (mean - 0.5) / 0.5
                for i, (mean, std) in enumerate(zip(_IMAGENET_MEAN, _IMAGENET_STD))]
    return vl.cat(channels, 1)


class BasicConv2d(nn.Module):
    """Conv2d without bias, BatchNorm (eps 1e-3), ReLU. ``kwargs`` go to the convolution."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 then 3x3; 1x1 then 3x3 (the paper's 5x5);
    3x3 max pooling then 1x1. Output channels ``ch1x1 + ch3x3 + ch5x5 + pool_proj``."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=None):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return vl.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 adaptive average pooling, a 1x1 conv to 128 channels, two linear layers
    with ReLU and dropout between."""

    def __init__(self, in_channels, num_classes, conv_block=None, dropout=0.7):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = vl.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1).

    Args:
        num_classes: size of the output ``(N, num_classes)``.
        aux_logits: build the two auxiliary classifiers ``aux1``/``aux2`` (used in training mode only).
        transform_input: re-normalise ImageNet-normalised input as the original weights expect.
        init_weights: truncated-normal (std 0.01) init of convolutions and linear layers; None means True with
            TorchVision's FutureWarning.
        blocks: ``[conv_block, inception_block, inception_aux_block]`` classes.
        dropout, dropout_aux: dropout before the main and inside the auxiliary classifiers.
    Training mode with ``aux_logits`` returns :class:`GoogLeNetOutputs`; otherwise the logits tensor.
    """

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False, init_weights=None,
                 blocks=None, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        if blocks is None:
            blocks = [BasicConv2d, Inception, InceptionAux]
        if init_weights is None:
            warnings.warn("The default weight initialization of GoogleNet will be changed in future releases "
                          "of torchvision. If you wish to keep the old behavior (which leads to long "
                          "initialization times due to scipy/scipy#11299), please set init_weights=True.",
                          FutureWarning, stacklevel=2)
            init_weights = True
        if len(blocks) != 3:
            raise ValueError(f"blocks length should be 3 instead of {len(blocks)}")
        conv_block, inception_block, inception_aux_block = blocks
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        self.conv1 = conv_block(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv_block(64, 64, kernel_size=1)
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception_block(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = inception_aux_block(512, num_classes, dropout=dropout_aux)
            self.aux2 = inception_aux_block(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        return _transform_input(x) if self.transform_input else x

    def _forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.dropout(vl.flatten(self.avgpool(x), 1))
        return self.fc(x), aux2, aux1

    def eager_outputs(self, x, aux2, aux1):
        """:class:`GoogLeNetOutputs` in training mode with auxiliary heads, else the logits."""
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x

    def forward(self, x):
        """``(N, 3, H, W)`` images (``H, W >= 15``) -> logits ``(N, num_classes)`` or
        :class:`GoogLeNetOutputs`."""
        x, aux2, aux1 = self._forward(self._transform_input(x))
        return self.eager_outputs(x, aux2, aux1)


class GoogLeNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("googlenet", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


@register_model()
def googlenet(*, weights: GoogLeNet_Weights | None = None, progress: bool = True, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1) from `Going Deeper with Convolutions`.

    Args:
        weights: a :class:`GoogLeNet_Weights` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None
            for random initialisation. With weights, ``transform_input`` defaults to True and the auxiliary
            heads, which the checkpoint holds but were not trained, are dropped unless ``aux_logits=True``.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`GoogLeNet` (``num_classes``, ``aux_logits``, ``transform_input``,
            ``init_weights``, ``dropout``, ...).
    """
    _reject_pretrained(kwargs, GoogLeNet_Weights)
    weights = GoogLeNet_Weights.verify(weights)
    original_aux_logits = kwargs.get("aux_logits", False)
    if weights is not None:
        kwargs.setdefault("transform_input", True)
        _ovewrite_named_param(kwargs, "aux_logits", True)
        _ovewrite_named_param(kwargs, "init_weights", False)
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = GoogLeNet(**kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress), strict=True)
        if not original_aux_logits:
            model.aux_logits = False
            model.aux1 = None
            model.aux2 = None
        else:
            warnings.warn("auxiliary heads in the pretrained googlenet model are NOT pretrained, so make "
                          "sure to train them", stacklevel=2)
    return model
