"""PyTorch's tutorial "Exporting a model from PyTorch to ONNX and running it using ONNX Runtime": the
super-resolution network exported with input/output names and a dynamic batch axis (TorchScript-style
exporter, opset 10 as the tutorial asks), checked with onnx.checker, run in ONNX Runtime at the export
batch and at another one, then the tutorial's cat picture through the Y channel."""
import os

import numpy as np
import onnx
import onnxruntime
import torch
import torch.nn as nn
import torch.nn.init as init
import torchvision.transforms as transforms
from PIL import Image

RTOL = 1e-3


class SuperResolutionNet(nn.Module):
    def __init__(self, upscale_factor, inplace=False):
        super(SuperResolutionNet, self).__init__()  # noqa: UP008 (as the tutorial writes it)

        self.relu = nn.ReLU(inplace=inplace)
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


def to_numpy(tensor):
    return tensor.detach().cpu().numpy() if tensor.requires_grad else tensor.cpu().numpy()


def main(state_dir):
    rng = np.random.RandomState(0)
    torch_model = SuperResolutionNet(upscale_factor=3)
    init_path = os.path.join(state_dir, "superres_init.pth")
    if os.path.exists(init_path):
        torch_model.load_state_dict(torch.load(init_path))
    else:
        torch.save(torch_model.state_dict(), init_path)

    batch_size = 1
    torch_model.eval()
    x = torch.from_numpy(rng.randn(batch_size, 1, 32, 32).astype(np.float32)).requires_grad_(True)
    torch_out = torch_model(x)

    path = os.path.join(state_dir, "super_resolution.onnx")
    torch.onnx.export(torch_model,               # model being run
                      x,                         # model input (or a tuple for multiple inputs)
                      path,                      # where to save the model (can be a file or file-like object)
                      export_params=True,        # store the trained parameter weights inside the model file
                      opset_version=10,          # the ONNX version to export the model to
                      do_constant_folding=True,  # whether to execute constant folding for optimization
                      input_names=['input'],     # the model's input names
                      output_names=['output'],   # the model's output names
                      dynamic_axes={'input': {0: 'batch_size'},    # variable length axes
                                    'output': {0: 'batch_size'}},
                      dynamo=False)

    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model)
    print([i.name for i in onnx_model.graph.input], [o.name for o in onnx_model.graph.output])

    ort_session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ort_inputs = {ort_session.get_inputs()[0].name: to_numpy(x)}
    ort_outs = ort_session.run(None, ort_inputs)
    np.testing.assert_allclose(to_numpy(torch_out), ort_outs[0], rtol=1e-03, atol=1e-05)
    print("Exported model has been tested with ONNXRuntime, and the result looks good!")

    x3 = torch.from_numpy(rng.randn(3, 1, 32, 32).astype(np.float32))
    ort_outs3 = ort_session.run(None, {"input": x3.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(torch_model(x3).numpy(), ort_outs3[0], rtol=1e-03, atol=1e-05)
    print("batch of 3:", ort_outs3[0].shape)

    cat = os.path.join(state_dir, "cat.jpg")
    Image.fromarray(rng.randint(0, 256, (40, 50, 3)).astype(np.uint8)).save(cat)
    img = Image.open(cat)
    resize = transforms.Resize([32, 32])
    img = resize(img)
    img_ycbcr = img.convert('YCbCr')
    img_y, img_cb, img_cr = img_ycbcr.split()
    to_tensor = transforms.ToTensor()
    img_y = to_tensor(img_y)
    img_y.unsqueeze_(0)
    ort_inputs = {ort_session.get_inputs()[0].name: to_numpy(img_y)}
    ort_outs = ort_session.run(None, ort_inputs)
    img_out_y = ort_outs[0]
    img_out_y = Image.fromarray(np.uint8((img_out_y[0] * 255.0).clip(0, 255)[0]), mode='L')
    final_img = Image.merge(
        "YCbCr", [
            img_out_y,
            img_cb.resize(img_out_y.size, Image.BICUBIC),
            img_cr.resize(img_out_y.size, Image.BICUBIC),
        ]).convert("RGB")
    print("output picture:", final_img.size, final_img.mode)
    return {"torch_out": to_numpy(torch_out), "ort_out": ort_outs3[0], "img_y": img_y.numpy(),
            "picture_size": list(final_img.size)}
