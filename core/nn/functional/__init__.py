"""visionlite.nn.functional: stateless layer functions, as ``torch.nn.functional``."""
# --- activations, linear, losses, dropout, embedding, attention, distances, fold, pixel shuffle, sampling
from .activation import *  # noqa: F401,F403
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401
from .ctc import ctc_loss  # noqa: F401
from .distance import cosine_similarity, normalize, pairwise_distance, pdist  # noqa: F401
from .dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout  # noqa: F401
from .embedding import embedding, one_hot  # noqa: F401
from .embedding_bag import embedding_bag  # noqa: F401
from .fold import fold, unfold  # noqa: F401
from .linear import bilinear, linear  # noqa: F401
from .loss import *  # noqa: F401,F403
from .loss_likelihood import gaussian_nll_loss, poisson_nll_loss  # noqa: F401
from .loss_margin import *  # noqa: F401,F403
from .pixelshuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle  # noqa: F401
from .sampling import affine_grid, grid_sample  # noqa: F401

# isort: split
# --- conv, pooling, normalization, interpolation, padding
from ...ops.movement import pad  # noqa: F401
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from .convolution3d import conv3d, conv_transpose3d  # noqa: F401
from .interpolation import interpolate, upsample, upsample_bilinear, upsample_nearest  # noqa: F401
from .normalization import (  # noqa: F401
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    rms_norm,
)
from .pooling import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
)
from .pooling3d import (  # noqa: F401
    adaptive_avg_pool3d,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    avg_pool3d,
    max_pool3d,
    max_pool3d_with_indices,
)
from .pooling_extra import (  # noqa: F401
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
