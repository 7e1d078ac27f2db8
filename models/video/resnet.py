"""Video ResNets from "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
(https://arxiv.org/abs/1711.11248): R3D-18 (3-D convolutions throughout), MC3-18 (3-D in the first layer,
2-D afterwards) and R(2+1)D-18 (each 3-D convolution split into a spatial and a temporal one).

Input ``(N, 3, T, H, W)`` clips, output ``(N, num_classes)`` logits. State-dict keys equal TorchVision's, so
its Kinetics-400 checkpoints load with ``strict=True``.
"""
from visionlite import nn

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["VideoResNet", "R3D_18_Weights", "MC3_18_Weights", "R2Plus1D_18_Weights", "r3d_18", "mc3_18",
           "r2plus1d_18"]


class Conv3DSimple(nn.Conv3d):
    """A full 3x3x3 convolution."""

    def __init__(self, in_planes, out_planes, midplanes=None, stride=1, padding=1):
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride, padding=padding,
                         bias=False)

    @staticmethod
    def get_downsample_stride(stride):
        return stride, stride, stride


class Conv2Plus1D(nn.Sequential):
    """A 1x3x3 spatial convolution to ``midplanes`` channels, batch norm, ReLU, then a 3x1x1 temporal one."""

    def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
        super().__init__(
            nn.Conv3d(in_planes, midplanes, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                      padding=(0, padding, padding), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1),
                      padding=(padding, 0, 0), bias=False),
        )

    @staticmethod
    def get_downsample_stride(stride):
        return stride, stride, stride


class Conv3DNoTemporal(nn.Conv3d):
    """A 1x3x3 (per-frame) convolution."""

    def __init__(self, in_planes, out_planes, midplanes=None, stride=1, padding=1):
        super().__init__(in_planes, out_planes, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                         padding=(0, padding, padding), bias=False)

    @staticmethod
    def get_downsample_stride(stride):
        return 1, stride, stride


def _midplanes(inplanes, planes):
    # R(2+1)D's middle width: as many parameters as the full 3x3x3 convolution it replaces.
    return (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, conv_builder, stride=1, downsample=None):
        super().__init__()
        midplanes = _midplanes(inplanes, planes)
        self.conv1 = nn.Sequential(conv_builder(inplanes, planes, midplanes, stride), nn.BatchNorm3d(planes),
                                   nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, conv_builder, stride=1, downsample=None):
        super().__init__()
        midplanes = _midplanes(inplanes, planes)
        self.conv1 = nn.Sequential(nn.Conv3d(inplanes, planes, kernel_size=1, bias=False),
                                   nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes, stride), nn.BatchNorm3d(planes),
                                   nn.ReLU(inplace=True))
        self.conv3 = nn.Sequential(nn.Conv3d(planes, planes * self.expansion, kernel_size=1, bias=False),
                                   nn.BatchNorm3d(planes * self.expansion))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.conv3(self.conv2(self.conv1(x)))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class BasicStem(nn.Sequential):
    """Conv 3x7x7 (spatial stride 2), batch norm, ReLU."""

    def __init__(self):
        super().__init__(
            nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D's stem: the 3x7x7 convolution split into 1x7x7 (to 45 channels) and 3x1x1."""

    def __init__(self):
        super().__init__(
            nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )


class VideoResNet(nn.Module):
    """Generic video ResNet: a ``stem``, four stages of ``block`` built with ``conv_makers[i]`` (``layers[i]``
    blocks each, strides 1, 2, 2, 2), global average pooling and a linear classifier."""

    def __init__(self, block, conv_makers, layers, stem, num_classes=400, zero_init_residual=False):
        super().__init__()
        self.inplanes = 64
        self.stem = stem()
        self.layer1 = self._make_layer(block, conv_makers[0], 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, conv_makers[1], 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, conv_makers[2], 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, conv_makers[3], 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.conv3[1].weight, 0)

    def _make_layer(self, block, conv_builder, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * block.expansion, kernel_size=1,
                          stride=conv_builder.get_downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, conv_builder, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, conv_builder) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        """``(N, 3, T, H, W)`` clips -> ``(N, num_classes)`` logits."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _video_resnet(block, conv_makers, layers, stem, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = VideoResNet(block, conv_makers, layers, stem, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class R3D_18_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("r3d_18", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


class MC3_18_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("mc3_18", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


class R2Plus1D_18_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("r2plus1d_18", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


_DOC = """{title} (`A Closer Look at Spatiotemporal Convolutions for Action Recognition`).

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"KINETICS400_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`VideoResNet` (``num_classes``, ``zero_init_residual``).
    """


@register_model()
def r3d_18(*, weights: R3D_18_Weights | None = None, progress: bool = True, **kwargs) -> VideoResNet:
    _reject_pretrained(kwargs, R3D_18_Weights)
    return _video_resnet(BasicBlock, [Conv3DSimple] * 4, [2, 2, 2, 2], BasicStem,
                         R3D_18_Weights.verify(weights), progress, **kwargs)


@register_model()
def mc3_18(*, weights: MC3_18_Weights | None = None, progress: bool = True, **kwargs) -> VideoResNet:
    _reject_pretrained(kwargs, MC3_18_Weights)
    return _video_resnet(BasicBlock, [Conv3DSimple] + [Conv3DNoTemporal] * 3, [2, 2, 2, 2], BasicStem,
                         MC3_18_Weights.verify(weights), progress, **kwargs)


@register_model()
def r2plus1d_18(*, weights: R2Plus1D_18_Weights | None = None, progress: bool = True,
                **kwargs) -> VideoResNet:
    _reject_pretrained(kwargs, R2Plus1D_18_Weights)
    return _video_resnet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem,
                         R2Plus1D_18_Weights.verify(weights), progress, **kwargs)


r3d_18.__doc__ = _DOC.format(title="R3D-18: 3-D convolutions throughout", enum="R3D_18_Weights")
mc3_18.__doc__ = _DOC.format(title="MC3-18: 3-D convolutions in the stem and first stage, 2-D after",
                             enum="MC3_18_Weights")
r2plus1d_18.__doc__ = _DOC.format(title="R(2+1)D-18: spatial and temporal convolutions in turn",
                                  enum="R2Plus1D_18_Weights")
