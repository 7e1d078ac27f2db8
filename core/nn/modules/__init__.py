"""All nn modules (one file per kind of layer)."""
# --- module base, containers, linear, activations, losses, dropout, embedding, rnn, attention,
# distances, fold, pixel shuffle
from ..module import Module  # noqa: F401
from .activation import *  # noqa: F401,F403
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout  # noqa: F401
from .embedding import Embedding, EmbeddingBag  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .fold import Fold, Unfold  # noqa: F401
from .linear import Bilinear, Identity, Linear  # noqa: F401
from .loss import *  # noqa: F401,F403
from .pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
from .transformer import (  # noqa: F401
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

# isort: split
# --- conv, pooling, normalization, upsampling
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
from .normalization import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from .pooling import (  # noqa: F401
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401

# isort: split
# --- padding, channel shuffle; the submodules that only re-export (PyTorch's file layout: ``batchnorm``,
# ``instancenorm``, ``module``, ``sparse``, ``utils``), so ``nn.modules.batchnorm._BatchNorm`` resolves
from . import batchnorm, instancenorm, module, sparse, utils  # noqa: F401
from .channelshuffle import ChannelShuffle  # noqa: F401
from .padding import *  # noqa: F401,F403
from .syncbatchnorm import SyncBatchNorm  # noqa: F401

# ``from .modules import *`` in ``nn`` takes every public name but these submodules, which would otherwise
# rebind ``nn.utils`` and ``nn.module``.
_SUBMODULES = {"batchnorm", "channelshuffle", "instancenorm", "module", "padding", "sparse", "syncbatchnorm",
               "utils"}
__all__ = [n for n in dir() if not n.startswith("_") and n not in _SUBMODULES]
