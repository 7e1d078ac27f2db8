"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition
at Scale", https://arxiv.org/abs/2010.11929), as TorchVision builds it.

The image is cut into ``patch_size`` squares by a strided convolution (or a convolutional stem, Xiao et al.,
https://arxiv.org/abs/2106.14881), a learnt class token is prepended, learnt positional embeddings are
added, and pre-norm encoder blocks (multi-head self-attention, then a GELU MLP) follow; the class token's
final state goes through the ``heads``. A model is built for one ``image_size``; to run pretrained weights
at another size, rebuild the model with that ``image_size`` and load the state dict after
:func:`interpolate_embeddings` has resampled its positional embeddings. State-dict keys equal TorchVision's;
checkpoints from before TorchVision 0.14 (``mlp.linear_1``/``mlp.linear_2``) load too.
"""
import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.ops.misc import MLP, Conv2dNormActivation

from ._api import Decorator, WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = [
    "VisionTransformer", "ViT_B_16_Weights", "ViT_B_32_Weights", "ViT_L_16_Weights", "ViT_L_32_Weights",
    "ViT_H_14_Weights", "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
]


class ConvStemConfig(NamedTuple):
    """One conv-norm-activation layer of a convolutional stem (``conv_stem_configs``)."""

    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class MLPBlock(MLP):
    """The encoder's feed-forward block: Linear(in_dim, mlp_dim), GELU, Dropout, Linear(mlp_dim, in_dim),
    Dropout (keys ``0`` and ``3``). Weights start xavier-uniform, biases normal with std 1e-6."""

    _version = 2

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Version 1 (TorchVision < 0.14, e.g. the official IMAGENET1K_V1 files) named them linear_1/linear_2.
        version = local_metadata.get("version")
        if version is None or version < 2:
            for i in (0, 1):
                for field in ("weight", "bias"):
                    old = f"{prefix}linear_{i + 1}.{field}"
                    if old in state_dict:
                        state_dict[f"{prefix}{3 * i}.{field}"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _layer_norm():
    return partial(nn.LayerNorm, eps=1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block on ``(N, S, hidden_dim)``: ``x + Dropout(MHA(LN(x)))``, then
    ``x + MLP(LN(x))``."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or _layer_norm()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout,
                                                    batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        # vl._assert (not `if`): a symbolic trace records the check, giving TorchVision's graph node names
        vl._assert(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Adds the positional embedding ``(1, seq_length, hidden_dim)``, then dropout, ``num_layers`` encoder
    blocks (``layers.encoder_layer_{i}``) and a final norm ``ln``."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or _layer_norm()
        self.pos_embedding = nn.Parameter(vl.empty(1, seq_length, hidden_dim).normal_(std=0.02))  # from BERT
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                                                norm_layer))
            for i in range(num_layers)))
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):
        vl._assert(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Vision Transformer for ``(N, 3, image_size, image_size)`` input.

    Args:
        image_size: input height and width (a multiple of ``patch_size``); fixes the positional embeddings.
        patch_size: side of the square patches.
        num_layers, num_heads, hidden_dim, mlp_dim: encoder depth, attention heads, width, MLP width.
        dropout: dropout after the embeddings, the attention and in the MLPs; attention_dropout: on the
            attention weights.
        num_classes: size of the output ``(N, num_classes)``.
        representation_size: if set, a Linear + Tanh "pre-logits" layer of that width precedes the head.
        norm_layer: norm constructor (default LayerNorm with eps 1e-6).
        conv_stem_configs: a list of :class:`ConvStemConfig`; replaces the patchifying convolution by
            those conv-norm-activation layers and a final 1x1 convolution (``conv_proj.conv_last``).
    """

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None, norm_layer=None,
                 conv_stem_configs=None):
        super().__init__()
        if image_size % patch_size != 0:
            raise AssertionError("Input shape indivisible by patch size!")
        norm_layer = norm_layer or _layer_norm()
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer

        if conv_stem_configs is not None:
            stem = nn.Sequential()
            channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                stem.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    in_channels=channels, out_channels=cfg.out_channels, kernel_size=cfg.kernel_size,
                    stride=cfg.stride, norm_layer=cfg.norm_layer, activation_layer=cfg.activation_layer))
                channels = cfg.out_channels
            stem.add_module("conv_last", nn.Conv2d(channels, hidden_dim, kernel_size=1))
            self.conv_proj = stem
        else:
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)

        seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.class_token = nn.Parameter(vl.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        self.seq_length = seq_length

        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        if isinstance(self.conv_proj, nn.Conv2d):
            kh, kw = self.conv_proj.kernel_size
            fan_in = self.conv_proj.in_channels * kh * kw
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        else:
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if "pre_logits" in heads:
            pre = self.heads.pre_logits
            nn.init.trunc_normal_(pre.weight, std=math.sqrt(1 / pre.in_features))
            nn.init.zeros_(pre.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """``(N, 3, H, W)`` -> patch embeddings ``(N, (H/p) * (W/p), hidden_dim)``."""
        n, _, h, w = x.shape
        p = self.patch_size
        vl._assert(h == self.image_size, f"Wrong image height! Expected {self.image_size} but got {h}! "
                   f"(Build the model with image_size={h} to use another size.)")
        vl._assert(w == self.image_size, f"Wrong image width! Expected {self.image_size} but got {w}!")
        n_h, n_w = h // p, w // p
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, n_h * n_w).permute(0, 2, 1)

    def forward(self, x):
        """``(N, 3, image_size, image_size)`` images -> ``(N, num_classes)`` logits."""
        x = self._process_input(x)
        n = x.shape[0]
        x = vl.cat([self.class_token.expand(n, -1, -1), x], 1)
        x = self.encoder(x)
        return self.heads(x[:, 0])


def _vision_transformer(patch_size, num_layers, num_heads, hidden_dim, mlp_dim, weights, progress, **kwargs):
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        if weights.meta["min_size"][0] != weights.meta["min_size"][1]:
            raise AssertionError(f"non-square min_size {weights.meta['min_size']}")
        _ovewrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    image_size = kwargs.pop("image_size", 224)
    model = VisionTransformer(image_size=image_size, patch_size=patch_size, num_layers=num_layers,
                              num_heads=num_heads, hidden_dim=hidden_dim, mlp_dim=mlp_dim, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


def interpolate_embeddings(image_size, patch_size, model_state, interpolation_mode="bicubic",
                           reset_heads=False):
    """Resample a ViT state dict's positional embeddings for a model of another ``image_size``.

    The class token's embedding is kept; the ``(n, n)`` grid of patch embeddings is resized to
    ``image_size // patch_size`` per side with ``interpolation_mode`` (``align_corners=True``).

    Args:
        image_size: image size of the new model.
        patch_size: patch size of the new model.
        model_state: the pretrained state dict (``encoder.pos_embedding`` of shape ``(1, seq_length, dim)``);
            its entry is replaced in place when the length changes.
        interpolation_mode: ``"bicubic"`` (default), ``"bilinear"`` or ``"nearest"``.
        reset_heads: drop the ``heads.*`` entries (only when the embeddings were resampled, as TorchVision).
    Returns the state dict to load into ``vit_*(image_size=image_size)``.
    """
    pos_embedding = model_state["encoder.pos_embedding"]
    n, seq_length, hidden_dim = pos_embedding.shape
    if n != 1:
        raise ValueError(f"Unexpected position embedding shape: {tuple(pos_embedding.shape)}")
    new_side = image_size // patch_size
    if new_side * new_side + 1 == seq_length:
        return model_state
    pos_embedding = vl.as_tensor(pos_embedding) if not isinstance(pos_embedding, vl.Tensor) else pos_embedding
    side = int(math.sqrt(seq_length - 1))
    if side * side != seq_length - 1:
        raise ValueError(f"seq_length is not a perfect square! Instead got seq_length_1d * seq_length_1d = "
                         f"{side * side} and seq_length = {seq_length - 1}")
    token, grid = pos_embedding[:, :1, :], pos_embedding[:, 1:, :]
    grid = grid.permute(0, 2, 1).reshape(1, hidden_dim, side, side)
    grid = F.interpolate(grid, size=new_side, mode=interpolation_mode, align_corners=True)
    grid = grid.reshape(1, hidden_dim, new_side * new_side).permute(0, 2, 1)
    model_state["encoder.pos_embedding"] = vl.cat([token, grid], 1)
    if reset_heads:
        model_state = OrderedDict((k, v) for k, v in model_state.items() if not k.startswith("heads"))
    return model_state


# --------------------------------------------------------------------------------------------- weights

class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vit_b_16", "IMAGENET1K_V1")
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("vit_b_16", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("vit_b_16", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_V1


class ViT_B_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vit_b_32", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ViT_L_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vit_l_16", "IMAGENET1K_V1")
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("vit_l_16", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("vit_l_16", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_V1


class ViT_L_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("vit_l_32", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


class ViT_H_14_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1 = registered_weights("vit_h_14", "IMAGENET1K_SWAG_E2E_V1")
    IMAGENET1K_SWAG_LINEAR_V1 = registered_weights("vit_h_14", "IMAGENET1K_SWAG_LINEAR_V1")
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


# -------------------------------------------------------------------------------------------- builders

_BUILDER_DOC = """ViT-{variant} from `An Image is Worth 16x16 Words: Transformers for Image Recognition at
    Scale`.

    Args:
        weights: a :class:`{enum}` member, its name (``"DEFAULT"``, ...) or None for random initialisation.
            Weights fix ``image_size`` to their ``meta["min_size"]`` (384 or 518 for the SWAG end-to-end
            ones); for another size build without weights and load ``interpolate_embeddings(...)`` of their
            state dict. Pretrained weights are downloaded once, verified and cached (see visionlite.hub).
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`VisionTransformer` (``image_size`` (default 224), ``num_classes``,
            ``dropout``, ``attention_dropout``, ``representation_size``, ``conv_stem_configs``, ...).
    """


def _documented(variant, enum) -> Decorator:
    def wrap(fn):
        fn.__doc__ = _BUILDER_DOC.format(variant=variant, enum=enum.__name__)
        return fn
    return wrap


@register_model()
@_documented("B/16", ViT_B_16_Weights)
def vit_b_16(*, weights: ViT_B_16_Weights | None = None, progress: bool = True,
             **kwargs) -> VisionTransformer:
    _reject_pretrained(kwargs, ViT_B_16_Weights)
    return _vision_transformer(16, 12, 12, 768, 3072, ViT_B_16_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("B/32", ViT_B_32_Weights)
def vit_b_32(*, weights: ViT_B_32_Weights | None = None, progress: bool = True,
             **kwargs) -> VisionTransformer:
    _reject_pretrained(kwargs, ViT_B_32_Weights)
    return _vision_transformer(32, 12, 12, 768, 3072, ViT_B_32_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("L/16", ViT_L_16_Weights)
def vit_l_16(*, weights: ViT_L_16_Weights | None = None, progress: bool = True,
             **kwargs) -> VisionTransformer:
    _reject_pretrained(kwargs, ViT_L_16_Weights)
    return _vision_transformer(16, 24, 16, 1024, 4096, ViT_L_16_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("L/32", ViT_L_32_Weights)
def vit_l_32(*, weights: ViT_L_32_Weights | None = None, progress: bool = True,
             **kwargs) -> VisionTransformer:
    _reject_pretrained(kwargs, ViT_L_32_Weights)
    return _vision_transformer(32, 24, 16, 1024, 4096, ViT_L_32_Weights.verify(weights), progress, **kwargs)


@register_model()
@_documented("H/14", ViT_H_14_Weights)
def vit_h_14(*, weights: ViT_H_14_Weights | None = None, progress: bool = True,
             **kwargs) -> VisionTransformer:
    _reject_pretrained(kwargs, ViT_H_14_Weights)
    return _vision_transformer(14, 32, 16, 1280, 5120, ViT_H_14_Weights.verify(weights), progress, **kwargs)
