"""RAFT: Recurrent All-Pairs Field Transforms for optical flow (Teed & Deng, https://arxiv.org/abs/2003.12039),
with TorchVision's module layout, state-dict keys and weights.

A feature encoder maps both frames to 1/8-resolution features; their all-pairs dot products form a 4-D
correlation volume, pooled into a pyramid. Starting from zero flow, each update looks up the pyramid around
the current match positions, encodes the motion, advances a convolutional GRU (initialised and fed by a
context encoder of the first frame) and adds the predicted flow increment. Each update's flow is upsampled
to full resolution (bilinearly, or by a learned convex combination) and returned.
"""
import numpy as np

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn
from visionlite.core.autograd import function as _function

from .._api import WeightsEnum, register_model, registered_weights
from .._utils import Conv2dNormActivation, _load_weights, _reject_pretrained
from ._corr import lookup_window
from ._utils import grid_sample, make_coords_grid, upsample_flow

__all__ = ["RAFT", "raft_large", "raft_small", "Raft_Large_Weights", "Raft_Small_Weights"]


class ResidualBlock(nn.Module):
    """Two 3x3 conv-norm-ReLU layers plus a shortcut (projected by a 1x1 conv-norm when the stride or
    ``always_project`` asks), then ReLU. The convolutions keep their biases even before a norm layer:
    the RAFT recipe freezes BatchNorm after the first dataset, and the official weights hold them."""

    def __init__(self, in_channels, out_channels, *, norm_layer, stride=1, always_project=False):
        super().__init__()
        self.convnormrelu1 = Conv2dNormActivation(in_channels, out_channels, norm_layer=norm_layer,
                                                  kernel_size=3, stride=stride, bias=True)
        self.convnormrelu2 = Conv2dNormActivation(out_channels, out_channels, norm_layer=norm_layer,
                                                  kernel_size=3, bias=True)
        if stride == 1 and not always_project:
            self.downsample = nn.Identity()
        else:
            self.downsample = Conv2dNormActivation(in_channels, out_channels, norm_layer=norm_layer,
                                                   kernel_size=1, stride=stride, bias=True,
                                                   activation_layer=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.convnormrelu2(self.convnormrelu1(x))
        return self.relu(self.downsample(x) + y)


class BottleneckBlock(nn.Module):
    """1x1 (to a quarter of the channels), 3x3 (strided), 1x1 conv-norm-ReLU layers plus a shortcut, then
    ReLU; biased convolutions as in :class:`ResidualBlock`."""

    def __init__(self, in_channels, out_channels, *, norm_layer, stride=1):
        super().__init__()
        mid = out_channels // 4
        self.convnormrelu1 = Conv2dNormActivation(in_channels, mid, norm_layer=norm_layer, kernel_size=1,
                                                  bias=True)
        self.convnormrelu2 = Conv2dNormActivation(mid, mid, norm_layer=norm_layer, kernel_size=3,
                                                  stride=stride, bias=True)
        self.convnormrelu3 = Conv2dNormActivation(mid, out_channels, norm_layer=norm_layer, kernel_size=1,
                                                  bias=True)
        self.relu = nn.ReLU(inplace=True)
        if stride == 1:
            self.downsample = nn.Identity()
        else:
            self.downsample = Conv2dNormActivation(in_channels, out_channels, norm_layer=norm_layer,
                                                   kernel_size=1, stride=stride, bias=True,
                                                   activation_layer=None)

    def forward(self, x):
        y = self.convnormrelu3(self.convnormrelu2(self.convnormrelu1(x)))
        return self.relu(self.downsample(x) + y)


class FeatureEncoder(nn.Module):
    """Feature (and context) encoder: ``(N, 3, H, W)`` -> ``(N, layers[4], H / 8, W / 8)``.

    A 7x7 conv-norm-ReLU, three stages of two ``block``s (output widths ``layers[1:4]``, first strides
    ``strides[1:]``) and a 1x1 projection to ``layers[4]``; the strides must downsample by 8 in all.
    """

    def __init__(self, *, block=ResidualBlock, layers=(64, 64, 96, 128, 256), strides=(2, 1, 2, 2),
                 norm_layer=nn.BatchNorm2d):
        super().__init__()
        if len(layers) != 5:
            raise ValueError(f"The expected number of layers is 5, instead got {len(layers)}")
        self.convnormrelu = Conv2dNormActivation(3, layers[0], norm_layer=norm_layer, kernel_size=7,
                                                 stride=strides[0], bias=True)
        self.layer1 = self._make_2_blocks(block, layers[0], layers[1], norm_layer, strides[1])
        self.layer2 = self._make_2_blocks(block, layers[1], layers[2], norm_layer, strides[2])
        self.layer3 = self._make_2_blocks(block, layers[2], layers[3], norm_layer, strides[3])
        self.conv = nn.Conv2d(layers[3], layers[4], kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)):
                if m.weight is not None:
                    nn.init.constant_(m.weight, 1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        self.output_dim = layers[-1]
        self.downsample_factor = 2 ** sum(1 for s in strides if s == 2)

    def _make_2_blocks(self, block, in_channels, out_channels, norm_layer, first_stride):
        return nn.Sequential(block(in_channels, out_channels, norm_layer=norm_layer, stride=first_stride),
                             block(out_channels, out_channels, norm_layer=norm_layer, stride=1))

    def forward(self, x):
        x = self.convnormrelu(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv(x)


class MotionEncoder(nn.Module):
    """Encodes the current flow ``(N, 2, h, w)`` and correlation features ``(N, in_channels_corr, h, w)``
    into ``(N, out_channels, h, w)``, the last two channels being the flow itself."""

    def __init__(self, *, in_channels_corr, corr_layers=(256, 192), flow_layers=(128, 64), out_channels=128):
        super().__init__()
        if len(flow_layers) != 2:
            raise ValueError(f"The expected number of flow_layers is 2, instead got {len(flow_layers)}")
        if len(corr_layers) not in (1, 2):
            raise ValueError(f"The number of corr_layers should be 1 or 2, instead got {len(corr_layers)}")
        self.convcorr1 = Conv2dNormActivation(in_channels_corr, corr_layers[0], norm_layer=None,
                                              kernel_size=1)
        if len(corr_layers) == 2:
            self.convcorr2 = Conv2dNormActivation(corr_layers[0], corr_layers[1], norm_layer=None,
                                                  kernel_size=3)
        else:
            self.convcorr2 = nn.Identity()
        self.convflow1 = Conv2dNormActivation(2, flow_layers[0], norm_layer=None, kernel_size=7)
        self.convflow2 = Conv2dNormActivation(flow_layers[0], flow_layers[1], norm_layer=None, kernel_size=3)
        # two channels short: the raw flow is appended to the output
        self.conv = Conv2dNormActivation(corr_layers[-1] + flow_layers[-1], out_channels - 2, norm_layer=None,
                                         kernel_size=3)
        self.out_channels = out_channels

    def forward(self, flow, corr_features):
        corr = self.convcorr2(self.convcorr1(corr_features))
        motion = self.convflow2(self.convflow1(flow))
        encoded = self.conv(vl.cat([corr, motion], dim=1))
        return vl.cat([encoded, flow], dim=1)


class ConvGRU(nn.Module):
    """Convolutional GRU cell: ``h' = (1 - z) h + z q`` with gates z, r and candidate q from convolutions of
    ``[h, x]`` (``[r h, x]`` for q)."""

    def __init__(self, *, input_size, hidden_size, kernel_size, padding):
        super().__init__()
        channels = hidden_size + input_size
        self.convz = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)
        self.convr = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)
        self.convq = nn.Conv2d(channels, hidden_size, kernel_size=kernel_size, padding=padding)

    def forward(self, h, x):
        hx = vl.cat([h, x], dim=1)
        z = self.convz(hx).sigmoid()
        r = self.convr(hx).sigmoid()
        q = self.convq(vl.cat([r * h, x], dim=1)).tanh()
        return (1 - z) * h + z * q


