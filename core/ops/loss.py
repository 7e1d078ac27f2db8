"""Loss primitives whose composite form would be wrong at the edges.

Binary cross entropy: written as clamp(log(x), -100), its gradient at x = 0 or 1 is 0 * inf = NaN; the
fused form gives PyTorch's (x - t) / max(x (1 - x), 1e-12) everywhere.
"""

import numpy as np

from ..autograd.function import Op
from ..backend import array_module
from . import elementwise as ew

_EPS = 1e-12


class BinaryCrossEntropy(Op):
    """-(t log(x) + (1 - t) log(1 - x)) elementwise, each log clamped at -100 (unreduced, unweighted)."""

    def forward(self, x, t):
        xp = array_module(x)
        if self.recording:
            self.save(*self.inputs)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return (-(t * log_x + (1 - t) * log_1mx)).astype(x.dtype, copy=False)

    def backward(self, g):
        x, t = self.saved_values()
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * (x - t) / ew.clamp(x * (1 - x), min=_EPS)
        if self.needs_input_grad[1]:
            # Unclamped, as PyTorch: infinite where x is 0 or 1.
            with np.errstate(divide="ignore"):
                gt = g * (ew.log1p(-x) - ew.log(x))
        return gx, gt
