"""Detection-ops benchmark: visionlite.ops against torchvision.ops, each library in its own process.

Run: python scripts/bench_ops.py [--device cuda] [--repeat 5] [--threads N]
Cases: nms on 1000 and 5000 random overlapping boxes (IoU 0.5), batched_nms on 5000 boxes in 10 classes,
roi_align on 1000 boxes over a 1x256x50x68 map (7x7 output, sampling_ratio 2, scale 1/16, as Faster
R-CNN's box head at stride 16), forward and forward+backward. Prints the best time of each library and the
ratio visionlite / torchvision. The two libraries run in separate processes with the same thread count,
one after the other, so neither's thread pool or allocator disturbs the other.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 600, (n // 8 + 1, 2))
    c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 8, (n, 2))
    wh = rng.uniform(20, 120, (n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32), rng.random(n).astype(np.float32)


def _rois(k, seed=1):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (k, 2))
    wh = rng.uniform(16, 400, (k, 2))
    return np.concatenate([np.zeros((k, 1)), xy, xy + wh], 1).astype(np.float32)


def cases():
    b1k, s1k = _boxes(1000)
    b5k, s5k = _boxes(5000, 2)
    idx = np.random.default_rng(3).integers(0, 10, 5000)
    feat = np.random.default_rng(4).standard_normal((1, 256, 50, 68)).astype(np.float32)
    return {
        "nms 1000 boxes": ("nms", (b1k, s1k)),
        "nms 5000 boxes": ("nms", (b5k, s5k)),
        "batched_nms 5000 boxes, 10 classes": ("batched_nms", (b5k, s5k, idx)),
        "roi_align 1000 rois 256x50x68 fwd": ("roi_fwd", (feat, _rois(1000))),
        "roi_align 1000 rois 256x50x68 fwd+bwd": ("roi_bwd", (feat, _rois(1000))),
    }


def run_library(lib, device, repeat):
    """Time every case with ``lib`` ('torch' or 'visionlite'); returns {case: best seconds}."""
    if lib == "torch":
        import torch
        import torchvision.ops as ops

        if device == "cuda" and not torch.cuda.is_available():
            device = "cpu"  # a CPU-only PyTorch: compare the GPU run against torchvision on the CPU

        def t(a, grad=False):
            return torch.tensor(a, device=device, requires_grad=grad)

        def sync():
            if device == "cuda":
                torch.cuda.synchronize()
    else:
        import visionlite as vl
        import visionlite.ops as ops

        def t(a, grad=False):
            return vl.tensor(a, device=device, requires_grad=grad)

        def sync():
            if device == "cuda":
                vl.cuda.synchronize()

    def make(kind, arrays):
        if kind == "nms":
            b, s = t(arrays[0]), t(arrays[1])
            return lambda: ops.nms(b, s, 0.5)
        if kind == "batched_nms":
            b, s, i = t(arrays[0]), t(arrays[1]), t(arrays[2])
            return lambda: ops.batched_nms(b, s, i, 0.5)
        x, r = t(arrays[0], grad=kind == "roi_bwd"), t(arrays[1])
        if kind == "roi_fwd":
            return lambda: ops.roi_align(x, r, 7, 1 / 16, 2, False)
        return lambda: ops.roi_align(x, r, 7, 1 / 16, 2, False).sum().backward()

    out = {}
    for name, (kind, arrays) in cases().items():
        fn = make(kind, arrays)
        fn()
        sync()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            sync()
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    out["_device"] = device
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries (default: all)")
    p.add_argument("--lib", choices=["torch", "visionlite"], help=argparse.SUPPRESS)  # child process
    args = p.parse_args()
    if args.lib:
        if args.lib == "torch" and args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(run_library(args.lib, args.device, args.repeat)))
        return
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    results = {}
    for lib in ("torch", "visionlite"):
        cmd = [sys.executable, __file__, "--lib", lib, "--device", args.device, "--repeat", str(args.repeat)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"{lib} run failed:\n{proc.stderr}")
        results[lib] = json.loads(proc.stdout.strip().splitlines()[-1])
    devices = {lib: results[lib].pop("_device") for lib in results}
    print(f"torchvision on {devices['torch']}, visionlite on {devices['visionlite']}")
    print(f"{'case':<42s} {'torchvision':>12s} {'visionlite':>12s} {'ratio':>7s}")
    for name in results["torch"]:
        t, v = results["torch"][name], results["visionlite"][name]
        print(f"{name:<42s} {t * 1e3:10.1f}ms {v * 1e3:10.1f}ms {v / t:7.2f}")


if __name__ == "__main__":
    main()
