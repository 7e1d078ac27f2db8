"""Video Swin Transformer (Liu et al., "Video Swin Transformer", https://arxiv.org/abs/2106.13230): the Swin
Transformer's shifted-window attention over 3-D ``(T, H, W)`` windows of tokens from 2x4x4 patches.

Tokens live channel-last, ``(B, T, H, W, C)``. Blocks and patch merging (spatial only) are the image Swin's;
the attention here windows, shifts and masks in three dimensions. A window larger than the (padded) token map
along an axis shrinks to it, with no shift along that axis, and its relative-position bias is the top-left
corner of the full window's (TorchVision's rule, kept so that checkpoints give the same logits). State-dict
keys equal TorchVision's.
"""
import functools

import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import fx, nn

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_named_param, _reject_pretrained
from ..swin_transformer import PatchMerging, SwinTransformerBlock

__all__ = ["SwinTransformer3d", "Swin3D_T_Weights", "Swin3D_S_Weights", "Swin3D_B_Weights", "swin3d_t",
           "swin3d_s", "swin3d_b"]


# The helpers below branch on sizes, so they are single nodes in symbolic traces (fx.wrap), named and called
# as TorchVision's: feature extraction then gives TorchVision's node names.
@fx.wrap
def _get_window_and_shift_size(shift_size, size_dhw, window_size):
    """Per axis: a window no larger than the map, and no shift where the window covers the map (returns
    new lists)."""
    window, shift = list(window_size), list(shift_size)
    for i in range(3):
        if size_dhw[i] <= window[i]:
            window[i], shift[i] = size_dhw[i], 0
    return window, shift


@fx.wrap
def _compute_pad_size_3d(size_dhw, patch_size):
    """Padding per axis ``(t, h, w)`` up to whole patches."""
    return tuple((p - s % p) % p for s, p in zip(size_dhw, patch_size))


@fx.wrap
def _get_relative_position_bias(relative_position_bias_table, relative_position_index, window_size):
    """``(1, heads, V, V)`` bias for a window of ``window_size`` (the full window's top-left block)."""
    vol = window_size[0] * window_size[1] * window_size[2]
    index = relative_position_index[:vol, :vol].reshape(-1)
    bias = relative_position_bias_table[index].view(vol, vol, -1)
    return bias.permute(2, 0, 1).unsqueeze(0)