class RecurrentBlock(nn.Module):
    """One or two :class:`ConvGRU` cells in sequence (RAFT-large: a 1x5 then a 5x1 "separable" pair)."""

    def __init__(self, *, input_size, hidden_size, kernel_size=((1, 5), (5, 1)), padding=((0, 2), (2, 0))):
        super().__init__()
        if len(kernel_size) != len(padding):
            raise ValueError("kernel_size should have the same length as padding, instead got "
                             f"len(kernel_size) = {len(kernel_size)} and len(padding) = {len(padding)}")
        if len(kernel_size) not in (1, 2):
            raise ValueError(f"kernel_size should either 1 or 2, instead got {len(kernel_size)}")
        self.convgru1 = ConvGRU(input_size=input_size, hidden_size=hidden_size, kernel_size=kernel_size[0],
                                padding=padding[0])
        if len(kernel_size) == 2:
            self.convgru2 = ConvGRU(input_size=input_size, hidden_size=hidden_size,
                                    kernel_size=kernel_size[1], padding=padding[1])
        else:
            self.convgru2 = None  # not a module: no state-dict keys, as TorchVision's pass-through function
        self.hidden_size = hidden_size

    def forward(self, h, x):
        h = self.convgru1(h, x)
        return h if self.convgru2 is None else self.convgru2(h, x)


