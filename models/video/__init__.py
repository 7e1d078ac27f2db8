"""visionlite.models.video: video classification models (TorchVision's ``models.video``), on
``(N, 3, T, H, W)`` clips with Kinetics-400 weights."""
from .mvit import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .s3d import *  # noqa: F401,F403
from .swin_transformer import *  # noqa: F401,F403
