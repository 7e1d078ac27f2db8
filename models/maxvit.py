"""MaxViT (Tu et al., "MaxViT: Multi-Axis Vision Transformer", https://arxiv.org/abs/2204.01697). State-dict
keys equal TorchVision's.

Each layer is an MBConv block, then attention within ``P x P`` local windows ("block" attention), then
attention across a sparse ``P x P`` grid spanning the whole map ("grid" attention), each attention followed by
an MLP. Both partitions need the feature map of every block to be a multiple of the partition size, so the
input size is fixed when the model is built (``input_size``, 224x224 for MaxViT-T).
"""
import functools
from collections import OrderedDict

import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import fx, nn
from visionlite.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained
from .swin_transformer import _relative_position_index

__all__ = ["MaxVit", "MaxVit_T_Weights", "maxvit_t"]


def _get_conv_output_shape(input_size, kernel_size, stride, padding):
    return tuple((s - kernel_size + 2 * padding) // stride + 1 for s in input_size)


def _make_block_input_shapes(input_size, n_blocks):
    """Feature-map sizes inside each block: the stem and every block halve the map (3x3, stride 2, pad 1)."""
    shapes = []
    shape = _get_conv_output_shape(input_size, 3, 2, 1)
    for _ in range(n_blocks):
        shape = _get_conv_output_shape(shape, 3, 2, 1)
        shapes.append(shape)
    return shapes


class MBConv(nn.Module):
    """Mobile inverted bottleneck with pre-norm: BN, 1x1 expand, 3x3 depthwise (strided), squeeze-excitation,
    1x1 project; the shortcut is average-pooled and projected when the shape changes.

    Args:
        in_channels, out_channels: channels in and out.
        expansion_ratio: hidden width relative to ``out_channels``; squeeze_ratio: SE width, likewise.
        stride: 1 or 2 (the depthwise convolution's).
        activation_layer, norm_layer: constructors.
        p_stochastic_dropout: stochastic depth rate of the residual branch.
    """

    def __init__(self, in_channels, out_channels, expansion_ratio, squeeze_ratio, stride, activation_layer,
                 norm_layer, p_stochastic_dropout=0.0):
        super().__init__()
        if stride != 1 or in_channels != out_channels:
            proj = [nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=True)]
            if stride == 2:
                proj.insert(0, nn.AvgPool2d(kernel_size=3, stride=stride, padding=1))
            self.proj = nn.Sequential(*proj)
        else:
            self.proj = nn.Identity()
        mid_channels = int(out_channels * expansion_ratio)
        sqz_channels = int(out_channels * squeeze_ratio)
        self.stochastic_depth = (StochasticDepth(p_stochastic_dropout, mode="row") if p_stochastic_dropout
                                 else nn.Identity())
        self.layers = nn.Sequential(OrderedDict([
            ("pre_norm", norm_layer(in_channels)),
            ("conv_a", Conv2dNormActivation(in_channels, mid_channels, kernel_size=1, stride=1, padding=0,
                                            activation_layer=activation_layer, norm_layer=norm_layer,
                                            inplace=None)),
            ("conv_b", Conv2dNormActivation(mid_channels, mid_channels, kernel_size=3, stride=stride,
                                            padding=1, activation_layer=activation_layer,
                                            norm_layer=norm_layer, groups=mid_channels, inplace=None)),
            ("squeeze_excitation", SqueezeExcitation(mid_channels, sqz_channels, activation=nn.SiLU)),
            ("conv_c", nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=True)),
        ]))

    def forward(self, x):
        """``(B, C_in, H, W)`` -> ``(B, C_out, H / stride, W / stride)``."""
        return self.proj(x) + self.stochastic_depth(self.layers(x))


