"""PyTorch's tutorial "Export a PyTorch model to ONNX" (torch.export-based exporter): an image classifier
exported with dynamo=True into an ONNXProgram, optimized, saved, checked, run in ONNX Runtime and compared
with the model, and called directly. PyTorch needs onnxscript for this exporter; the script's own
assertions compare the exported graph with the model."""
import os

import numpy as np
import onnx
import onnxruntime
import torch
import torch.nn as nn
import torch.nn.functional as F


class ImageClassifierModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main(state_dir):
    torch_model = ImageClassifierModel()
    # Create example inputs for exporting the model. The inputs should be a tuple of tensors.
    example_inputs = (torch.randn(1, 1, 32, 32),)
    onnx_program = torch.onnx.export(torch_model, example_inputs, dynamo=True)
    onnx_program.optimize()
    path = os.path.join(state_dir, "image_classifier_model.onnx")
    onnx_program.save(path)

    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model)

    onnx_inputs = [tensor.numpy(force=True) for tensor in example_inputs]
    print(f"Input length: {len(onnx_inputs)}")
    print(f"Sample input: {onnx_inputs}"[:14])

    ort_session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    onnxruntime_input = {input_arg.name: input_value
                         for input_arg, input_value in zip(ort_session.get_inputs(), onnx_inputs)}
    # ONNX Runtime returns a list of outputs
    onnxruntime_outputs = ort_session.run(None, onnxruntime_input)[0]

    torch_outputs = torch_model(*example_inputs)
    assert len(torch_outputs) == len(onnxruntime_outputs)
    for torch_output, onnxruntime_output in zip(torch_outputs, onnxruntime_outputs):
        torch.testing.assert_close(torch_output, torch.tensor(onnxruntime_output))
    print("PyTorch and ONNX Runtime output matched!")
    print(f"Output length: {len(onnxruntime_outputs)}")

    direct = onnx_program(*example_inputs)
    torch.testing.assert_close(direct[0], torch_model(*example_inputs))
    return {"ort": np.asarray(onnxruntime_outputs), "direct": direct[0].numpy()}