def _relative_position_index_3d(window):
    """``(V, V)`` int64 for the ``V = d*h*w`` tokens of a window: the bias-table row of each offset."""
    d, h, w = window
    coords = np.stack(np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")).reshape(3, -1)
    rel = coords[:, :, None] - coords[:, None, :] + np.array([d - 1, h - 1, w - 1]).reshape(3, 1, 1)
    return (rel[0] * (2 * h - 1) * (2 * w - 1) + rel[1] * (2 * w - 1) + rel[2]).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _shift_mask_3d(padded, window, shift):
    """``(num_windows, V, V)``: -100 between tokens that the roll brought together from different regions.
    Regions are labelled with Python slices ``(0, -w), (-w, -s), (-s, None)`` per axis, as TorchVision (with
    ``s = 0`` the last slice is the whole axis, so that axis has one region)."""
    ids = np.zeros(padded)
    cuts = [((0, -w), (-w, -s), (-s, None)) for w, s in zip(window, shift)]
    count = 0
    for d in cuts[0]:
        for h in cuts[1]:
            for w in cuts[2]:
                ids[d[0]:d[1], h[0]:h[1], w[0]:w[1]] = count
                count += 1
    (td, th, tw), (wd, wh, ww) = padded, window
    ids = ids.reshape(td // wd, wd, th // wh, wh, tw // ww, ww).transpose(0, 2, 4, 1, 3, 5)
    ids = ids.reshape(-1, wd * wh * ww)
    return np.where(ids[:, None, :] != ids[:, :, None], -100.0, 0.0)


@fx.wrap
def shifted_window_attention_3d(input, qkv_weight, proj_weight, relative_position_bias, window_size,
                                num_heads, shift_size, attention_dropout=0.0, dropout=0.0, qkv_bias=None,
                                proj_bias=None, training=True):
    """Multi-head self-attention within (shifted) 3-D windows, as TorchVision's function of the same name.

    Args:
        input: ``(B, T, H, W, C)`` tokens.
        qkv_weight, qkv_bias: ``(3C, C)`` and ``(3C,)``; proj_weight, proj_bias: ``(C, C)`` and ``(C,)``.
        relative_position_bias: ``(1, heads, V, V)`` for the ``V`` tokens of a window.
        window_size, shift_size: ``[t, h, w]`` each (already fitted to the map, see
            ``_get_window_and_shift_size``).
    Returns ``(B, T, H, W, C)``.
    """
    b, t, h, w, c = input.shape
    pad = _compute_pad_size_3d((t, h, w), window_size)
    x = F.pad(input, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0])) if any(pad) else input
    tp, hp, wp = t + pad[0], h + pad[1], w + pad[2]
    shifted = sum(shift_size) > 0
    if shifted:
        x = vl.roll(x, shifts=tuple(-s for s in shift_size), dims=(1, 2, 3))
    wd, wh, ww = window_size
    nd, nh, nw = tp // wd, hp // wh, wp // ww
    nwin, vol = nd * nh * nw, wd * wh * ww
    x = x.reshape(b, nd, wd, nh, wh, nw, ww, c).permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b * nwin, vol, c)

    head_dim = c // num_heads
    qkv = F.linear(x, qkv_weight, qkv_bias).reshape(x.shape[0], vol, 3, num_heads, head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    attn = (q * head_dim ** -0.5) @ k.transpose(-2, -1)
    attn = attn + relative_position_bias
    if shifted:
        mask = attn.new_tensor(_shift_mask_3d((tp, hp, wp), tuple(window_size), tuple(shift_size)))
        attn = (attn.view(b, nwin, num_heads, vol, vol) + mask.unsqueeze(1)).view(-1, num_heads, vol, vol)
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = (attn @ v).transpose(1, 2).reshape(x.shape[0], vol, c)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)

    x = x.view(b, nd, nh, nw, wd, wh, ww, c).permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, tp, hp, wp, c)
    if shifted:
        x = vl.roll(x, shifts=tuple(shift_size), dims=(1, 2, 3))
    if any(pad):
        x = x[:, :t, :h, :w, :].contiguous()
    return x


class ShiftedWindowAttention3d(nn.Module):
    """3-D window attention with a learned bias per relative offset (``relative_position_bias_table``)."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__()
        if len(window_size) != 3 or len(shift_size) != 3:
            raise ValueError("window_size and shift_size must be of length 3 ([t, h, w])")
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self):
        d, h, w = self.window_size
        self.relative_position_bias_table = nn.Parameter(vl.zeros((2 * d - 1) * (2 * h - 1) * (2 * w - 1),
                                                                  self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self):
        self.register_buffer("relative_position_index",
                             vl.tensor(_relative_position_index_3d(self.window_size)))

    def get_relative_position_bias(self, window_size):
        """``(1, heads, V, V)`` bias for a window of ``window_size`` (the full window's top-left block)."""
        return _get_relative_position_bias(self.relative_position_bias_table, self.relative_position_index,
                                           window_size)

    def forward(self, x):
        """``(B, T, H, W, C)`` -> ``(B, T, H, W, C)``."""
        _, t, h, w, _ = x.shape
        window, shift = _get_window_and_shift_size(self.shift_size, [t, h, w], self.window_size)
        relative_position_bias = self.get_relative_position_bias(window)
        return shifted_window_attention_3d(
            x, self.qkv.weight, self.proj.weight, relative_position_bias, window,
            self.num_heads, shift_size=shift, attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class PatchEmbed3d(nn.Module):
    """Video to patch tokens: zero-pad to whole patches, a strided Conv3d, channel-last, then ``norm``."""

    def __init__(self, patch_size, in_channels=3, embed_dim=96, norm_layer=None):
        super().__init__()
        self.tuple_patch_size = tuple(patch_size)
        self.proj = nn.Conv3d(in_channels, embed_dim, kernel_size=self.tuple_patch_size,
                              stride=self.tuple_patch_size)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x):
        """``(B, C, T, H, W)`` -> ``(B, T', H', W', embed_dim)``."""
        _, _, t, h, w = x.size()
        pad = _compute_pad_size_3d((t, h, w), self.tuple_patch_size)
        if fx.is_tracing() or any(pad):  # traced: always a pad node, as TorchVision's graph
            x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]))
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))


