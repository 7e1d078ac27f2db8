"""visionlite.ops: TorchVision's reusable building blocks (``torchvision.ops``), with the same constructor
arguments, state-dict keys and forward passes: conv-norm-activation stacks, squeeze-excitation, stochastic
depth, the MLP block, ``Permute`` and ``FrozenBatchNorm2d``."""
from .misc import (
    MLP,
    Conv2dNormActivation,
    Conv3dNormActivation,
    FrozenBatchNorm2d,
    Permute,
    SqueezeExcitation,
)
from .stochastic_depth import StochasticDepth, stochastic_depth

__all__ = [
    "Conv2dNormActivation", "Conv3dNormActivation", "FrozenBatchNorm2d", "MLP", "Permute",
    "SqueezeExcitation", "StochasticDepth", "stochastic_depth",
]