class FlowHead(nn.Module):
    """Hidden state -> flow increment ``(N, 2, h, w)``: 3x3 conv, ReLU, 3x3 conv."""

    def __init__(self, *, in_channels, hidden_size):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden_size, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_size, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.conv2(self.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """Motion encoder, recurrent block and flow head: ``(hidden, context, corr_features, flow)`` ->
    ``(new hidden, delta_flow)``. Exposes ``hidden_state_size``."""

    def __init__(self, *, motion_encoder, recurrent_block, flow_head):
        super().__init__()
        self.motion_encoder = motion_encoder
        self.recurrent_block = recurrent_block
        self.flow_head = flow_head
        self.hidden_state_size = recurrent_block.hidden_size

    def forward(self, hidden_state, context, corr_features, flow):
        motion = self.motion_encoder(flow, corr_features)
        hidden_state = self.recurrent_block(hidden_state, vl.cat([context, motion], dim=1))
        return hidden_state, self.flow_head(hidden_state)


class MaskPredictor(nn.Module):
    """Hidden state -> upsampling weights ``(N, 8 * 8 * 9, h, w)`` (9 coarse neighbours for each of the
    8x8 fine pixels), scaled by ``multiplier`` (0.25 in the original code, to damp this branch's
    gradients)."""

    def __init__(self, *, in_channels, hidden_size, multiplier=0.25):
        super().__init__()
        self.convrelu = Conv2dNormActivation(in_channels, hidden_size, norm_layer=None, kernel_size=3)
        self.conv = nn.Conv2d(hidden_size, 8 * 8 * 9, 1, padding=0)
        self.multiplier = multiplier

    def forward(self, x):
        return self.multiplier * self.conv(self.convrelu(x))


class CorrBlock(nn.Module):
    """All-pairs correlation pyramid and its lookup.

    ``build_pyramid(fmap1, fmap2)`` stores, for every pixel of ``fmap1``, its dot products with all pixels of
    ``fmap2`` (divided by sqrt(channels)), average-pooled ``num_levels - 1`` times by 2.
    ``index_pyramid(coords)`` reads, at every level, the ``(2 radius + 1)^2`` square of bilinearly sampled
    values around each pixel's match position (scaled to the level), giving
    ``(N, num_levels * (2 radius + 1)^2, h, w)``.
    """

    def __init__(self, *, num_levels=4, radius=4):
        super().__init__()
        self.num_levels = num_levels
        self.radius = radius
        self.corr_pyramid = []
        self.out_channels = num_levels * (2 * radius + 1) ** 2

    def build_pyramid(self, fmap1, fmap2):
        """Fill ``corr_pyramid`` from two ``(N, C, h, w)`` feature maps."""
        if fmap1.shape != fmap2.shape:
            raise ValueError("Input feature maps should have the same shape, instead got "
                             f"{tuple(fmap1.shape)} (fmap1.shape) != {tuple(fmap2.shape)} (fmap2.shape)")
        # The coarsest level must keep at least 2 pixels per side, or bilinear sampling has nothing to blend.
        min_fmap_size = 2 * (2 ** (self.num_levels - 1))
        if any(s < min_fmap_size for s in fmap1.shape[-2:]):
            raise ValueError("Feature maps are too small to be down-sampled by the correlation pyramid. "
                             f"H and W of feature maps should be at least {min_fmap_size}; got: "
                             f"{tuple(fmap1.shape[-2:])}. Remember that input images to the model are "
                             f"downsampled by 8, so that means their dimensions should be at least "
                             f"8 * {min_fmap_size} = {8 * min_fmap_size}.")
        n, c, h, w = fmap1.shape
        corr = fmap1.reshape(n, c, h * w).transpose(1, 2).matmul(fmap2.reshape(n, c, h * w))
        # PyTorch divides by sqrt of an integer tensor: a float32 scalar, whatever the features' dtype.
        corr = corr / float(np.sqrt(np.float32(c)))
        volume = corr.reshape(n * h * w, 1, h, w)
        self.corr_pyramid = [volume]
        for _ in range(self.num_levels - 1):
            volume = F.avg_pool2d(volume, kernel_size=2, stride=2)
            self.corr_pyramid.append(volume)

    def index_pyramid(self, centroids_coords):
        """Correlation features ``(N, out_channels, h, w)`` around ``centroids_coords`` ``(N, 2, h, w)``
        (x, y positions in ``fmap2`` pixels)."""
        side = 2 * self.radius + 1
        n, _, h, w = centroids_coords.shape
        centroids = centroids_coords.permute(0, 2, 3, 1).reshape(n * h * w, 2)
        # RAFT never differentiates through the positions (they are detached each update); then every
        # square shares one bilinear fraction, and a windowed read is exact and much cheaper.
        # (Not while the ONNX exporter traces: the window's indices come from the positions' values.)
        fast = not (vl.is_grad_enabled() and centroids.requires_grad) and not _function.is_op_tracing()
        if not fast:
            offsets = vl.linspace(-self.radius, self.radius, side, dtype=centroids.dtype,
                                  device=centroids.device)
            dx, dy = vl.meshgrid(offsets, offsets, indexing="ij")
            delta = vl.stack([dx, dy], dim=-1).view(1, side, side, 2)
        levels = []
        for corr_volume in self.corr_pyramid:
            if fast:
                sampled = lookup_window(corr_volume, centroids, self.radius)
            else:
                grid = centroids.view(-1, 1, 1, 2) + delta
                sampled = grid_sample(corr_volume, grid, align_corners=True, mode="bilinear")
            levels.append(sampled.reshape(n, h, w, side * side))
            centroids = centroids / 2
        features = vl.cat(levels, dim=-1).permute(0, 3, 1, 2).contiguous()
        expected = (n, self.out_channels, h, w)
        if tuple(features.shape) != expected:
            raise ValueError(f"Output shape of index pyramid is incorrect. Should be {expected}, got "
                             f"{tuple(features.shape)}")
        return features


class RAFT(nn.Module):
    """RAFT optical flow network (see the module docstring).

    Args:
        feature_encoder: maps ``(2N, 3, H, W)`` (both frames) to ``(2N, C, H / 8, W / 8)``.
        context_encoder: maps frame 1 to ``(N, hidden_state_size + context channels, H / 8, W / 8)``; the
            first ``hidden_state_size`` channels (tanh) initialise the GRU, the rest (ReLU) are its context.
        corr_block: a :class:`CorrBlock` (``build_pyramid``, ``index_pyramid``, ``out_channels``).
        update_block: an :class:`UpdateBlock` (exposes ``hidden_state_size``).
        mask_predictor: a :class:`MaskPredictor` for convex upsampling, or None for bilinear upsampling.

    ``forward(image1, image2, num_flow_updates=12)`` takes ``(N, 3, H, W)`` frames (H, W multiples of 8) and
    returns the list of ``num_flow_updates`` flow fields ``(N, 2, H, W)``, the last being the best estimate.
    """

    def __init__(self, *, feature_encoder, context_encoder, corr_block, update_block, mask_predictor=None):
        super().__init__()
        self.feature_encoder = feature_encoder
        self.context_encoder = context_encoder
        self.corr_block = corr_block
        self.update_block = update_block
        self.mask_predictor = mask_predictor
        if not hasattr(self.update_block, "hidden_state_size"):
            raise ValueError("The update_block parameter should expose a 'hidden_state_size' attribute.")

    def forward(self, image1, image2, num_flow_updates=12):
        n, _, h, w = image1.shape
        if (h, w) != tuple(image2.shape[-2:]):
            raise ValueError(f"input images should have the same shape, instead got ({h}, {w}) != "
                             f"{tuple(image2.shape[-2:])}")
        if h % 8 or w % 8:
            raise ValueError(f"input image H and W should be divisible by 8, instead got {h} (h) and {w} (w)")
        fmap1, fmap2 = self.feature_encoder(vl.cat([image1, image2], dim=0)).chunk(2, dim=0)
        if tuple(fmap1.shape[-2:]) != (h // 8, w // 8):
            raise ValueError("The feature encoder should downsample H and W by 8")
        self.corr_block.build_pyramid(fmap1, fmap2)

        context_out = self.context_encoder(image1)
        if tuple(context_out.shape[-2:]) != (h // 8, w // 8):
            raise ValueError("The context encoder should downsample H and W by 8")
        hidden_size = self.update_block.hidden_state_size
        context_size = context_out.shape[1] - hidden_size
        if context_size <= 0:
            raise ValueError(f"The context encoder outputs {context_out.shape[1]} channels, but it should "
                             f"have at strictly more than hidden_state={hidden_size} channels")
        hidden_state, context = context_out.split([hidden_size, context_size], dim=1)
        hidden_state = hidden_state.tanh()
        context = F.relu(context)

        # float32 pixel grids as TorchVision's, float64 for a float64 model (which TorchVision cannot run);
        # never half precision: the coordinates would lose whole pixels.
        grid_dtype = vl.float64 if fmap1.dtype == vl.float64 else vl.float32
        coords0 = make_coords_grid(n, h // 8, w // 8, device=fmap1.device).to(grid_dtype)
        coords1 = make_coords_grid(n, h // 8, w // 8, device=fmap1.device).to(grid_dtype)
        predictions = []
        for _ in range(num_flow_updates):
            coords1 = coords1.detach()  # as the paper: no gradient through the lookup positions
            corr_features = self.corr_block.index_pyramid(centroids_coords=coords1)
            flow = coords1 - coords0
            hidden_state, delta_flow = self.update_block(hidden_state, context, corr_features, flow)
            coords1 = coords1 + delta_flow
            up_mask = None if self.mask_predictor is None else self.mask_predictor(hidden_state)
            predictions.append(upsample_flow(flow=coords1 - coords0, up_mask=up_mask))
        return predictions


class Raft_Large_Weights(WeightsEnum):
    """RAFT-large weights. ``epe`` is the end-point error in pixels averaged over all pixels;
    ``per_image_epe`` averages per image first (KITTI's Fl-epe); ``fl_all`` is KITTI's outlier percentage."""

    C_T_V1 = registered_weights("raft_large", "C_T_V1")
    C_T_V2 = registered_weights("raft_large", "C_T_V2")
    C_T_SKHT_V1 = registered_weights("raft_large", "C_T_SKHT_V1")
    C_T_SKHT_V2 = registered_weights("raft_large", "C_T_SKHT_V2")
    C_T_SKHT_K_V1 = registered_weights("raft_large", "C_T_SKHT_K_V1")
    C_T_SKHT_K_V2 = registered_weights("raft_large", "C_T_SKHT_K_V2")
    DEFAULT = C_T_SKHT_V2


class Raft_Small_Weights(WeightsEnum):
    """RAFT-small weights (metrics as :class:`Raft_Large_Weights`)."""

    C_T_V1 = registered_weights("raft_small", "C_T_V1")
    C_T_V2 = registered_weights("raft_small", "C_T_V2")
    DEFAULT = C_T_V2


def _raft(*, weights, progress, feature_encoder_layers, feature_encoder_block, feature_encoder_norm_layer,
          context_encoder_layers, context_encoder_block, context_encoder_norm_layer, corr_block_num_levels,
          corr_block_radius, motion_encoder_corr_layers, motion_encoder_flow_layers,
          motion_encoder_out_channels, recurrent_block_hidden_state_size, recurrent_block_kernel_size,
          recurrent_block_padding,
          flow_head_hidden_size, use_mask_predictor, **kwargs):
    # Any of the five parts may be passed ready-made (TorchVision's keyword names).
    feature_encoder = kwargs.pop("feature_encoder", None) or FeatureEncoder(
        block=feature_encoder_block, layers=feature_encoder_layers, norm_layer=feature_encoder_norm_layer)
    context_encoder = kwargs.pop("context_encoder", None) or FeatureEncoder(
        block=context_encoder_block, layers=context_encoder_layers, norm_layer=context_encoder_norm_layer)
    corr_block = kwargs.pop("corr_block", None) or CorrBlock(num_levels=corr_block_num_levels,
                                                             radius=corr_block_radius)
    update_block = kwargs.pop("update_block", None)
    if update_block is None:
        motion_encoder = MotionEncoder(in_channels_corr=corr_block.out_channels,
                                       corr_layers=motion_encoder_corr_layers,
                                       flow_layers=motion_encoder_flow_layers,
                                       out_channels=motion_encoder_out_channels)
        context_channels = context_encoder_layers[-1] - recurrent_block_hidden_state_size
        recurrent_block = RecurrentBlock(input_size=motion_encoder.out_channels + context_channels,
                                         hidden_size=recurrent_block_hidden_state_size,
                                         kernel_size=recurrent_block_kernel_size,
                                         padding=recurrent_block_padding)
        flow_head = FlowHead(in_channels=recurrent_block_hidden_state_size, hidden_size=flow_head_hidden_size)
        update_block = UpdateBlock(motion_encoder=motion_encoder, recurrent_block=recurrent_block,
                                   flow_head=flow_head)
    mask_predictor = kwargs.pop("mask_predictor", None)
    if mask_predictor is None and use_mask_predictor:
        mask_predictor = MaskPredictor(in_channels=recurrent_block_hidden_state_size, hidden_size=256,
                                       multiplier=0.25)
    model = RAFT(feature_encoder=feature_encoder, context_encoder=context_encoder, corr_block=corr_block,
                 update_block=update_block, mask_predictor=mask_predictor, **kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model


@register_model()
def raft_large(*, weights: Raft_Large_Weights | None = None, progress: bool = True, **kwargs) -> RAFT:
    """RAFT (large) from `RAFT: Recurrent All Pairs Field Transforms for Optical Flow`: 5.3 M parameters,
    instance-normed feature encoder, batch-normed context encoder, 4-level pyramid of radius 4, separable
    ConvGRU and convex upsampling.

    Args:
        weights: a :class:`Raft_Large_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`RAFT` (ready-made ``feature_encoder``, ``corr_block``, ...).
    """
    _reject_pretrained(kwargs, Raft_Large_Weights)
    return _raft(weights=Raft_Large_Weights.verify(weights), progress=progress,
                 feature_encoder_layers=(64, 64, 96, 128, 256), feature_encoder_block=ResidualBlock,
                 feature_encoder_norm_layer=nn.InstanceNorm2d,
                 context_encoder_layers=(64, 64, 96, 128, 256), context_encoder_block=ResidualBlock,
                 context_encoder_norm_layer=nn.BatchNorm2d,
                 corr_block_num_levels=4, corr_block_radius=4,
                 motion_encoder_corr_layers=(256, 192), motion_encoder_flow_layers=(128, 64),
                 motion_encoder_out_channels=128,
                 recurrent_block_hidden_state_size=128, recurrent_block_kernel_size=((1, 5), (5, 1)),
                 recurrent_block_padding=((0, 2), (2, 0)),
                 flow_head_hidden_size=256, use_mask_predictor=True, **kwargs)


@register_model()
def raft_small(*, weights: Raft_Small_Weights | None = None, progress: bool = True, **kwargs) -> RAFT:
    """RAFT (small) from `RAFT: Recurrent All Pairs Field Transforms for Optical Flow`: 1.0 M parameters,
    bottleneck encoders, 4-level pyramid of radius 3, one 3x3 ConvGRU and bilinear upsampling.

    Args:
        weights: a :class:`Raft_Small_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`RAFT` (ready-made ``feature_encoder``, ``corr_block``, ...).
    """
    _reject_pretrained(kwargs, Raft_Small_Weights)
    return _raft(weights=Raft_Small_Weights.verify(weights), progress=progress,
                 feature_encoder_layers=(32, 32, 64, 96, 128), feature_encoder_block=BottleneckBlock,
                 feature_encoder_norm_layer=nn.InstanceNorm2d,
                 context_encoder_layers=(32, 32, 64, 96, 160), context_encoder_block=BottleneckBlock,
                 context_encoder_norm_layer=None,
                 corr_block_num_levels=4, corr_block_radius=3,
                 motion_encoder_corr_layers=(96,), motion_encoder_flow_layers=(64, 32),
                 motion_encoder_out_channels=82,
                 recurrent_block_hidden_state_size=96, recurrent_block_kernel_size=(3,),
                 recurrent_block_padding=(1,),
                 flow_head_hidden_size=128, use_mask_predictor=False, **kwargs)