class RelativePositionalMultiHeadAttention(nn.Module):
    """Multi-head self-attention over the ``P*P`` tokens of each partition, with a learned bias per relative
    offset.

    Args:
        feat_dim: channels ``D``; head_dim: channels per head (must divide ``D``).
        max_seq_len: tokens per partition, a perfect square ``P*P``.
    """

    def __init__(self, feat_dim, head_dim, max_seq_len):
        super().__init__()
        if feat_dim % head_dim != 0:
            raise ValueError(f"feat_dim: {feat_dim} must be divisible by head_dim: {head_dim}")
        self.n_heads = feat_dim // head_dim
        self.head_dim = head_dim
        self.size = int(max_seq_len ** 0.5)
        self.max_seq_len = max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3)
        # The scale uses the full width, not the head width: TorchVision's (and the weights') choice.
        self.scale_factor = feat_dim ** -0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            vl.empty((2 * self.size - 1) * (2 * self.size - 1), self.n_heads, dtype=vl.float32))
        self.register_buffer("relative_position_index",
                             vl.tensor(_relative_position_index(self.size, self.size)))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_relative_positional_bias(self):
        """``(1, heads, P*P, P*P)`` bias."""
        index = self.relative_position_index.view(-1)
        bias = self.relative_position_bias_table[index].view(self.max_seq_len, self.max_seq_len, -1)
        return bias.permute(2, 0, 1).unsqueeze(0)

    def forward(self, x):
        """``(B, G, P, D)`` (G partitions of P tokens) -> ``(B, G, P, D)``."""
        B, G, P, D = x.shape
        q, k, v = self.to_qkv(x).reshape(B, G, P, 3, self.n_heads, self.head_dim).permute(3, 0, 1, 4, 2, 5) \
            .unbind(0)
        logits = q @ (k * self.scale_factor).transpose(-2, -1)
        attn = F.softmax(logits + self.get_relative_positional_bias(), dim=-1)
        out = (attn @ v).permute(0, 1, 3, 2, 4).reshape(B, G, P, D)
        return self.merge(out)


class SwapAxes(nn.Module):
    """Swap two dimensions (``torch.swapaxes`` as a module)."""

    def __init__(self, a, b):
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x):
        return vl.swapaxes(x, self.a, self.b)


