"""The focal loss of RetinaNet (Lin et al., https://arxiv.org/abs/1708.02002), as
``torchvision.ops.focal_loss``; a composite of differentiable tensor ops."""
import visionlite as vl
import visionlite.nn.functional as F

from ._utils import _reduce

__all__ = ["sigmoid_focal_loss"]


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """Focal loss (Lin et al., https://arxiv.org/abs/1708.02002) of logits ``inputs`` against binary
    ``targets`` of the same shape.

    Args:
        alpha: weight of positives in ``[0, 1]`` (negatives get ``1 - alpha``), or -1 for no weighting.
        gamma: exponent of the modulating factor ``(1 - p_t)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """
    if not (0 <= alpha <= 1) and alpha != -1:
        raise ValueError(f"Invalid alpha value: {alpha}. alpha must be in the range [0,1] or -1 for ignore.")
    p = vl.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction, empty_mean_is_zero=False)
