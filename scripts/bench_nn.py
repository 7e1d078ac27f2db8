"""Convolution-network benchmark: visionlite against PyTorch in one process, same thread count.

Run: python scripts/bench_nn.py [--device cuda] [--repeat 7] [--quick] [--only conv|resnet|lenet|layers]
Each case runs the same work in both libraries, alternating, and prints the best time of each and the
ratio visionlite / PyTorch. Target: every ratio <= 2.0 on the CPU.

Cases: Conv2d 3x3 64->64 on 16x64x56x56 (forward; forward+backward), a ResNet-style training step on
CIFAR-sized input (batch 128, 3x32x32: conv-bn-relu stem, two residual blocks, a strided conv, pooling,
linear, cross-entropy, SGD with momentum), a LeNet training step (batch 256, 1x28x28); with
``--only layers`` also single layers (pooling, batch norm, depthwise and 1x1 convolutions).

Run it on an otherwise idle machine: when the cores are oversubscribed, numpy's multi-threaded OpenBLAS
slows down several-fold (every GEMM waits for its slowest thread) while PyTorch barely does, so ratios
measured under load say little. ``OPENBLAS_NUM_THREADS=1`` compares single-threaded runs.
"""
import argparse
import os
import time

import numpy as np

import visionlite as vl

try:
    import torch
except ImportError:  # the benchmark compares against PyTorch
    raise SystemExit("bench_nn.py needs PyTorch installed to compare against") from None