class WindowPartition(nn.Module):
    """``(B, C, H, W)`` -> ``(B, H/p * W/p, p*p, C)``: non-overlapping ``p x p`` windows as token groups."""

    def forward(self, x, p):
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(B, (H // p) * (W // p), p * p, C)


class WindowDepartition(nn.Module):
    """Inverse of :class:`WindowPartition`: ``(B, hp * wp, p*p, C)`` -> ``(B, C, hp * p, wp * p)``."""

    def forward(self, x, p, h_partitions, w_partitions):
        B, G, PP, C = x.shape
        x = x.reshape(B, h_partitions, w_partitions, p, p, C).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(B, C, h_partitions * p, w_partitions * p)


class PartitionAttentionLayer(nn.Module):
    """Partition the map, then ``x + drop_path(attention(norm(x)))`` and ``x + drop_path(mlp(x))``, and
    reassemble.

    ``partition_type="window"`` attends within each ``partition_size``-square local window; ``"grid"`` splits
    the map into a ``partition_size``-square grid of cells and attends across the cells (dilated, global
    mixing), by swapping the group and token axes of the window partition with cell size ``grid / P``.

    Args:
        in_channels, head_dim: channels and channels per head.
        partition_size: ``P``; grid_size: ``(H, W)`` of the feature map, multiples of ``P``.
        mlp_ratio: MLP hidden width relative to ``in_channels``.
        activation_layer, norm_layer: constructors (the MLP's norm is always LayerNorm).
        attention_dropout, mlp_dropout, p_stochastic_dropout: dropout rates.
    """

    def __init__(self, in_channels, head_dim, partition_size, partition_type, grid_size, mlp_ratio,
                 activation_layer, norm_layer, attention_dropout, mlp_dropout, p_stochastic_dropout):
        super().__init__()
        if partition_type not in ("grid", "window"):
            raise ValueError("partition_type must be either 'grid' or 'window'")
        self.n_heads = in_channels // head_dim
        self.head_dim = head_dim
        self.n_partitions = grid_size[0] // partition_size
        self.partition_type = partition_type
        self.grid_size = grid_size
        if partition_type == "window":
            self.p, self.g = partition_size, self.n_partitions
        else:
            self.p, self.g = self.n_partitions, partition_size
        self.partition_op = WindowPartition()
        self.departition_op = WindowDepartition()
        self.partition_swap = SwapAxes(-2, -3) if partition_type == "grid" else nn.Identity()
        self.departition_swap = SwapAxes(-2, -3) if partition_type == "grid" else nn.Identity()
        self.attn_layer = nn.Sequential(
            norm_layer(in_channels),
            RelativePositionalMultiHeadAttention(in_channels, head_dim, partition_size ** 2),
            nn.Dropout(attention_dropout),
        )
        self.mlp_layer = nn.Sequential(
            nn.LayerNorm(in_channels),
            nn.Linear(in_channels, in_channels * mlp_ratio),
            activation_layer(),
            nn.Linear(in_channels * mlp_ratio, in_channels),
            nn.Dropout(mlp_dropout),
        )
        self.stochastic_dropout = StochasticDepth(p_stochastic_dropout, mode="row")

    def forward(self, x):
        """``(B, C, H, W)`` -> ``(B, C, H, W)``, with ``(H, W)`` equal to ``grid_size``."""
        # A symbolic trace (feature extraction) has no concrete sizes to check, as in TorchVision's forward.
        if not fx.is_tracing() and tuple(x.shape[-2:]) != tuple(self.grid_size):
            raise ValueError(f"{type(self).__name__} was built for {tuple(self.grid_size)} feature maps but "
                             f"got {tuple(x.shape[-2:])}: build the model with input_size equal to the image "
                             "size")
        if self.grid_size[0] % self.p or self.grid_size[1] % self.p:
            raise ValueError(f"Grid size must be divisible by partition size. Got grid size of "
                             f"{self.grid_size} and partition size of {self.p}")
        gh, gw = self.grid_size[0] // self.p, self.grid_size[1] // self.p
        x = self.partition_swap(self.partition_op(x, self.p))
        x = x + self.stochastic_dropout(self.attn_layer(x))
        x = x + self.stochastic_dropout(self.mlp_layer(x))
        return self.departition_op(self.departition_swap(x), self.p, gh, gw)


class MaxVitLayer(nn.Module):
    """MBConv, then window attention, then grid attention (keys ``layers.MBconv``,
    ``layers.window_attention``, ``layers.grid_attention``); arguments as :class:`MBConv` and
    :class:`PartitionAttentionLayer`."""

    def __init__(self, in_channels, out_channels, squeeze_ratio, expansion_ratio, stride, norm_layer,
                 activation_layer, head_dim, mlp_ratio, mlp_dropout, attention_dropout, p_stochastic_dropout,
                 partition_size, grid_size):
        super().__init__()
        attention = functools.partial(
            PartitionAttentionLayer, in_channels=out_channels, head_dim=head_dim,
            partition_size=partition_size, grid_size=grid_size, mlp_ratio=mlp_ratio,
            activation_layer=activation_layer, norm_layer=nn.LayerNorm, attention_dropout=attention_dropout,
            mlp_dropout=mlp_dropout, p_stochastic_dropout=p_stochastic_dropout)
        self.layers = nn.Sequential(OrderedDict([
            ("MBconv", MBConv(in_channels=in_channels, out_channels=out_channels,
                              expansion_ratio=expansion_ratio, squeeze_ratio=squeeze_ratio, stride=stride,
                              activation_layer=activation_layer, norm_layer=norm_layer,
                              p_stochastic_dropout=p_stochastic_dropout)),
            ("window_attention", attention(partition_type="window")),
            ("grid_attention", attention(partition_type="grid")),
        ]))

    def forward(self, x):
        """``(B, C_in, H, W)`` -> ``(B, C_out, H / stride, W / stride)``."""
        return self.layers(x)


class MaxVitBlock(nn.Module):
    """``n_layers`` MaxViT layers, the first of which halves the map; ``p_stochastic`` holds one stochastic
    depth rate per layer."""

    def __init__(self, in_channels, out_channels, squeeze_ratio, expansion_ratio, norm_layer,
                 activation_layer, head_dim, mlp_ratio, mlp_dropout, attention_dropout, partition_size,
                 input_grid_size, n_layers, p_stochastic):
        super().__init__()
        if len(p_stochastic) != n_layers:
            raise ValueError(f"p_stochastic must have length n_layers={n_layers}, got "
                             f"p_stochastic={p_stochastic}.")
        self.layers = nn.ModuleList()
        self.grid_size = _get_conv_output_shape(input_grid_size, kernel_size=3, stride=2, padding=1)
        for idx, p in enumerate(p_stochastic):
            self.layers.append(MaxVitLayer(
                in_channels=in_channels if idx == 0 else out_channels, out_channels=out_channels,
                squeeze_ratio=squeeze_ratio, expansion_ratio=expansion_ratio, stride=2 if idx == 0 else 1,
                norm_layer=norm_layer, activation_layer=activation_layer, head_dim=head_dim,
                mlp_ratio=mlp_ratio, mlp_dropout=mlp_dropout, attention_dropout=attention_dropout,
                p_stochastic_dropout=p,
                partition_size=partition_size, grid_size=self.grid_size))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MaxVit(nn.Module):
    """MaxViT: a two-convolution stem, blocks of MaxViT layers, and a classifier (pool, LayerNorm, linear,
    tanh, linear without bias).

    Args:
        input_size: ``(H, W)`` of the images; every block's map must be a multiple of ``partition_size``.
        stem_channels: channels of the stem; block_channels, block_layers: channels and layers per block.
        head_dim: channels per attention head; partition_size: window/grid side ``P``.
        stochastic_depth_prob: rate of the last layer, rising linearly from 0 at the first.
        norm_layer: default ``BatchNorm2d(eps=1e-3, momentum=0.01)``; activation_layer: default GELU.
        squeeze_ratio, expansion_ratio: MBConv widths; mlp_ratio, mlp_dropout, attention_dropout: attention.
        num_classes: size of the output ``(N, num_classes)``.
    """

    def __init__(self, input_size, stem_channels, partition_size, block_channels, block_layers, head_dim,
                 stochastic_depth_prob, norm_layer=None, activation_layer=nn.GELU, squeeze_ratio=0.25,
                 expansion_ratio=4, mlp_ratio=4, mlp_dropout=0.0, attention_dropout=0.0, num_classes=1000):
        super().__init__()
        norm_layer = norm_layer or functools.partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)
        block_input_sizes = _make_block_input_shapes(input_size, len(block_channels))
        for idx, size in enumerate(block_input_sizes):
            if size[0] % partition_size != 0 or size[1] % partition_size != 0:
                raise ValueError(
                    f"Input size {size} of block {idx} is not divisible by partition size {partition_size}. "
                    f"Consider changing the partition size or the input size.\n"
                    f"Current configuration yields the following block input sizes: {block_input_sizes}.")
        self.stem = nn.Sequential(
            Conv2dNormActivation(3, stem_channels, 3, stride=2, norm_layer=norm_layer,
                                 activation_layer=activation_layer, bias=False, inplace=None),
            Conv2dNormActivation(stem_channels, stem_channels, 3, stride=1, norm_layer=None,
                                 activation_layer=None, bias=True),
        )
        input_size = _get_conv_output_shape(input_size, kernel_size=3, stride=2, padding=1)
        self.partition_size = partition_size
        self.blocks = nn.ModuleList()
        in_channels = [stem_channels] + list(block_channels[:-1])
        p_stochastic = np.linspace(0, stochastic_depth_prob, sum(block_layers)).tolist()
        start = 0
        for in_channel, out_channel, num_layers in zip(in_channels, block_channels, block_layers):
            self.blocks.append(MaxVitBlock(
                in_channels=in_channel, out_channels=out_channel, squeeze_ratio=squeeze_ratio,
                expansion_ratio=expansion_ratio, norm_layer=norm_layer, activation_layer=activation_layer,
                head_dim=head_dim, mlp_ratio=mlp_ratio, mlp_dropout=mlp_dropout,
                attention_dropout=attention_dropout, partition_size=partition_size,
                input_grid_size=input_size, n_layers=num_layers,
                p_stochastic=p_stochastic[start:start + num_layers]))
            input_size = self.blocks[-1].grid_size
            start += num_layers
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.LayerNorm(block_channels[-1]),
            nn.Linear(block_channels[-1], block_channels[-1]),
            nn.Tanh(),
            nn.Linear(block_channels[-1], num_classes, bias=False),
        )
        self._init_weights()

    def forward(self, x):
        """``(N, 3, H, W)`` images of the ``input_size`` built for -> ``(N, num_classes)`` logits."""
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x)

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def _maxvit(stem_channels, block_channels, block_layers, stochastic_depth_prob, partition_size, head_dim,
            weights=None, progress=False, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        _ovewrite_named_param(kwargs, "input_size", weights.meta["min_size"])
    input_size = kwargs.pop("input_size", (224, 224))
    model = MaxVit(stem_channels=stem_channels, block_channels=block_channels, block_layers=block_layers,
                   stochastic_depth_prob=stochastic_depth_prob, head_dim=head_dim,
                   partition_size=partition_size, input_size=input_size, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class MaxVit_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("maxvit_t", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


@register_model()
def maxvit_t(*, weights: MaxVit_T_Weights | None = None, progress: bool = True, **kwargs) -> MaxVit:
    """MaxViT-T (tiny) from `MaxViT: Multi-Axis Vision Transformer`.

    Args:
        weights: a :class:`MaxVit_T_Weights` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for
            random initialisation. Pretrained weights are downloaded once, verified and cached.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`MaxVit` (``input_size`` (default ``(224, 224)``; fixed by the weights),
            ``num_classes``, ``mlp_dropout``, ``attention_dropout``, ``norm_layer``, ...).
    """
    _reject_pretrained(kwargs, MaxVit_T_Weights)
    return _maxvit(stem_channels=64, block_channels=[64, 128, 256, 512], block_layers=[2, 2, 5, 2],
                   head_dim=32, stochastic_depth_prob=0.2, partition_size=7,
                   weights=MaxVit_T_Weights.verify(weights), progress=progress, **kwargs)
