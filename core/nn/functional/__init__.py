"""visionlite.nn.functional: stateless layer functions, as ``torch.nn.functional``."""
# --- activations, linear, losses, dropout, embedding, attention
# --- conv, pooling, normalization, interpolation, padding
from ...ops.movement import pad  # noqa: F401
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
