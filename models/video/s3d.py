"""S3D ("Rethinking Spatiotemporal Feature Learning", https://arxiv.org/abs/1712.04851): Inception blocks
whose 3x3x3 convolutions are separated into 1x3x3 spatial and 3x1x1 temporal ones.

Input ``(N, 3, T, H, W)`` clips (at least 14 frames of 224x224: the final 2x7x7 average pool), output
``(N, num_classes)`` logits. State-dict keys equal TorchVision's.
"""
from functools import partial

import visionlite as vl
from visionlite import nn
from visionlite.ops.misc import Conv3dNormActivation

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["S3D", "S3D_Weights", "s3d"]


class TemporalSeparableConv(nn.Sequential):
    """A ``1 x k x k`` conv-norm-ReLU then a ``k x 1 x 1`` one (stride and padding split the same way)."""

    def __init__(self, in_planes, out_planes, kernel_size, stride, padding, norm_layer):
        super().__init__(
            Conv3dNormActivation(in_planes, out_planes, kernel_size=(1, kernel_size, kernel_size),
                                 stride=(1, stride, stride), padding=(0, padding, padding), bias=False,
                                 norm_layer=norm_layer),
            Conv3dNormActivation(out_planes, out_planes, kernel_size=(kernel_size, 1, 1),
                                 stride=(stride, 1, 1), padding=(padding, 0, 0), bias=False,
                                 norm_layer=norm_layer),
        )


class SepInceptionBlock3D(nn.Module):
    """Four branches concatenated on channels: 1x1x1; 1x1x1 then separable 3x3x3 (twice, two widths);
    3x3x3 max pool then 1x1x1."""

    def __init__(self, in_planes, b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out, norm_layer):
        super().__init__()
        self.branch0 = Conv3dNormActivation(in_planes, b0_out, kernel_size=1, stride=1, norm_layer=norm_layer)
        self.branch1 = nn.Sequential(
            Conv3dNormActivation(in_planes, b1_mid, kernel_size=1, stride=1, norm_layer=norm_layer),
            TemporalSeparableConv(b1_mid, b1_out, kernel_size=3, stride=1, padding=1, norm_layer=norm_layer),
        )
        self.branch2 = nn.Sequential(
            Conv3dNormActivation(in_planes, b2_mid, kernel_size=1, stride=1, norm_layer=norm_layer),
            TemporalSeparableConv(b2_mid, b2_out, kernel_size=3, stride=1, padding=1, norm_layer=norm_layer),
        )
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(kernel_size=(3, 3, 3), stride=1, padding=1),
            Conv3dNormActivation(in_planes, b3_out, kernel_size=1, stride=1, norm_layer=norm_layer),
        )

    def forward(self, x):
        return vl.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class S3D(nn.Module):
    """S3D: ``features`` (separable stem and Inception stages), a 2x7x7 average pool, dropout and a 1x1x1
    convolution classifier averaged over the remaining positions.

    Args:
        num_classes: outputs of the classifier.
        dropout: dropout probability before the classifier.
        norm_layer: constructor of the norm layers (default ``BatchNorm3d(eps=0.001, momentum=0.001)``).
    """

    def __init__(self, num_classes=400, dropout=0.2, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)
        block = partial(SepInceptionBlock3D, norm_layer=norm_layer)
        self.features = nn.Sequential(
            TemporalSeparableConv(3, 64, 7, 2, 3, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Conv3dNormActivation(64, 64, kernel_size=1, stride=1, norm_layer=norm_layer),
            TemporalSeparableConv(64, 192, 3, 1, 1, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            block(192, 64, 96, 128, 16, 32, 32),
            block(256, 128, 128, 192, 32, 96, 64),
            nn.MaxPool3d(kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1)),
            block(480, 192, 96, 208, 16, 48, 64),
            block(512, 160, 112, 224, 24, 64, 64),
            block(512, 128, 128, 256, 24, 64, 64),
            block(512, 112, 144, 288, 32, 64, 64),
            block(528, 256, 160, 320, 32, 128, 128),
            nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)),
            block(832, 256, 160, 320, 32, 128, 128),
            block(832, 384, 192, 384, 48, 128, 128),
        )
        self.avgpool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Conv3d(1024, num_classes, kernel_size=1, stride=1, bias=True))

    def forward(self, x):
        """``(N, 3, T, H, W)`` clips -> ``(N, num_classes)`` logits."""
        x = self.classifier(self.avgpool(self.features(x)))
        return x.mean(dim=(2, 3, 4))


class S3D_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("s3d", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


@register_model()
def s3d(*, weights: S3D_Weights | None = None, progress: bool = True, **kwargs) -> S3D:
    """S3D from `Rethinking Spatiotemporal Feature Learning`.

    Args:
        weights: a :class:`S3D_Weights` member, its name (``"DEFAULT"``, ``"KINETICS400_V1"``) or None for
            random initialisation. Pretrained weights are downloaded once, verified and cached.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`S3D` (``num_classes``, ``dropout``, ``norm_layer``).
    """
    _reject_pretrained(kwargs, S3D_Weights)
    weights = S3D_Weights.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = S3D(**kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
