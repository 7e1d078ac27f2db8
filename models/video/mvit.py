"""Multiscale Vision Transformers for video: MViT V1 (Fan et al., https://arxiv.org/abs/2104.11227) and
MViT V2 (Li et al., https://arxiv.org/abs/2112.01526), in TorchVision's simplified parameterisation (one
``MSBlockConfig`` per block).

Tokens are ``(B, 1 + T*H*W, C)`` with a class token first. Attention pools its queries and keys/values with
strided depthwise Conv3d + LayerNorm (``Pool``), so the token grid ``thw`` shrinks stage by stage while the
channels grow. V1 adds absolute space-time position embeddings; V2 instead adds decomposed relative
position terms to the attention logits and a pooled-query residual. The token grid is fixed at construction
(``spatial_size``, ``temporal_size``): inputs must have that size. State-dict keys equal TorchVision's.
"""
import math
from dataclasses import dataclass
from functools import partial

import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops import MLP, StochasticDepth

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["MViT", "MViT_V1_B_Weights", "mvit_v1_b", "MViT_V2_S_Weights", "mvit_v2_s"]


@dataclass
class MSBlockConfig:
    """One block: heads, channels in/out, pooling kernels and strides of the queries and keys/values
    (empty lists: no pooling)."""

    num_heads: int
    input_channels: int
    output_channels: int
    kernel_q: list
    kernel_kv: list
    stride_q: list
    stride_kv: list


def _prod(s):
    return math.prod(s) if len(s) else 1


class Pool(nn.Module):
    """Pool the ``(B, heads, 1 + T*H*W, C)`` tokens over their ``thw`` grid (the class token passes through),
    then ``norm`` (and ``activation``); returns the tokens and the new grid."""

    def __init__(self, pool, norm, activation=None, norm_before_pool=False):
        super().__init__()
        self.pool = pool
        layers = [m for m in (norm, activation) if m is not None]
        self.norm_act = nn.Sequential(*layers) if layers else None
        self.norm_before_pool = norm_before_pool

    def forward(self, x, thw):
        squeezed = x.ndim == 3
        if squeezed:
            x = x.unsqueeze(1)
        elif x.ndim != 4:
            raise ValueError(f"Unsupported input dimension {tuple(x.shape)}")
        class_token, x = x[:, :, :1], x[:, :, 1:]
        b, n, _, c = x.shape
        x = x.transpose(2, 3).reshape((b * n, c) + tuple(thw))
        if self.norm_before_pool and self.norm_act is not None:
            x = self.norm_act(x)
        x = self.pool(x)
        t, h, w = x.shape[2:]
        x = vl.cat((class_token, x.reshape(b, n, c, -1).transpose(2, 3)), dim=2)
        if not self.norm_before_pool and self.norm_act is not None:
            x = self.norm_act(x)
        return (x.squeeze(1) if squeezed else x), (t, h, w)


def _interpolate(embedding, d):
    """A ``(L, C)`` relative-position table resampled linearly to ``d`` rows (when ``L != d``)."""
    if embedding.shape[0] == d:
        return embedding
    return F.interpolate(embedding.permute(1, 0).unsqueeze(0), size=d, mode="linear").squeeze(0).permute(1, 0)


def _rel_index(q, k):
    """``(q, k)`` int64 table rows of the query-key offsets along one axis (float32 arithmetic, truncated,
    as TorchVision's)."""
    q_ratio, k_ratio = max(k / q, 1.0), max(q / k, 1.0)
    dist = (np.arange(q, dtype=np.float32)[:, None] * np.float32(q_ratio)
            - (np.arange(k, dtype=np.float32)[None, :] + np.float32(1.0 - k)) * np.float32(k_ratio))
    return dist.astype(np.int64)


