"""``grid_sample`` as one recorded op, for the ONNX exporter only.

``F.grid_sample`` computes its corner indices from the grid's values with array code, which a trace
cannot follow (the indices would be constants of one input). While an export traces, ``grid_sample``
runs as this single op instead, which the exporter writes as ONNX ``GridSample``.
"""

from ..autograd import function as _function
from ..autograd.function import Op
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor


class GridSampleOp(Op):
    """``grid_sample(x, grid)`` computed by ``F.grid_sample`` with the tracer paused (forward only)."""

    def forward(self, x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        from ..nn.functional.sampling import grid_sample

        tracer = _function.set_op_tracer(None)
        try:
            with no_grad():
                out = grid_sample(Tensor._wrap(x), Tensor._wrap(grid), mode, padding_mode, align_corners)
        finally:
            _function.set_op_tracer(tracer)
        return out._data

    def backward(self, g):
        raise RuntimeError("GridSampleOp is the ONNX exporter's forward-only form of grid_sample")


__all__ = ["GridSampleOp"]
