"""Swin Transformer (Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
https://arxiv.org/abs/2103.14030) and Swin Transformer V2 ("Swin Transformer V2: Scaling Up Capacity and
Resolution", https://arxiv.org/abs/2111.09883). State-dict keys equal TorchVision's.

Tokens live channel-last, ``(B, H, W, C)``. Each block attends inside non-overlapping ``window_size``
windows; every second block first rolls the map by half a window so that information crosses window borders,
and masks the attention between pixels that the roll brought together from opposite edges. Maps that are not
a multiple of the window are zero-padded on the bottom/right (and patch merging pads odd sizes), so any
input size works. V1 adds a learned bias per relative offset; V2 uses cosine attention with a learned
temperature, and computes its bias with a small MLP of log-spaced relative coordinates.
"""
import functools
import math

import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import fx, nn
from visionlite.ops import MLP, Permute, StochasticDepth

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "SwinTransformer",
    "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights",
    "Swin_V2_T_Weights", "Swin_V2_S_Weights", "Swin_V2_B_Weights",
    "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
]


# ------------------------------------------------------------------------------------------- helpers

def _relative_position_index(height, width):
    """``(height*width, height*width)`` int64 array: for tokens i, j of a ``height x width`` window
    (row-major), the row of the ``(2*height-1) * (2*width-1)`` bias table that holds the offset
    ``pos(i) - pos(j)``."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    d_row = rows[:, None] - rows[None, :] + (height - 1)
    d_col = cols[:, None] - cols[None, :] + (width - 1)
    return (d_row * (2 * width - 1) + d_col).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _shift_mask(pad_h, pad_w, window_size, shift_size):
    """``(num_windows, N, N)`` float64 array: 0 where two tokens of a shifted window come from the same region
    of the unrolled map, -100 where the cyclic roll brought them together from opposite edges."""
    def region(length, window, shift):
        # Three bands along an axis: untouched, the last window's part that stays, the part that wrapped.
        ids = np.zeros(length, dtype=np.int64)
        if shift > 0:
            ids[length - window:] = 1
            ids[length - shift:] = 2
        return ids

    wh, ww = window_size
    ids = region(pad_h, wh, shift_size[0])[:, None] * 3 + region(pad_w, ww, shift_size[1])[None, :]
    ids = ids.reshape(pad_h // wh, wh, pad_w // ww, ww).transpose(0, 2, 1, 3).reshape(-1, wh * ww)
    return np.where(ids[:, None, :] != ids[:, :, None], -100.0, 0.0)


@fx.wrap  # one node in symbolic traces (it branches on the size), as TorchVision's torch.fx.wrap
def _patch_merging_pad(x):
    """``(..., H, W, C)`` -> ``(..., ceil(H/2), ceil(W/2), 4*C)``: each 2x2 neighbourhood's four tokens
    side by side (top-left, bottom-left, top-right, bottom-right), after zero-padding odd sizes."""
    H, W = x.shape[-3], x.shape[-2]
    if H % 2 or W % 2:
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    quarters = [x[..., r::2, c::2, :] for c in (0, 1) for r in (0, 1)]
    return vl.cat(quarters, -1)


@fx.wrap
def _get_relative_position_bias(relative_position_bias_table, relative_position_index, window_size):
    """Gather the ``(num_offsets, heads)`` table into the ``(1, heads, N, N)`` bias of one window."""
    n = window_size[0] * window_size[1]
    bias = relative_position_bias_table[relative_position_index].view(n, n, -1)
    return bias.permute(2, 0, 1).unsqueeze(0)


@fx.wrap
def shifted_window_attention(input, qkv_weight, proj_weight, relative_position_bias, window_size, num_heads,
                             shift_size, attention_dropout=0.0, dropout=0.0, qkv_bias=None, proj_bias=None,
                             logit_scale=None, training=True):
    """Multi-head self-attention within (shifted) windows, as TorchVision's function of the same name.

    Args:
        input: ``(B, H, W, C)`` tokens.
        qkv_weight, qkv_bias: ``(3C, C)`` and ``(3C,)`` query/key/value projection.
        proj_weight, proj_bias: ``(C, C)`` and ``(C,)`` output projection.
        relative_position_bias: ``(1, heads, N, N)`` bias added to the logits (``N`` tokens per window).
        window_size, shift_size: ``[h, w]`` each; no shift along an axis whose padded size fits one window.
        logit_scale: ``(heads, 1, 1)`` log temperature: selects V2's cosine attention (and a zero key bias).
        training: apply the dropouts.
    Returns ``(B, H, W, C)``.
    """
    B, H, W, C = input.shape
    wh, ww = window_size
    pad_b, pad_r = (wh - H % wh) % wh, (ww - W % ww) % ww
    x = F.pad(input, (0, 0, 0, pad_r, 0, pad_b)) if pad_b or pad_r else input
    pad_h, pad_w = H + pad_b, W + pad_r
    shift = (0 if wh >= pad_h else shift_size[0], 0 if ww >= pad_w else shift_size[1])
    shifted = sum(shift) > 0
    if shifted:
        x = vl.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))

    nh, nw = pad_h // wh, pad_w // ww
    n = wh * ww
    x = x.reshape(B, nh, wh, nw, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B * nh * nw, n, C)

    if logit_scale is not None and qkv_bias is not None:
        # V2 has no key bias: its slot is multiplied away, so it receives a zero gradient as in TorchVision.
        keep = np.ones(qkv_bias.shape[0], dtype=np.float64)
        keep[qkv_bias.shape[0] // 3: 2 * (qkv_bias.shape[0] // 3)] = 0.0
        qkv_bias = qkv_bias * qkv_bias.new_tensor(keep)
    head_dim = C // num_heads
    qkv = F.linear(x, qkv_weight, qkv_bias).reshape(x.shape[0], n, 3, num_heads, head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * vl.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        attn = (q * head_dim ** -0.5) @ k.transpose(-2, -1)
    attn = attn + relative_position_bias

    if shifted:
        mask = attn.new_tensor(_shift_mask(pad_h, pad_w, (wh, ww), shift))
        attn = (attn.view(B, nh * nw, num_heads, n, n) + mask.unsqueeze(1)).view(-1, num_heads, n, n)

    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = (attn @ v).transpose(1, 2).reshape(x.shape[0], n, C)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)

    x = x.view(B, nh, nw, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, pad_h, pad_w, C)
    if shifted:
        x = vl.roll(x, shifts=shift, dims=(1, 2))
    if pad_b or pad_r:
        x = x[:, :H, :W, :].contiguous()
    return x


# -------------------------------------------------------------------------------------------- blocks

class PatchMerging(nn.Module):
    """Halve ``(..., H, W, C)`` to ``(..., H/2, W/2, 2C)``: concatenate 2x2 neighbours, LayerNorm, project."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """Swin V2's patch merging: the projection comes before the norm, which acts on ``2C`` channels."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(_patch_merging_pad(x)))