def _add_rel_pos(attn, q, q_thw, k_thw, rel_pos_h, rel_pos_w, rel_pos_t):
    """MViT V2's decomposed relative positions: ``attn[:, :, 1:, 1:] += q . (R_t + R_h + R_w)``."""
    (q_t, q_h, q_w), (k_t, k_h, k_w) = q_thw, k_thw
    dev = rel_pos_h.device
    rh = _interpolate(rel_pos_h, 2 * max(q_h, k_h) - 1)[vl.tensor(_rel_index(q_h, k_h), device=dev)]
    rw = _interpolate(rel_pos_w, 2 * max(q_w, k_w) - 1)[vl.tensor(_rel_index(q_w, k_w), device=dev)]
    rt = _interpolate(rel_pos_t, 2 * max(q_t, k_t) - 1)[vl.tensor(_rel_index(q_t, k_t), device=dev)]
    b, heads, _, dim = q.shape
    r_q = q[:, :, 1:].reshape(b, heads, q_t, q_h, q_w, dim)
    rel_h = vl.einsum("bythwc,hkc->bythwk", r_q, rh)
    rel_w = vl.einsum("bythwc,wkc->bythwk", r_q, rw)
    rel_t = vl.einsum("bythwc,tkc->bythwk", r_q, rt)
    rel = (rel_h[:, :, :, :, :, None, :, None] + rel_w[:, :, :, :, :, None, None, :]
           + rel_t[:, :, :, :, :, :, None, None]).reshape(b, heads, q_t * q_h * q_w, k_t * k_h * k_w)
    return attn + F.pad(rel, (1, 0, 1, 0))  # zero for the class token's row and column


