"""ResNet (He et al., "Deep Residual Learning for Image Recognition", https://arxiv.org/abs/1512.03385),
with its ResNeXt (https://arxiv.org/abs/1611.05431) and Wide ResNet (https://arxiv.org/abs/1605.07146)
variants. State-dict keys equal TorchVision's, so its checkpoints load with ``strict=True``.

As in TorchVision the bottleneck strides in its 3x3 convolution rather than the first 1x1 ("ResNet v1.5"),
which is a little more accurate than the paper's placement.
"""
import visionlite as vl
from visionlite import nn
from visionlite.core.nn.eval_fusion import conv_bn

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "ResNet", "BasicBlock", "Bottleneck",
    "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
    "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights", "ResNeXt101_64X4D_Weights",
    "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution without bias, padded to keep the size at stride 1."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64; use Bottleneck for "
                             "ResNeXt and Wide ResNet")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(conv_bn(self.conv1, self.bn1, x))  # conv_bn: bn(conv(x)), folded in eval
        out = conv_bn(self.conv2, self.bn2, out)
        # The shortcut runs after the main branch, as in TorchVision, so hooks see layers in its order.
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt, strided), 1x1 expand by 4, and a shortcut (ResNet-50 and up)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(conv_bn(self.conv1, self.bn1, x))  # conv_bn: bn(conv(x)), folded in eval
        out = self.relu(conv_bn(self.conv2, self.bn2, out))
        out = conv_bn(self.conv3, self.bn3, out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet body: a 7x7 stem, four stages of ``block`` (``layers[i]`` blocks each), pooling, a linear head.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: number of blocks in each of the four stages.
        num_classes: size of the output ``(N, num_classes)``.
        zero_init_residual: start each block's last BatchNorm at zero so every block begins as the identity.
        groups, width_per_group: ResNeXt cardinality and width of each group.
        replace_stride_with_dilation: per stage 2-4, dilate instead of striding (for dense prediction).
        norm_layer: normalization layer constructor (default ``nn.BatchNorm2d``).
    Input ``(N, 3, H, W)``; any ``H, W >= 1`` works thanks to the adaptive pooling.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        self._norm_layer = norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element sequence, got "
                             f"{replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        dilate = replace_stride_with_dilation
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                last_bn = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if last_bn is not None and last_bn.weight is not None:
                    nn.init.constant_(last_bn.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        x = self.maxpool(self.relu(conv_bn(self.conv1, self.bn1, x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(vl.flatten(self.avgpool(x), 1))


def _resnet(block, layers, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ResNet(block, layers, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnet18", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnet34", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnet50", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("resnet50", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnet101", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("resnet101", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnet152", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("resnet152", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnext50_32x4d", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("resnext50_32x4d", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnext101_32x8d", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("resnext101_32x8d", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("resnext101_64x4d", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("wide_resnet50_2", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("wide_resnet50_2", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("wide_resnet101_2", "IMAGENET1K_V1")
    IMAGENET1K_V2 = registered_weights("wide_resnet101_2", "IMAGENET1K_V2")
    DEFAULT = IMAGENET1K_V2


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """{title}

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`ResNet` (``num_classes``, ``zero_init_residual``, ``norm_layer``, ...).
    """


def _documented(title, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(title=title, enum=enum.__name__)
        return fn
    return wrap


@register_model()
@_documented("ResNet-18 from `Deep Residual Learning for Image Recognition`.", ResNet18_Weights)
def resnet18(*, weights: ResNet18_Weights | None = None, progress: bool = True, **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNet18_Weights)
    return _resnet(BasicBlock, [2, 2, 2, 2], ResNet18_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("ResNet-34 from `Deep Residual Learning for Image Recognition`.", ResNet34_Weights)
def resnet34(*, weights: ResNet34_Weights | None = None, progress: bool = True, **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNet34_Weights)
    return _resnet(BasicBlock, [3, 4, 6, 3], ResNet34_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("ResNet-50 (v1.5) from `Deep Residual Learning for Image Recognition`.", ResNet50_Weights)
def resnet50(*, weights: ResNet50_Weights | None = None, progress: bool = True, **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNet50_Weights)
    return _resnet(Bottleneck, [3, 4, 6, 3], ResNet50_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("ResNet-101 (v1.5) from `Deep Residual Learning for Image Recognition`.", ResNet101_Weights)
def resnet101(*, weights: ResNet101_Weights | None = None, progress: bool = True, **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNet101_Weights)
    return _resnet(Bottleneck, [3, 4, 23, 3], ResNet101_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("ResNet-152 (v1.5) from `Deep Residual Learning for Image Recognition`.", ResNet152_Weights)
def resnet152(*, weights: ResNet152_Weights | None = None, progress: bool = True, **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNet152_Weights)
    return _resnet(Bottleneck, [3, 8, 36, 3], ResNet152_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("ResNeXt-50 32x4d from `Aggregated Residual Transformation for Deep Neural Networks`.",
             ResNeXt50_32X4D_Weights)
def resnext50_32x4d(*, weights: ResNeXt50_32X4D_Weights | None = None, progress: bool = True,
                    **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNeXt50_32X4D_Weights)
    weights = ResNeXt50_32X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@_documented("ResNeXt-101 32x8d from `Aggregated Residual Transformation for Deep Neural Networks`.",
             ResNeXt101_32X8D_Weights)
def resnext101_32x8d(*, weights: ResNeXt101_32X8D_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNeXt101_32X8D_Weights)
    weights = ResNeXt101_32X8D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 8)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@_documented("ResNeXt-101 64x4d from `Aggregated Residual Transformation for Deep Neural Networks`.",
             ResNeXt101_64X4D_Weights)
def resnext101_64x4d(*, weights: ResNeXt101_64X4D_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    _reject_pretrained(kwargs, ResNeXt101_64X4D_Weights)
    weights = ResNeXt101_64X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 64)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@_documented("Wide ResNet-50-2 from `Wide Residual Networks` (bottlenecks twice as wide).",
             Wide_ResNet50_2_Weights)
def wide_resnet50_2(*, weights: Wide_ResNet50_2_Weights | None = None, progress: bool = True,
                    **kwargs) -> ResNet:
    _reject_pretrained(kwargs, Wide_ResNet50_2_Weights)
    weights = Wide_ResNet50_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@_documented("Wide ResNet-101-2 from `Wide Residual Networks` (bottlenecks twice as wide).",
             Wide_ResNet101_2_Weights)
def wide_resnet101_2(*, weights: Wide_ResNet101_2_Weights | None = None, progress: bool = True,
                     **kwargs) -> ResNet:
    _reject_pretrained(kwargs, Wide_ResNet101_2_Weights)
    weights = Wide_ResNet101_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)