class ShiftedWindowAttention(nn.Module):
    """Window attention with a learned bias per relative offset (``relative_position_bias_table``).

    Args:
        dim: channels ``C``; num_heads must divide it.
        window_size, shift_size: ``[h, w]``; a zero shift gives plain window attention.
        qkv_bias, proj_bias: whether the projections have biases.
        attention_dropout, dropout: dropout on the attention weights and on the output.
    """

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError("window_size and shift_size must be of length 2")
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.window_size = list(window_size)
        self.shift_size = list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self):
        wh, ww = self.window_size
        table = vl.zeros((2 * wh - 1) * (2 * ww - 1), self.num_heads)
        self.relative_position_bias_table = nn.Parameter(table)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self):
        index = _relative_position_index(*self.window_size).reshape(-1)
        self.register_buffer("relative_position_index", vl.tensor(index))

    def get_relative_position_bias(self):
        """``(1, heads, N, N)`` bias of one window."""
        return _get_relative_position_bias(self.relative_position_bias_table, self.relative_position_index,
                                           self.window_size)

    def _logit_scale(self):
        return None

    def forward(self, x):
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        # The bias first, then the weights in this order: a symbolic trace then records TorchVision's nodes.
        relative_position_bias = self.get_relative_position_bias()
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, relative_position_bias, self.window_size,
            self.num_heads, shift_size=self.shift_size, attention_dropout=self.attention_dropout,
            dropout=self.dropout, qkv_bias=self.qkv.bias, proj_bias=self.proj.bias,
            logit_scale=self._logit_scale(), training=self.training)


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2 window attention: cosine similarity times a learned per-head temperature (``logit_scale``,
    capped at 100), and a bias ``16 * sigmoid(cpb_mlp(log-spaced relative coordinates))``."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__(dim, window_size, shift_size, num_heads, qkv_bias=qkv_bias, proj_bias=proj_bias,
                         attention_dropout=attention_dropout, dropout=dropout)
        self.logit_scale = nn.Parameter(vl.full((num_heads, 1, 1), math.log(10.0)))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            third = self.qkv.bias.shape[0] // 3
            with vl.no_grad():
                self.qkv.bias[third:2 * third] = 0.0

    def define_relative_position_bias_table(self):
        # Offsets scaled to [-8, 8] per axis, then log-spaced: sign(t) * log2(1 + |t|) / 3, in float32 as
        # TorchVision computes it.
        wh, ww = self.window_size
        rows = np.arange(-(wh - 1), wh, dtype=np.float32)
        cols = np.arange(-(ww - 1), ww, dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):  # a 1-wide window divides by 0, as TorchVision
            rows, cols = rows / np.float32(wh - 1), cols / np.float32(ww - 1)
        table = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1)[None] * np.float32(8)
        table = np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(3.0)
        self.register_buffer("relative_coords_table", vl.tensor(table.astype(np.float32)))

    def get_relative_position_bias(self):
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = _get_relative_position_bias(table, self.relative_position_index, self.window_size)
        return 16 * vl.sigmoid(bias)

    def _logit_scale(self):
        return self.logit_scale


