"""``ONNXProgram``: what ``export(..., dynamo=True)`` returns, as ``torch.onnx.export`` does with its
torch.export-based exporter (the default since PyTorch 2.9): the graph, ``save``-able and callable."""

import functools

import numpy as np

from . import _export


class ONNXProgram:
    """An exported ONNX graph that saves to a file and runs in ONNX Runtime when called with Tensors.

    ``program.save("model.onnx")`` writes it; ``program(x)`` runs it (CPU provider) and returns a tuple of
    Tensors, one per graph output; ``program.model_proto`` is the ``onnx.ModelProto``. ``optimize()`` is
    accepted and does nothing more: constants are already folded at export.
    """

    def __init__(self, model_proto):
        self._proto = model_proto
        self.exported_program = None  # torch keeps its torch.export program here; there is none
        self._inference_session = None

    def __repr__(self):
        graph = self._proto.graph
        return (f"ONNXProgram(inputs={[i.name for i in graph.input]}, "
                f"outputs={[o.name for o in graph.output]}, nodes={len(graph.node)}, "
                f"opset={self._proto.opset_import[0].version})")

    @property
    def model_proto(self):
        """The exported ``onnx.ModelProto``."""
        return self._proto

    def optimize(self):
        """Kept for torch's API: the export already folded what weights alone determine."""

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        """Write the model to ``destination`` (a path); ``external_data=True`` puts the weights in
        ``<name>.data`` beside it (done anyway past protobuf's 2 GiB limit)."""
        onnx = _export._import_onnx()
        proto = self._proto
        if not include_initializers or keep_initializers_as_inputs:
            proto = onnx.ModelProto()
            proto.CopyFrom(self._proto)
            graph_inputs = {i.name for i in proto.graph.input}
            if keep_initializers_as_inputs:
                for init in proto.graph.initializer:
                    if init.name not in graph_inputs:
                        info = onnx.helper.make_tensor_value_info(init.name, init.data_type, init.dims)
                        proto.graph.input.append(info)
            if not include_initializers:
                del proto.graph.initializer[:]
        if external_data:
            import os

            onnx.save_model(proto, os.fspath(destination), save_as_external_data=True,
                            all_tensors_to_one_file=True, location=os.path.basename(destination) + ".data")
            return
        _export._save(onnx, proto, destination)

    def initialize_inference_session(self, initializer=None):
        """Start the ONNX Runtime session ``__call__`` uses (``initializer(model_bytes)`` builds it when
        given)."""
        data = self._proto.SerializeToString()
        if initializer is not None:
            self._inference_session = initializer(data)
            return
        try:
            import onnxruntime
        except ImportError:
            raise ImportError('running an ONNXProgram needs onnxruntime: pip install onnxruntime') from None
        self._inference_session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])

    def __call__(self, *args, **kwargs):
        """Run the graph on ``args`` (Tensors or arrays, in the graph's input order; keyword arguments
        follow them by name); returns a tuple of Tensors."""
        from visionlite.core.tensor import Tensor

        if self._inference_session is None:
            self.initialize_inference_session()
        values = list(args) + list(kwargs.values())
        names = [i.name for i in self._inference_session.get_inputs()]
        if len(values) != len(names):
            raise ValueError(f"ONNXProgram: the graph takes {len(names)} input(s) ({', '.join(names)}), "
                             f"got {len(values)}")
        feed = {n: (v.numpy(force=True) if isinstance(v, Tensor) else np.asarray(v))
                for n, v in zip(names, values)}
        return tuple(Tensor._wrap(np.asarray(out)) for out in self._inference_session.run(None, feed))

    def release(self):
        """Drop the inference session."""
        self._inference_session = None


@functools.wraps(_export.export)
def export(model, args=(), f=None, **kwargs):
    proto = _export.export(model, args, f, **kwargs)
    # With dynamo=True torch's torch.export-based exporter returns an ONNXProgram, and scripts written for
    # it call .save()/.optimize() on the result; otherwise the ModelProto comes back, as before.
    return ONNXProgram(proto) if kwargs.get("dynamo") else proto
