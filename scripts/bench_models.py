"""Benchmark visionlite against PyTorch on the same models, weights and inputs (a benchmark, not a test).

Eval-mode inference at 224x224 with batch 1 and 16 for resnet18, resnet50 and mobilenet_v2 (1 and 8 for
swin_t and efficientnet_b0, 1 for convnext_tiny, regnet_y_800mf and vit_b_16; deeplabv3_mobilenet_v3_large
at 520x520, batch 1; retinanet_resnet50_fpn on a 480x640 photo, which its transform resizes to 800x1067;
r3d_18 on a 16x112x112 clip),
and one training step (forward, cross-entropy, backward, SGD with momentum) of resnet18
at batch 16; fasterrcnn_mobilenet_v3_large_320_fpn eval on a 480x640 photo and one training step on two
(losses summed, backward, SGD).
Each library runs in its own processes, alternated, with the same thread count (``_bench_runner.py``);
each case reports median and spread (min-max) of both, the ratio of the medians visionlite / PyTorch
(targets: 1.0 for inference, 1.2 for training) and peak RSS. Both hold the same weights: the PyTorch
worker saves TorchVision's randomly initialized state dict once (a temporary .npz cache) and the
visionlite worker loads it. Needs torch and torchvision installed.

    python scripts/bench_models.py                  # CPU, all cases
    python scripts/bench_models.py --quick --cases resnet18 mobilenet_v2
    python scripts/bench_models.py --device cuda    # cupy vs torch on the GPU
"""
import importlib
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench_runner  # noqa: E402

INFERENCE = [("resnet18", 1), ("resnet18", 16), ("resnet50", 1), ("resnet50", 16), ("mobilenet_v2", 1),
             ("mobilenet_v2", 16), ("swin_t", 1), ("swin_t", 8)]
INFERENCE += [("efficientnet_b0", 1), ("efficientnet_b0", 8), ("convnext_tiny", 1), ("regnet_y_800mf", 1)]
INFERENCE += [("vit_b_16", 1)]
INFERENCE += [("deeplabv3_mobilenet_v3_large", 1)]
INFERENCE += [("retinanet_resnet50_fpn", 1)]
# Detection models take a list of (3, H, W) images in [0, 1]: they get real photos of INPUT_SIZE.
DETECTION = {"retinanet_resnet50_fpn"}
# Builder arguments (no backbone download) and input sizes (H, W) other than the default 224x224.
BUILD_KWARGS = {"deeplabv3_mobilenet_v3_large": {"weights_backbone": None}}
INPUT_SIZE = {"deeplabv3_mobilenet_v3_large": (520, 520)}  # its weights' preset resizes to 520
BUILD_KWARGS["retinanet_resnet50_fpn"] = {"weights_backbone": None}
INPUT_SIZE["retinanet_resnet50_fpn"] = (480, 640)
INFERENCE += [("fasterrcnn_mobilenet_v3_large_320_fpn", 1)]
DETECTION.add("fasterrcnn_mobilenet_v3_large_320_fpn")
BUILD_KWARGS["fasterrcnn_mobilenet_v3_large_320_fpn"] = {"weights_backbone": None}
INPUT_SIZE["fasterrcnn_mobilenet_v3_large_320_fpn"] = (480, 640)  # resized to 320x427 by its transform
# Optical flow: RAFT-small on a pair of frames (one photo, the second crop a few pixels off), 12 updates.
INFERENCE += [("raft_small", 1)]
FLOW = {"raft_small"}
INPUT_SIZE["raft_small"] = (368, 496)
# Video: R3D-18 on one 16x112x112 clip (its Kinetics preset's size); INPUT_SIZE is then (T, H, W).
INFERENCE += [("r3d_18", 1)]
INPUT_SIZE["r3d_18"] = (16, 112, 112)
# Detection training step: Faster R-CNN on two photos with fixed boxes (the loss dict summed, SGD).
DETECTION_TRAIN = ("fasterrcnn_mobilenet_v3_large_320_fpn", 2)


def _photos(batch, size):
    """``batch`` real photos (tests/assets) resized to ``size`` (H, W): (3, H, W) float32 arrays in [0, 1]."""
    from PIL import Image

    assets = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "assets")
    names = ["astronaut.png", "chelsea.png", "coffee.png"]
    photos = []
    for i in range(batch):
        img = Image.open(os.path.join(assets, names[i % len(names)])).convert("RGB")
        img = img.resize((size[1], size[0]), Image.BILINEAR)
        photos.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    return photos