class SwinTransformerBlock(nn.Module):
    """Pre-norm residual block: ``x + drop_path(attn(norm1(x)))``, then ``x + drop_path(mlp(norm2(x)))``.

    Args:
        dim, num_heads, window_size, shift_size: as :class:`ShiftedWindowAttention`.
        mlp_ratio: hidden width of the MLP relative to ``dim``.
        dropout, attention_dropout: dropout rates; stochastic_depth_prob: rate of dropping the residual branch
            per sample.
        norm_layer: normalization constructor; attn_layer: the attention class.
    """

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttention):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads, attention_dropout=attention_dropout,
                               dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU, inplace=None,
                       dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Swin V2's residual-post-norm block: ``x + drop_path(norm1(attn(x)))``, then the same for the MLP."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttentionV2):
        super().__init__(dim, num_heads, window_size, shift_size, mlp_ratio=mlp_ratio, dropout=dropout,
                         attention_dropout=attention_dropout, stochastic_depth_prob=stochastic_depth_prob,
                         norm_layer=norm_layer, attn_layer=attn_layer)

    def forward(self, x):
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


# ----------------------------------------------------------------------------------------------- model

class SwinTransformer(nn.Module):
    """Swin Transformer: a patch embedding, stages of (shifted) window blocks with patch merging between them,
    a final norm, global average pooling and a linear ``head``.

    Args:
        patch_size: ``[h, w]`` of the non-overlapping patches of the stem convolution.
        embed_dim: channels of the first stage (doubled at each merge).
        depths, num_heads: blocks and attention heads per stage.
        window_size: ``[h, w]`` attention window; odd blocks shift by half of it.
        mlp_ratio, dropout, attention_dropout: as :class:`SwinTransformerBlock`.
        stochastic_depth_prob: drop rate of the last block, rising linearly from 0 at the first.
        num_classes: size of the output ``(N, num_classes)``.
        norm_layer: default ``LayerNorm(eps=1e-5)``; block: default :class:`SwinTransformerBlock`;
        downsample_layer: :class:`PatchMerging` (V1) or :class:`PatchMergingV2`.
    Input ``(N, 3, H, W)`` of any size of at least one patch.
    """

    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.1, num_classes=1000, norm_layer=None,
                 block=None, downsample_layer=PatchMerging):
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths ({len(depths)} stages) and num_heads ({len(num_heads)}) must have the "
                             "same length")
        self.num_classes = num_classes
        block = block or SwinTransformerBlock
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-5)

        layers = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=tuple(patch_size), stride=tuple(patch_size)),
            Permute([0, 2, 3, 1]),
            norm_layer(embed_dim),
        )]
        total_blocks = sum(depths)
        block_id = 0
        for i_stage, (depth, heads) in enumerate(zip(depths, num_heads)):
            dim = embed_dim * 2 ** i_stage
            stage = []
            for i_layer in range(depth):
                # TorchVision divides by (total - 1), which fails for a single block; that case gets rate 0.
                sd_prob = stochastic_depth_prob * float(block_id) / max(total_blocks - 1, 1)
                stage.append(block(dim, heads, window_size=window_size,
                                   shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                                   mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                                   stochastic_depth_prob=sd_prob, norm_layer=norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)

        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


def _swin_transformer(patch_size, embed_dim, depths, num_heads, window_size, stochastic_depth_prob, weights,
                      progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = SwinTransformer(patch_size=patch_size, embed_dim=embed_dim, depths=depths, num_heads=num_heads,
                            window_size=window_size, stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


# --------------------------------------------------------------------------------------------- weights

class Swin_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_t", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Swin_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_s", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Swin_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_b", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Swin_V2_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_v2_t", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Swin_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_v2_s", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class Swin_V2_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("swin_v2_b", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """{title}

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"IMAGENET1K_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`SwinTransformer` (``num_classes``, ``dropout``, ``attention_dropout``,
            ``stochastic_depth_prob``, ``norm_layer``, ...).
    """

_V1 = "from `Swin Transformer: Hierarchical Vision Transformer using Shifted Windows`."
_V2 = "from `Swin Transformer V2: Scaling Up Capacity and Resolution`."


def _documented(title, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(title=title, enum=enum.__name__)
        return fn
    return wrap


_TINY = {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24]}
_SMALL = {"embed_dim": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24]}
_BASE = {"embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32]}
_V2_PARTS = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2}


@register_model()
@_documented(f"Swin-T (tiny) {_V1}", Swin_T_Weights)
def swin_t(*, weights: Swin_T_Weights | None = None, progress: bool = True, **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_T_Weights)
    return _swin_transformer([4, 4], **_TINY, window_size=[7, 7], stochastic_depth_prob=0.2,
                             weights=Swin_T_Weights.verify(weights), progress=progress, **kwargs)


@register_model()
@_documented(f"Swin-S (small) {_V1}", Swin_S_Weights)
def swin_s(*, weights: Swin_S_Weights | None = None, progress: bool = True, **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_S_Weights)
    return _swin_transformer([4, 4], **_SMALL, window_size=[7, 7], stochastic_depth_prob=0.3,
                             weights=Swin_S_Weights.verify(weights), progress=progress, **kwargs)


@register_model()
@_documented(f"Swin-B (base) {_V1}", Swin_B_Weights)
def swin_b(*, weights: Swin_B_Weights | None = None, progress: bool = True, **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_B_Weights)
    return _swin_transformer([4, 4], **_BASE, window_size=[7, 7], stochastic_depth_prob=0.5,
                             weights=Swin_B_Weights.verify(weights), progress=progress, **kwargs)


@register_model()
@_documented(f"Swin V2-T (tiny) {_V2}", Swin_V2_T_Weights)
def swin_v2_t(*, weights: Swin_V2_T_Weights | None = None, progress: bool = True,
              **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_V2_T_Weights)
    return _swin_transformer([4, 4], **_TINY, window_size=[8, 8], stochastic_depth_prob=0.2,
                             weights=Swin_V2_T_Weights.verify(weights), progress=progress, **_V2_PARTS,
                             **kwargs)


@register_model()
@_documented(f"Swin V2-S (small) {_V2}", Swin_V2_S_Weights)
def swin_v2_s(*, weights: Swin_V2_S_Weights | None = None, progress: bool = True,
              **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_V2_S_Weights)
    return _swin_transformer([4, 4], **_SMALL, window_size=[8, 8], stochastic_depth_prob=0.3,
                             weights=Swin_V2_S_Weights.verify(weights), progress=progress, **_V2_PARTS,
                             **kwargs)


@register_model()
@_documented(f"Swin V2-B (base) {_V2}", Swin_V2_B_Weights)
def swin_v2_b(*, weights: Swin_V2_B_Weights | None = None, progress: bool = True,
              **kwargs) -> SwinTransformer:
    _reject_pretrained(kwargs, Swin_V2_B_Weights)
    return _swin_transformer([4, 4], **_BASE, window_size=[8, 8], stochastic_depth_prob=0.5,
                             weights=Swin_V2_B_Weights.verify(weights), progress=progress, **_V2_PARTS,
                             **kwargs)
