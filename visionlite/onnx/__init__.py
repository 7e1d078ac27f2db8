"""ONNX export: ``visionlite.onnx.export(model, args, "model.onnx")``, as ``torch.onnx.export``.

The ``onnx`` package is imported on the first export, never at ``import visionlite``
(``pip install "visionlite[onnx]"``).
"""

from ._program import ONNXProgram, export
from ._trace import ExportError

__all__ = ["export", "ExportError", "ONNXProgram"]