CASES = [f"{n} eval batch {b}" for n, b in INFERENCE]
CASES += ["resnet18 train step batch 16", f"{DETECTION_TRAIN[0]} train step batch {DETECTION_TRAIN[1]}"]
_WEIGHTS = os.path.join(tempfile.gettempdir(), "visionlite-bench-weights")


def _parse(case):
    name, rest = case.split(" ", 1)
    return name, "train" in rest, int(rest.rsplit(" ", 1)[1])


def _weights_path(name):
    return os.path.join(_WEIGHTS, f"{name}.npz")


def _model(libname, name, device):
    """TorchVision's model (seed 0), its state dict cached as .npz; or visionlite's holding those weights."""
    kwargs = BUILD_KWARGS.get(name, {})
    path = _weights_path(name)
    if libname == "torch":
        import torch
        import torchvision.models as tvm

        torch.manual_seed(0)
        model = tvm.get_model(name, **kwargs)
        if not os.path.exists(path):
            os.makedirs(_WEIGHTS, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.npz"
            np.savez(tmp, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
            os.replace(tmp, path)
        return model.to(device)
    import visionlite as vl
    from visionlite import models as vm

    if not os.path.exists(path):  # a PyTorch worker that builds nothing writes the weights
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "torch", f"{name} eval batch 1",
               "--repeat", "0", "--warmup", "0", "--export-only"]
        subprocess.run(cmd, check=True, capture_output=True)
    model = vm.get_model(name, **kwargs)
    with np.load(path) as state:
        model.load_state_dict({k: vl.tensor(state[k]) for k in state.files})
    return model.to(device)


def build(libname, case, args):
    """One timed iteration of ``case`` in ``libname``."""
    lib = importlib.import_module("visionlite" if libname == "visionlite" else "torch")
    name, train, batch = _parse(case)
    device = args.device
    if libname == "torch" and device.startswith("cuda") and not lib.cuda.is_available():
        device = "cpu"
    sync = lib.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    model = _model(libname, name, device)
    if getattr(args, "export_only", False):
        return lambda: None
    model.train(train)
    size = INPUT_SIZE.get(name, (224, 224))
    rng = np.random.default_rng(0)
    if name in DETECTION:
        x = [lib.tensor(img, device=device) for img in _photos(batch, size)]
    elif name in FLOW:
        photo = _photos(1, (size[0] + 8, size[1] + 8))[0] * 2 - 1
        frames = [np.ascontiguousarray(photo[None, :, dy:dy + size[0], dx:dx + size[1]]) for dy, dx in
                  ((0, 0), (3, 5))]
        x1, x2 = (lib.tensor(np.repeat(f, batch, axis=0), device=device) for f in frames)
        if not train:
            def run():
                with lib.no_grad():
                    model(x1, x2)
                sync()

            return run
    else:
        x = lib.tensor(rng.standard_normal((batch, 3, *size)).astype(np.float32), device=device)
    if not train:
        def run():
            with lib.no_grad():
                model(x)
            sync()

        return run
    params = [p for p in model.parameters() if p.requires_grad]
    opt = lib.optim.SGD(params, lr=1e-3, momentum=0.9)
    if name in DETECTION:
        boxes = np.array([[40.0, 60.0, 300.0, 400.0], [320.0, 100.0, 600.0, 300.0]], np.float32)
        targets = [{"boxes": lib.tensor(boxes, device=device), "labels": lib.tensor(np.array([1, 2]),
                                                                                    device=device)}
                   for _ in x]

        def loss():
            return sum(model(x, targets).values())
    else:
        y = lib.tensor(rng.integers(0, 1000, size=batch), device=device)

        def loss():
            return lib.nn.functional.cross_entropy(model(x), y)

    def step():
        opt.zero_grad()
        loss().backward()
        opt.step()
        sync()

    return step


def main():
    if "--export-only" in sys.argv:  # a worker asked only to write the weights cache
        sys.argv.remove("--export-only")
        args = _bench_runner.parser("").parse_args()
        args.export_only = True
        build(*args.worker, args)
        return 0
    return _bench_runner.main(__file__, CASES, build, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
