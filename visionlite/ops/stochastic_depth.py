"""Stochastic depth (Huang et al., "Deep Networks with Stochastic Depth", https://arxiv.org/abs/1603.09382):
drop a residual branch at random in training, for a whole batch or per sample."""
import visionlite as vl
from visionlite import nn

__all__ = ["stochastic_depth", "StochasticDepth"]


def stochastic_depth(input, p, mode, training=True):
    """Zero ``input`` with probability ``p`` and scale what survives by ``1 / (1 - p)``.

    Args:
        input: tensor ``(N, ...)``, the batch along dim 0.
        p: probability of zeroing, in ``[0, 1]``.
        mode: ``"batch"`` draws one coin for the whole input, ``"row"`` one per sample (row of dim 0).
        training: when False (or ``p == 0``) the input is returned unchanged.
    Returns a tensor of the input's shape.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    keep = 1.0 - p
    shape = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = vl.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(keep)
    if keep > 0.0:
        noise.div_(keep)  # p == 1 keeps the zeros unscaled, as TorchVision
    return input * noise


class StochasticDepth(nn.Module):
    """Module form of :func:`stochastic_depth`, active only in training mode."""

    def __init__(self, p, mode):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p}, mode={self.mode})"