def blas_threads():
    """Threads numpy's BLAS uses: OpenBLAS/MKL environment settings, else every CPU."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def timed(fn, sync):
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def compare(name, make, repeat, syncs):
    """Best-of-``repeat`` seconds of each of ``make() -> (torch_fn, vl_fn)``, run alternately so load
    changes hit both alike; None (and a printed reason) when a case cannot run."""
    try:
        torch_fn, vl_fn = make()
        torch_fn(), vl_fn()  # warm up (allocations, lazy imports)
    except Exception as e:  # report and go on with the other cases
        print(f"{name:<44s} FAILED: {type(e).__name__}: {e}", flush=True)
        return None
    syncs[0](), syncs[1]()
    tt, tv = [], []
    for _ in range(repeat):
        tt.append(timed(torch_fn, syncs[0]))
        tv.append(timed(vl_fn, syncs[1]))
    t, v = min(tt), min(tv)
    flag = "" if v / t <= 2.0 else "   <-- over 2x"
    print(f"{name:<44s} torch {t * 1e3:8.1f} ms   visionlite {v * 1e3:8.1f} ms   ratio {v / t:5.2f}{flag}",
          flush=True)
    return v / t


# ------------------------------------------------------------------------------ models, built twice
def resnet_cifar(lib):
    nn = lib.nn

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


def lenet(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def twin_models(build, device):
    """The same network in both libraries, visionlite's holding a copy of PyTorch's initial weights."""
    tm = build(torch).to(device)
    vm = build(vl)
    vm.load_state_dict({k: v.detach().cpu().numpy() for k, v in tm.state_dict().items()})
    return tm, vm.to(device)


def train_step_fns(build, batch, shape, device, rng):
    tm, vm = twin_models(build, device)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    tx, ty = torch.tensor(x, device=device), torch.tensor(y, device=device)
    vx, vy = vl.tensor(x, device=device), vl.tensor(y, device=device)
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    vopt = vl.optim.SGD(vm.parameters(), lr=0.01, momentum=0.9)

    def torch_step():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(tx), ty).backward()
        topt.step()

    def vl_step():
        vopt.zero_grad()
        vl.nn.functional.cross_entropy(vm(vx), vy).backward()
        vopt.step()

    return torch_step, vl_step


def layer_fns(make_torch, make_vl, shape, device, rng, backward):
    x = rng.standard_normal(shape).astype(np.float32)
    tm, vm = make_torch().to(device), make_vl()
    if hasattr(tm, "weight"):
        vm.load_state_dict({k: v.detach().cpu().numpy() for k, v in tm.state_dict().items()})
    vm = vm.to(device)
    tx = torch.tensor(x, device=device, requires_grad=backward)
    vx = vl.tensor(x, device=device, requires_grad=backward)

    def run(m, t, lib):
        if not backward:
            with lib.no_grad():
                m(t)
            return
        out = m(t)
        out.backward(lib.ones_like(out))

    return (lambda: run(tm, tx, torch)), (lambda: run(vm, vx, vl))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 repeats per case")
    ap.add_argument("--only", choices=["conv", "resnet", "lenet", "layers"], default=None)
    args = ap.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 3)
    threads = blas_threads()
    torch.set_num_threads(threads)
    cuda = args.device.startswith("cuda")
    syncs = (torch.cuda.synchronize, lambda: vl.cuda.synchronize()) if cuda else (lambda: None, lambda: None)
    print(f"device {args.device}, threads {threads} (torch {torch.__version__}, numpy {np.__version__})")
    rng = np.random.default_rng(0)
    ratios = {}
    nn_t, nn_v = torch.nn, vl.nn
    if args.only in (None, "conv"):
        for backward in (False, True):
            name = "Conv2d 3x3 64->64 16x64x56x56 " + ("fwd+bwd" if backward else "forward")
            ratios[name] = compare(name, lambda b=backward: layer_fns(
                lambda: nn_t.Conv2d(64, 64, 3, padding=1), lambda: nn_v.Conv2d(64, 64, 3, padding=1),
                (16, 64, 56, 56), args.device, rng, b), args.repeat, syncs)
    if args.only in (None, "resnet"):
        name = "ResNet-style CIFAR train step (batch 128)"
        ratios[name] = compare(name, lambda: train_step_fns(resnet_cifar, 128, (3, 32, 32), args.device, rng),
                               args.repeat, syncs)
    if args.only in (None, "lenet"):
        name = "LeNet train step (batch 256, 28x28)"
        ratios[name] = compare(name, lambda: train_step_fns(lenet, 256, (1, 28, 28), args.device, rng),
                               args.repeat, syncs)
    if args.only == "layers":
        cases = [
            ("MaxPool2d 3/2 pad 1 32x64x56x56", lambda lib: lib.nn.MaxPool2d(3, 2, 1), (32, 64, 56, 56)),
            ("MaxPool2d 2 128x32x32x32", lambda lib: lib.nn.MaxPool2d(2), (128, 32, 32, 32)),
            ("AvgPool2d 3/1 pad 1 32x64x28x28", lambda lib: lib.nn.AvgPool2d(3, 1, 1), (32, 64, 28, 28)),
            ("BatchNorm2d 128x64x32x32", lambda lib: lib.nn.BatchNorm2d(64), (128, 64, 32, 32)),
            ("Conv2d depthwise 3x3 16x64x56x56", lambda lib: lib.nn.Conv2d(64, 64, 3, 1, 1, groups=64),
             (16, 64, 56, 56)),
            ("Conv2d 1x1 64->256 16x64x56x56", lambda lib: lib.nn.Conv2d(64, 256, 1), (16, 64, 56, 56)),
            ("Conv2d 3x3/2 64->128 16x64x56x56", lambda lib: lib.nn.Conv2d(64, 128, 3, 2, 1),
             (16, 64, 56, 56)),
            ("Conv2d 5x5 1->6 256x1x28x28", lambda lib: lib.nn.Conv2d(1, 6, 5, padding=2), (256, 1, 28, 28)),
            ("Upsample bilinear x2 16x64x56x56", lambda lib: lib.nn.Upsample(scale_factor=2, mode="bilinear"),
             (16, 64, 56, 56)),
        ]
        for name, make, shape in cases:
            for backward in (False, True):
                full = f"{name} {'fwd+bwd' if backward else 'forward'}"
                ratios[full] = compare(full, lambda m=make, s=shape, b=backward: layer_fns(
                    lambda: m(torch), lambda: m(vl), s, args.device, rng, b), args.repeat, syncs)
    done = [r for r in ratios.values() if r is not None]
    if not done:
        raise SystemExit("no case ran")
    worst = max(done)
    print(f"worst ratio {worst:.2f} ({'meets' if worst <= 2.0 else 'misses'} the 2x target)")


if __name__ == "__main__":
    main()
