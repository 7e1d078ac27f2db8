"""The physical floor of the benchmark cases: their multiply-adds over the GEMM rate this machine gives.

A case cannot run faster than its convolution and linear multiply-adds at the rate of a large GEMM, so
``floor = 2 * MACs / (GEMM GFLOP/s)``; a measured time far above it is copies, elementwise passes and
Python (``bench_nn.py`` / ``bench_models.py`` print that split), a time near it is bound by arithmetic.
The GEMM rate is measured here for visionlite (a conv-shaped float32 GEMM, 64 x 576 by 576 x 50176, split
across the op pool as the convolutions run it) and for PyTorch (``torch.mm`` on the same operands), each
in its own process, median of ``--repeat`` runs. MACs come from PyTorch forward hooks on the cases'
Conv2d/Linear layers (training steps count 3x the forward: forward, input and weight gradients).

    python scripts/bench_floor.py [--threads N] [--repeat 15]
"""
import argparse
import json
import os
import subprocess
import sys

import _bench_runner

M, K, N = 64, 576, 16 * 56 * 56  # the 3x3 64->64 convolution of ResNet's first stage, one chunk wide


def gemm_rate(lib, threads, repeat):
    """GFLOP/s of the conv-shaped GEMM in ``lib`` (median over ``repeat`` runs)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)

        def run():
            torch.mm(ta, tb)
    else:
        import visionlite as vl
        from visionlite.core.ops import _gemm_pool

        vl.set_num_threads(threads)
        out = np.empty((M, N), np.float32)

        def run():
            _gemm_pool.matmul(a, b, out)
    return 2 * M * K * N / _bench_runner.median_time(run, repeat) / 1e9


def case_macs():
    """{case: multiply-adds} of the issue's cases (PyTorch forward hooks; training counts 3x)."""
    import torch
    import torchvision

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_nn

    def count(model, x):
        total = [0]

        def hook(m, _, out):
            if isinstance(m, torch.nn.Conv2d):
                total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            elif isinstance(m, torch.nn.Linear):
                total[0] += out.numel() * m.in_features

        handles = [m.register_forward_hook(hook) for m in model.modules()]
        with torch.no_grad():
            model(x)
        for h in handles:
            h.remove()
        return total[0]

    per_image = {name: count(torchvision.models.get_model(name).eval(), torch.zeros(1, 3, 224, 224))
                 for name in ("resnet18", "resnet50", "mobilenet_v2")}
    out = {}
    for name, macs in per_image.items():
        for batch in (1, 16):
            out[f"{name} eval batch {batch}"] = macs * batch
    out["resnet18 train step batch 16"] = 3 * per_image["resnet18"] * 16
    conv = 16 * 64 * 56 * 56 * 64 * 9
    out[f"{bench_nn.CONV} forward"] = conv
    out[f"{bench_nn.CONV} fwd+bwd"] = 3 * conv
    out["ResNet-style CIFAR train step (batch 128)"] = 3 * count(bench_nn.resnet_cifar(torch.nn),
                                                                torch.zeros(128, 3, 32, 32))
    out["LeNet train step (batch 256, 28x28)"] = 3 * count(bench_nn.lenet(torch.nn),
                                                           torch.zeros(256, 1, 28, 28))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(gemm_rate(args.worker, args.threads, args.repeat)))
        return 0
    rates = {}
    for lib in ("visionlite", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads", str(args.threads),
               "--repeat", str(args.repeat)]
        rates[lib] = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    print(f"GEMM {M}x{K} @ {K}x{N} float32, {args.threads} threads: visionlite {rates['visionlite']:.1f} "
          f"GFLOP/s, torch {rates['torch']:.1f} GFLOP/s")
    print(f"{'case':44s} {'GMAC':>8s} {'floor ms (vl rate)':>19s} {'floor ms (torch rate)':>22s}")
    for case, macs in case_macs().items():
        floors = [2 * macs / (rates[lib] * 1e9) * 1e3 for lib in ("visionlite", "torch")]
        print(f"{case:44s} {macs / 1e9:8.2f} {floors[0]:19.1f} {floors[1]:22.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