class SwinTransformer3d(nn.Module):
    """Video Swin Transformer: patch embedding, stages of (shifted) 3-D window blocks with spatial patch
    merging between them, a final norm, global average pooling and a linear ``head``.

    Args:
        patch_size: ``[t, h, w]`` patches; embed_dim: channels of the first stage (doubled at each merge).
        depths, num_heads: blocks and heads per stage; window_size: ``[t, h, w]``.
        mlp_ratio, dropout, attention_dropout, stochastic_depth_prob: as the image Swin.
        num_classes: outputs; norm_layer: default ``LayerNorm(eps=1e-5)``; block, downsample_layer,
        patch_embed: the layer constructors.
    Input ``(N, 3, T, H, W)`` clips of any size.
    """

    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.1, num_classes=400, norm_layer=None,
                 block=None, downsample_layer=PatchMerging, patch_embed=None):
        super().__init__()
        self.num_classes = num_classes
        block = block or functools.partial(SwinTransformerBlock, attn_layer=ShiftedWindowAttention3d)
        norm_layer = norm_layer or functools.partial(nn.LayerNorm, eps=1e-5)
        patch_embed = patch_embed or PatchEmbed3d
        self.patch_embed = patch_embed(patch_size=patch_size, embed_dim=embed_dim, norm_layer=norm_layer)
        self.pos_drop = nn.Dropout(p=dropout)
        layers = []
        total_blocks, block_id = sum(depths), 0
        for i_stage, (depth, heads) in enumerate(zip(depths, num_heads)):
            dim = embed_dim * 2 ** i_stage
            stage = []
            for i_layer in range(depth):
                sd_prob = stochastic_depth_prob * float(block_id) / max(total_blocks - 1, 1)
                stage.append(block(dim, heads, window_size=window_size,
                                   shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                                   mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                                   stochastic_depth_prob=sd_prob, norm_layer=norm_layer,
                                   attn_layer=ShiftedWindowAttention3d))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(self.num_features)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(self.num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        """``(N, 3, T, H, W)`` clips -> ``(N, num_classes)`` logits."""
        x = self.norm(self.features(self.pos_drop(self.patch_embed(x))))
        return self.head(self.avgpool(x.permute(0, 4, 1, 2, 3)).flatten(1))


def _swin_transformer3d(patch_size, embed_dim, depths, num_heads, window_size, stochastic_depth_prob, weights,
                        progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = SwinTransformer3d(patch_size=patch_size, embed_dim=embed_dim, depths=depths, num_heads=num_heads,
                              window_size=window_size, stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


class Swin3D_T_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("swin3d_t", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


class Swin3D_S_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("swin3d_s", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


class Swin3D_B_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("swin3d_b", "KINETICS400_V1")
    KINETICS400_IMAGENET22K_V1 = registered_weights("swin3d_b", "KINETICS400_IMAGENET22K_V1")
    DEFAULT = KINETICS400_V1


_DOC = """Swin3D-{size} from `Video Swin Transformer`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ``"KINETICS400_V1"``) or None for random
            initialisation. Pretrained weights are downloaded once, verified and cached.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`SwinTransformer3d` (``num_classes``, ``mlp_ratio``, ...).
    """


@register_model()
def swin3d_t(*, weights: Swin3D_T_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    _reject_pretrained(kwargs, Swin3D_T_Weights)
    return _swin_transformer3d([2, 4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 7, 7], 0.1,
                               Swin3D_T_Weights.verify(weights), progress, **kwargs)


@register_model()
def swin3d_s(*, weights: Swin3D_S_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    _reject_pretrained(kwargs, Swin3D_S_Weights)
    return _swin_transformer3d([2, 4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 7, 7], 0.1,
                               Swin3D_S_Weights.verify(weights), progress, **kwargs)


@register_model()
def swin3d_b(*, weights: Swin3D_B_Weights | None = None, progress: bool = True,
             **kwargs) -> SwinTransformer3d:
    _reject_pretrained(kwargs, Swin3D_B_Weights)
    return _swin_transformer3d([2, 4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 7, 7], 0.1,
                               Swin3D_B_Weights.verify(weights), progress, **kwargs)


swin3d_t.__doc__ = _DOC.format(size="T", enum="Swin3D_T_Weights")
swin3d_s.__doc__ = _DOC.format(size="S", enum="Swin3D_S_Weights")
swin3d_b.__doc__ = _DOC.format(size="B", enum="Swin3D_B_Weights")