class MultiscaleAttention(nn.Module):
    """Pooling attention: ``qkv`` projection, pooled queries (``pool_q``) and keys/values (``pool_k``,
    ``pool_v``), optional V2 relative positions and pooled-query residual, output ``project``."""

    def __init__(self, input_size, embed_dim, output_dim, num_heads, kernel_q, kernel_kv, stride_q, stride_kv,
                 residual_pool, residual_with_cls_embed, rel_pos_embed, dropout=0.0, norm_layer=nn.LayerNorm):
        super().__init__()
        self.embed_dim, self.output_dim, self.num_heads = embed_dim, output_dim, num_heads
        self.head_dim = output_dim // num_heads
        self.scaler = 1.0 / math.sqrt(self.head_dim)
        self.residual_pool, self.residual_with_cls_embed = residual_pool, residual_with_cls_embed
        self.qkv = nn.Linear(embed_dim, 3 * output_dim)
        layers = [nn.Linear(output_dim, output_dim)]
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout, inplace=True))
        self.project = nn.Sequential(*layers)

        def pool(kernel, stride):
            conv = nn.Conv3d(self.head_dim, self.head_dim, kernel, stride=stride,
                             padding=[int(k // 2) for k in kernel], groups=self.head_dim, bias=False)
            return Pool(conv, norm_layer(self.head_dim))

        self.pool_q = pool(kernel_q, stride_q) if _prod(kernel_q) > 1 or _prod(stride_q) > 1 else None
        self.pool_k = self.pool_v = None
        if _prod(kernel_kv) > 1 or _prod(stride_kv) > 1:
            self.pool_k = pool(kernel_kv, stride_kv)
            self.pool_v = pool(kernel_kv, stride_kv)
        self.rel_pos_h = self.rel_pos_w = self.rel_pos_t = None
        if rel_pos_embed:
            size = max(input_size[1:])
            q_size = size // stride_q[1] if len(stride_q) > 0 else size
            kv_size = size // stride_kv[1] if len(stride_kv) > 0 else size
            spatial_dim, temporal_dim = 2 * max(q_size, kv_size) - 1, 2 * input_size[0] - 1
            self.rel_pos_h = nn.Parameter(vl.zeros(spatial_dim, self.head_dim))
            self.rel_pos_w = nn.Parameter(vl.zeros(spatial_dim, self.head_dim))
            self.rel_pos_t = nn.Parameter(vl.zeros(temporal_dim, self.head_dim))
            for p in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
                nn.init.trunc_normal_(p, std=0.02)

    def forward(self, x, thw):
        """``(B, N, C)`` tokens on grid ``thw`` -> ``(B, N', output_dim)`` on the (query-)pooled grid."""
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).transpose(1, 3).unbind(dim=2)
        k, k_thw = self.pool_k(k, thw) if self.pool_k is not None else (k, thw)
        if self.pool_v is not None:
            v = self.pool_v(v, thw)[0]
        if self.pool_q is not None:
            q, thw = self.pool_q(q, thw)
        attn = (self.scaler * q) @ k.transpose(2, 3)
        if self.rel_pos_h is not None:
            attn = _add_rel_pos(attn, q, thw, k_thw, self.rel_pos_h, self.rel_pos_w, self.rel_pos_t)
        x = attn.softmax(dim=-1) @ v
        if self.residual_pool:
            if self.residual_with_cls_embed:
                x = x + q
            else:  # the class token's row keeps no residual
                x = x + vl.cat((vl.zeros_like(q[:, :, :1]), q[:, :, 1:]), dim=2)
        x = x.transpose(1, 2).reshape(b, -1, self.output_dim)
        return self.project(x), thw


class MultiscaleBlock(nn.Module):
    """Pre-norm block: pooling attention (with a max-pooled skip where the queries are strided) then an MLP;
    a linear ``project`` widens the skip where the channels grow (after the attention in V2)."""

    def __init__(self, input_size, cnf, residual_pool, residual_with_cls_embed, rel_pos_embed,
                 proj_after_attn, dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm):
        super().__init__()
        self.proj_after_attn = proj_after_attn
        self.pool_skip = None
        if _prod(cnf.stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in cnf.stride_q]
            self.pool_skip = Pool(nn.MaxPool3d(kernel_skip, stride=cnf.stride_q,
                                               padding=[int(k // 2) for k in kernel_skip]), None)
        attn_dim = cnf.output_channels if proj_after_attn else cnf.input_channels
        self.norm1 = norm_layer(cnf.input_channels)
        self.norm2 = norm_layer(attn_dim)
        self.needs_transposal = isinstance(self.norm1, nn.BatchNorm1d)
        self.attn = MultiscaleAttention(input_size, cnf.input_channels, attn_dim, cnf.num_heads,
                                        kernel_q=cnf.kernel_q, kernel_kv=cnf.kernel_kv, stride_q=cnf.stride_q,
                                        stride_kv=cnf.stride_kv, rel_pos_embed=rel_pos_embed,
                                        residual_pool=residual_pool,
                                        residual_with_cls_embed=residual_with_cls_embed, dropout=dropout,
                                        norm_layer=norm_layer)
        self.mlp = MLP(attn_dim, [4 * attn_dim, cnf.output_channels], activation_layer=nn.GELU,
                       dropout=dropout, inplace=None)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.project = None
        if cnf.input_channels != cnf.output_channels:
            self.project = nn.Linear(cnf.input_channels, cnf.output_channels)

    def _norm(self, norm, x):
        return norm(x.transpose(1, 2)).transpose(1, 2) if self.needs_transposal else norm(x)

    def forward(self, x, thw):
        """``(B, N, C_in)`` on ``thw`` -> ``(B, N', C_out)`` on the new grid."""
        x_norm1 = self._norm(self.norm1, x)
        x_attn, thw_new = self.attn(x_norm1, thw)
        x = x if self.project is None or not self.proj_after_attn else self.project(x_norm1)
        x_skip = x if self.pool_skip is None else self.pool_skip(x, thw)[0]
        x = x_skip + self.stochastic_depth(x_attn)
        x_norm2 = self._norm(self.norm2, x)
        x_proj = x if self.project is None or self.proj_after_attn else self.project(x_norm2)
        return x_proj + self.stochastic_depth(self.mlp(x_norm2)), thw_new


class PositionalEncoding(nn.Module):
    """Prepends the class token; without relative positions (V1) adds separable space + time embeddings
    (and one for the class token)."""

    def __init__(self, embed_size, spatial_size, temporal_size, rel_pos_embed):
        super().__init__()
        self.spatial_size, self.temporal_size = tuple(spatial_size), temporal_size
        self.class_token = nn.Parameter(vl.zeros(embed_size))
        self.spatial_pos = self.temporal_pos = self.class_pos = None
        if not rel_pos_embed:
            self.spatial_pos = nn.Parameter(vl.zeros(self.spatial_size[0] * self.spatial_size[1], embed_size))
            self.temporal_pos = nn.Parameter(vl.zeros(self.temporal_size, embed_size))
            self.class_pos = nn.Parameter(vl.zeros(embed_size))

    def forward(self, x):
        """``(B, T*H*W, C)`` -> ``(B, 1 + T*H*W, C)``."""
        x = vl.cat((self.class_token.expand(x.shape[0], -1).unsqueeze(1), x), dim=1)
        if self.spatial_pos is not None:
            hw, c = self.spatial_pos.shape
            pos = (vl.repeat_interleave(self.temporal_pos, hw, dim=0)
                   + self.spatial_pos.unsqueeze(0).expand(self.temporal_size, -1, -1).reshape(-1, c))
            x = x + vl.cat((self.class_pos.unsqueeze(0), pos), dim=0).unsqueeze(0)
        return x


class MViT(nn.Module):
    """MViT: patchifying Conv3d, class token + positions, the multiscale blocks, a norm and a linear head on
    the class token.

    Args:
        spatial_size, temporal_size: the input clip's ``(H, W)`` and ``T`` (fixed: they size the token grid).
        block_setting: one :class:`MSBlockConfig` per block.
        residual_pool, residual_with_cls_embed, rel_pos_embed, proj_after_attn: V2's choices (see the
            module docstring); dropout: before the head; attention_dropout: after the projections;
        stochastic_depth_prob: rising linearly to this over the blocks; num_classes: outputs.
        block, norm_layer: constructors (defaults :class:`MultiscaleBlock`, ``LayerNorm(eps=1e-6)``).
        patch_embed_kernel, patch_embed_stride, patch_embed_padding: the patchifying convolution.
    """

    def __init__(self, spatial_size, temporal_size, block_setting, residual_pool, residual_with_cls_embed,
                 rel_pos_embed, proj_after_attn, dropout=0.5, attention_dropout=0.0,
                 stochastic_depth_prob=0.0, num_classes=400, block=None, norm_layer=None,
                 patch_embed_kernel=(3, 7, 7),
                 patch_embed_stride=(2, 4, 4), patch_embed_padding=(1, 3, 3)):
        super().__init__()
        total = len(block_setting)
        if total == 0:
            raise ValueError("The configuration parameter can't be empty.")
        block = block or MultiscaleBlock
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        self.conv_proj = nn.Conv3d(3, block_setting[0].input_channels, kernel_size=patch_embed_kernel,
                                   stride=patch_embed_stride, padding=patch_embed_padding)
        input_size = [s // st for s, st in zip((temporal_size,) + tuple(spatial_size), self.conv_proj.stride)]
        self.pos_encoding = PositionalEncoding(block_setting[0].input_channels,
                                               (input_size[1], input_size[2]), input_size[0], rel_pos_embed)
        self.blocks = nn.ModuleList()
        for i, cnf in enumerate(block_setting):
            # TorchVision divides by (total - 1), which fails for a single block; that case gets rate 0.
            sd_prob = stochastic_depth_prob * i / max(total - 1.0, 1.0)
            self.blocks.append(block(input_size=input_size, cnf=cnf, residual_pool=residual_pool,
                                     residual_with_cls_embed=residual_with_cls_embed,
                                     rel_pos_embed=rel_pos_embed, proj_after_attn=proj_after_attn,
                                     dropout=attention_dropout,
                                     stochastic_depth_prob=sd_prob, norm_layer=norm_layer))
            if len(cnf.stride_q) > 0:
                input_size = [s // st for s, st in zip(input_size, cnf.stride_q)]
        self.norm = norm_layer(block_setting[-1].output_channels)
        self.head = nn.Sequential(nn.Dropout(dropout, inplace=True),
                                  nn.Linear(block_setting[-1].output_channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, nn.LayerNorm):
                if m.weight is not None:
                    nn.init.constant_(m.weight, 1.0)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, PositionalEncoding):
                for p in m.parameters():
                    nn.init.trunc_normal_(p, std=0.02)

    def forward(self, x):
        """``(N, 3, T, H, W)`` clips (or ``(N, 3, H, W)`` images, one frame) -> ``(N, num_classes)``."""
        if x.ndim == 4:
            x = x.unsqueeze(2)
        elif x.ndim != 5:
            raise ValueError(f"Unsupported input dimension {tuple(x.shape)}")
        in_shape = list(x.shape)
        x = self.conv_proj(x)
        thw = (self.pos_encoding.temporal_size,) + self.pos_encoding.spatial_size
        if tuple(x.shape[2:]) != thw:
            # The token grid sizes the position embeddings and pooling shapes: other sizes cannot run.
            raise ValueError(f"MViT: input of shape {in_shape} gives a {list(x.shape[2:])} token grid, but "
                             f"this model was built for {list(thw)} (build it with the clip's "
                             f"spatial_size=(H, W) and temporal_size=T)")
        x = self.pos_encoding(x.flatten(2).transpose(1, 2))
        for blk in self.blocks:
            x, thw = blk(x, thw)
        return self.head(self.norm(x)[:, 0])


def _mvit(block_setting, stochastic_depth_prob, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        _ovewrite_named_param(kwargs, "spatial_size", weights.meta["min_size"])
        _ovewrite_named_param(kwargs, "temporal_size", weights.meta["min_temporal_size"])
    model = MViT(spatial_size=kwargs.pop("spatial_size", (224, 224)),
                 temporal_size=kwargs.pop("temporal_size", 16),
                 block_setting=block_setting, residual_pool=kwargs.pop("residual_pool", False),
                 residual_with_cls_embed=kwargs.pop("residual_with_cls_embed", True),
                 rel_pos_embed=kwargs.pop("rel_pos_embed", False),
                 proj_after_attn=kwargs.pop("proj_after_attn", False),
                 stochastic_depth_prob=stochastic_depth_prob, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


def _block_setting(num_heads, input_channels, output_channels, kernel_q, kernel_kv, stride_q, stride_kv):
    return [MSBlockConfig(*cfg) for cfg in zip(num_heads, input_channels, output_channels, kernel_q,
                                                kernel_kv, stride_q, stride_kv)]


_HEADS = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
_K3 = [3, 3, 3]
_KV_STRIDES = [[1, 8, 8], [1, 4, 4], [1, 4, 4]] + [[1, 2, 2]] * 11 + [[1, 1, 1]] * 2


class MViT_V1_B_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("mvit_v1_b", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


class MViT_V2_S_Weights(WeightsEnum):
    KINETICS400_V1 = registered_weights("mvit_v2_s", "KINETICS400_V1")
    DEFAULT = KINETICS400_V1


@register_model()
def mvit_v1_b(*, weights: MViT_V1_B_Weights | None = None, progress: bool = True, **kwargs) -> MViT:
    """MViT V1-B from `Multiscale Vision Transformers` (16x224x224 clips).

    Args:
        weights: a :class:`MViT_V1_B_Weights` member, its name or None for random initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`MViT` (``num_classes``, ``stochastic_depth_prob`` (default 0.2), ...).
    """
    _reject_pretrained(kwargs, MViT_V1_B_Weights)
    weights = MViT_V1_B_Weights.verify(weights)
    no_q = []
    setting = _block_setting(
        _HEADS,
        [96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768],
        [192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768, 768],
        [no_q, _K3, no_q, _K3] + [no_q] * 10 + [_K3, no_q],
        [_K3] * 16,
        [no_q, [1, 2, 2], no_q, [1, 2, 2]] + [no_q] * 10 + [[1, 2, 2], no_q],
        _KV_STRIDES,
    )
    return _mvit(setting, kwargs.pop("stochastic_depth_prob", 0.2), weights, progress,
                 spatial_size=(224, 224), temporal_size=16, residual_pool=False,
                 residual_with_cls_embed=False, **kwargs)


@register_model()
def mvit_v2_s(*, weights: MViT_V2_S_Weights | None = None, progress: bool = True, **kwargs) -> MViT:
    """MViT V2-S from `MViTv2: Improved Multiscale Vision Transformers for Classification and Detection`
    (16x224x224 clips).

    Args:
        weights: a :class:`MViT_V2_S_Weights` member, its name or None for random initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`MViT` (``num_classes``, ``stochastic_depth_prob`` (default 0.2), ...).
    """
    _reject_pretrained(kwargs, MViT_V2_S_Weights)
    weights = MViT_V2_S_Weights.verify(weights)
    one = [1, 1, 1]
    setting = _block_setting(
        _HEADS,
        [96, 96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768],
        [96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 384, 768, 768],
        [_K3] * 16,
        [_K3] * 16,
        [one, [1, 2, 2], one, [1, 2, 2]] + [one] * 10 + [[1, 2, 2], one],
        _KV_STRIDES,
    )
    return _mvit(setting, kwargs.pop("stochastic_depth_prob", 0.2), weights, progress,
                 spatial_size=(224, 224), temporal_size=16, residual_pool=True, residual_with_cls_embed=False,
                 rel_pos_embed=True,
                 proj_after_attn=True, **kwargs)
