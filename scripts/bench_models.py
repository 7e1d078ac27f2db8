"""Benchmark visionlite against PyTorch on the same models, weights and inputs (a benchmark, not a test).

Eval-mode inference at 224x224 with batch 1 and 16 for resnet18, resnet50 and mobilenet_v2 (1 and 8 for
swin_t and efficientnet_b0, 1 for convnext_tiny, regnet_y_800mf and vit_b_16; deeplabv3_mobilenet_v3_large
at 520x520, batch 1; retinanet_resnet50_fpn on a 480x640 photo, which its transform resizes to 800x1067),
and one training step (forward, cross-entropy, backward, SGD with momentum) of resnet18
at batch 16; fasterrcnn_mobilenet_v3_large_320_fpn eval on a 480x640 photo and one training step on two
(losses summed, backward, SGD).
Each case reports the median wall time of both libraries and the ratio visionlite / PyTorch (targets:
inference within 1.5x, training within 2x). Needs torch and torchvision installed.

    python scripts/bench_models.py                  # CPU, all cases
    python scripts/bench_models.py --repeat 10 --cases resnet18
    python scripts/bench_models.py --device cuda    # cupy vs torch on the GPU
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import visionlite as vl
from visionlite import models as vm

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
# Detection training step: Faster R-CNN on two photos with fixed boxes (the loss dict summed, SGD).
DETECTION_TRAIN = ("fasterrcnn_mobilenet_v3_large_320_fpn", 2)


def _timed(fn, sync):
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _twin_models(name, torch, tvm, device):
    """The torchvision model and a visionlite model holding the same random weights."""
    torch.manual_seed(0)
    kwargs = BUILD_KWARGS.get(name, {})
    theirs = tvm.get_model(name, **kwargs).to(device)
    ours = vm.get_model(name, **kwargs)
    ours.load_state_dict({k: vl.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})
    return theirs, ours.to(device)


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


def bench_inference(name, batch, args, torch, tvm):
    theirs, ours = _twin_models(name, torch, tvm, args.device)
    theirs.eval()
    ours.eval()
    size = INPUT_SIZE.get(name, (224, 224))
    if name in DETECTION:
        x = _photos(batch, size)
        xt = [torch.from_numpy(img).to(args.device) for img in x]
        xv = [vl.tensor(img, device=args.device) for img in x]
    else:
        x = np.random.default_rng(0).standard_normal((batch, 3, *size)).astype(np.float32)
        xt, xv = torch.from_numpy(x).to(args.device), vl.tensor(x, device=args.device)

    def run_torch():
        with torch.no_grad():
            theirs(xt)

    def run_ours():
        with vl.no_grad():
            ours(xv)

    return _time_pair(run_ours, run_torch, args, torch)


def bench_train_step(name, batch, args, torch, tvm):
    theirs, ours = _twin_models(name, torch, tvm, args.device)
    theirs.train()
    ours.train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
    y = rng.integers(0, 1000, size=batch)
    xt, yt = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    xv, yv = vl.tensor(x, device=args.device), vl.tensor(y, device=args.device)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=1e-3, momentum=0.9)
    opt_v = vl.optim.SGD(ours.parameters(), lr=1e-3, momentum=0.9)
    loss_t, loss_v = torch.nn.CrossEntropyLoss(), vl.nn.CrossEntropyLoss()

    def run_torch():
        opt_t.zero_grad()
        loss_t(theirs(xt), yt).backward()
        opt_t.step()

    def run_ours():
        opt_v.zero_grad()
        loss_v(ours(xv), yv).backward()
        opt_v.step()

    return _time_pair(run_ours, run_torch, args, torch)


def bench_detection_train_step(name, batch, args, torch, tvm):
    """One training step of a detector: forward with targets, the summed loss dict backward, SGD."""
    theirs, ours = _twin_models(name, torch, tvm, args.device)
    theirs.train()
    ours.train()
    x = _photos(batch, INPUT_SIZE.get(name, (480, 640)))
    boxes = np.array([[40.0, 60.0, 300.0, 400.0], [320.0, 100.0, 600.0, 300.0]], np.float32)
    labels = np.array([1, 2])
    xt = [torch.from_numpy(img).to(args.device) for img in x]
    xv = [vl.tensor(img, device=args.device) for img in x]
    tt = [{"boxes": torch.from_numpy(boxes).to(args.device),
           "labels": torch.from_numpy(labels).to(args.device)} for _ in x]
    tv = [{"boxes": vl.tensor(boxes, device=args.device), "labels": vl.tensor(labels, device=args.device)}
          for _ in x]
    opt_t = torch.optim.SGD(theirs.parameters(), lr=1e-3, momentum=0.9)
    opt_v = vl.optim.SGD([p for p in ours.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)

    def run_torch():
        opt_t.zero_grad()
        sum(theirs(xt, tt).values()).backward()
        opt_t.step()

    def run_ours():
        opt_v.zero_grad()
        sum(ours(xv, tv).values()).backward()
        opt_v.step()

    return _time_pair(run_ours, run_torch, args, torch)


def _time_pair(run_ours, run_torch, args, torch):
    cuda = args.device.startswith("cuda")
    sync_t = torch.cuda.synchronize if cuda else (lambda: None)
    sync_v = vl.cuda.synchronize if cuda else (lambda: None)
    for _ in range(args.warmup):
        _timed(run_torch, sync_t)
        _timed(run_ours, sync_v)
    # Alternate the two so that load from other processes hits both alike; report medians.
    times = [(_timed(run_ours, sync_v), _timed(run_torch, sync_t)) for _ in range(args.repeat)]
    return statistics.median(t for t, _ in times), statistics.median(t for _, t in times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cases", nargs="*", help="only cases whose model name is listed")
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip the training step")
    args = parser.parse_args(argv)
    try:
        import torch
        import torchvision.models as tvm
    except ImportError:
        print("bench_models.py compares with PyTorch: pip install torch torchvision", file=sys.stderr)
        return 2

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}, device {args.device}")
    print(f"{'case':34s} {'visionlite ms':>14s} {'torch ms':>10s} {'ratio':>7s}")
    cases = [(f"{n} eval batch {b}", bench_inference, n, b) for n, b in INFERENCE]
    if args.train:
        cases.append(("resnet18 train step batch 16", bench_train_step, "resnet18", 16))
        name, batch = DETECTION_TRAIN
        cases.append((f"{name} train step batch {batch}", bench_detection_train_step, name, batch))
    worst = {}
    for label, fn, name, batch in cases:
        if args.cases and name not in args.cases:
            continue
        t_ours, t_torch = fn(name, batch, args, torch, tvm)
        ratio = t_ours / t_torch
        kind = "train" if "train" in label else "eval"
        worst[kind] = max(worst.get(kind, 0.0), ratio)
        print(f"{label:34s} {1e3 * t_ours:14.1f} {1e3 * t_torch:10.1f} {ratio:6.2f}x", flush=True)
    targets = {"eval": 1.5, "train": 2.0}
    for kind, ratio in worst.items():
        verdict = "within" if ratio <= targets[kind] else "OVER"
        print(f"worst {kind} ratio {ratio:.2f}x: {verdict} the {targets[kind]}x target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
