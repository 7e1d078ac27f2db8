"""Convolution-network benchmark: visionlite against PyTorch, each library in its own process.

Run: python scripts/bench_nn.py [--device cuda] [--quick] [--cases conv lenet] [--profile] [--list]
Each case runs the same work in both libraries, in alternated processes with the same thread count
(``scripts/_bench_runner.py``), and prints median and spread of each, the ratio of the medians
visionlite / PyTorch and peak RSS. Targets: 1.0 for inference, 1.2 for training.

Cases: Conv2d 3x3 64->64 on 16x64x56x56 (forward; forward+backward), a ResNet-style training step on
CIFAR-sized input (batch 128, 3x32x32: conv-bn-relu stem, two residual blocks, a strided conv, pooling,
linear, cross-entropy, SGD with momentum), a LeNet training step (batch 256, 1x28x28); by name with
``--cases layer`` also single layers (pooling, batch norm, depthwise and 1x1 convolutions, upsampling).

The machine should be otherwise idle: on oversubscribed cores every multi-threaded GEMM waits for its
slowest thread, so ratios measured under load say little (the spread shows how much).
"""

import importlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench_runner  # noqa: E402

CONV = "Conv2d 3x3 64->64 16x64x56x56"
MAIN = [f"{CONV} forward", f"{CONV} fwd+bwd", "ResNet-style CIFAR train step (batch 128)",
        "LeNet train step (batch 256, 28x28)"]
LAYERS = {
    "MaxPool2d 3/2 pad 1 32x64x56x56": (lambda nn: nn.MaxPool2d(3, 2, 1), (32, 64, 56, 56)),
    "MaxPool2d 2 128x32x32x32": (lambda nn: nn.MaxPool2d(2), (128, 32, 32, 32)),
    "AvgPool2d 3/1 pad 1 32x64x28x28": (lambda nn: nn.AvgPool2d(3, 1, 1), (32, 64, 28, 28)),
    "BatchNorm2d 128x64x32x32": (lambda nn: nn.BatchNorm2d(64), (128, 64, 32, 32)),
    "Conv2d depthwise 3x3 16x64x56x56": (lambda nn: nn.Conv2d(64, 64, 3, 1, 1, groups=64), (16, 64, 56, 56)),
    "Conv2d 1x1 64->256 16x64x56x56": (lambda nn: nn.Conv2d(64, 256, 1), (16, 64, 56, 56)),
    "Conv2d 3x3/2 64->128 16x64x56x56": (lambda nn: nn.Conv2d(64, 128, 3, 2, 1), (16, 64, 56, 56)),
    "Conv2d 5x5 1->6 256x1x28x28": (lambda nn: nn.Conv2d(1, 6, 5, padding=2), (256, 1, 28, 28)),
    "Upsample bilinear x2 16x64x56x56": (lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
                                         (16, 64, 56, 56)),
}
LAYERS[CONV] = (lambda nn: nn.Conv2d(64, 64, 3, padding=1), (16, 64, 56, 56))
CASES = MAIN + [f"layer {name} {kind}" for name in LAYERS if name != CONV for kind in ("forward", "fwd+bwd")]


# ------------------------------------------------------------------------------ networks, in either library
def resnet_cifar(nn):
    def cbr(cin, cout, stride=1, relu=True):
        layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
        return nn.Sequential(*(layers + [nn.ReLU()] if relu else layers))

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a, self.b, self.relu = cbr(c, c), cbr(c, c, relu=False), nn.ReLU()

        def forward(self, x):
            return self.relu(self.b(self.a(x)) + x)

    return nn.Sequential(cbr(3, 32), Block(32), nn.MaxPool2d(2), cbr(32, 64, stride=2), Block(64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def _sync(lib, device):
    if not device.startswith("cuda"):
        return lambda: None
    return lib.cuda.synchronize


def build(libname, case, args):
    """One timed iteration of ``case`` in ``libname`` (each library initializes its own weights: timing
    does not depend on their values)."""
    lib = importlib.import_module("visionlite" if libname == "visionlite" else "torch")
    lib.manual_seed(0)
    device, rng = args.device, np.random.default_rng(0)
    sync = _sync(lib, device)
    if "train step" in case:
        build_net, batch, shape = (resnet_cifar, 128, (3, 32, 32)) if "ResNet" in case else \
            (lenet, 256, (1, 28, 28))
        model = build_net(lib.nn).to(device)
        x = lib.tensor(rng.standard_normal((batch,) + shape).astype(np.float32), device=device)
        y = lib.tensor(rng.integers(0, 10, batch), device=device)
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            sync()

        return step
    backward = case.endswith("fwd+bwd")
    name = case.removeprefix("layer ").rsplit(" ", 1)[0]
    make, shape = LAYERS[name]
    model = make(lib.nn).to(device)
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32), device=device, requires_grad=backward)

    def run():
        if backward:
            out = model(x)
            out.backward(lib.ones_like(out))
        else:
            with lib.no_grad():
                model(x)
        sync()

    return run


if __name__ == "__main__":
    sys.exit(_bench_runner.main(__file__, CASES, build, __doc__.split("\n")[0], default_cases=MAIN))
