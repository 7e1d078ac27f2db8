"""Core engine benchmark: visionlite against PyTorch (framework overhead) and raw numpy (large work).

Run: python scripts/bench_core.py [--device cuda]
PyTorch runs in a child process (same thread count), so neither library's threads disturb the other.
Prints one line per case with the times and the ratio; targets: overhead <= 3x PyTorch, large work
<= 1.2x raw numpy doing the same arithmetic.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import visionlite as vl


def best_of(fn, repeat=7, number=None):
    fn()
    if number is None:
        t0 = time.perf_counter()
        fn()
        one = time.perf_counter() - t0
        number = max(1, int(0.05 / max(one, 1e-7)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def chain_100(lib, x):
    y = x
    for _ in range(25):
        y = y * 1.01
        y = y + 0.5
        y = y.tanh()
        y = y - 0.1
    y.sum().backward()


def elementwise_vl(x, w):
    y = ((x * w + 1.0).tanh() * x).sum()
    y.backward()


def elementwise_np(x, w):
    a = x * w + 1.0
    t = np.tanh(a)
    y = (t * x).sum()
    g = np.ones_like(x)
    gt = g * x
    gx = g * t
    ga = gt * (1 - t * t)
    gx = gx + ga * w
    gw = ga * x
    return y, gx, gw


def matmul_vl(a, b):
    y = (a @ b).sum()
    y.backward()


def matmul_np(a, b):
    y = a @ b
    g = np.ones_like(y)
    return y.sum(), g @ b.T, a.T @ g


def torch_overhead_child(dev):
    """Run in a child process: best seconds of PyTorch's 100-op chain, printed."""
    import torch

    torch.set_num_threads(vl.get_num_threads())
    tdev = "cuda" if dev != "cpu" else "cpu"
    xt = torch.ones(1, requires_grad=True, device=tdev)

    def run_torch():
        chain_100(torch, xt)
        xt.grad = None
        if tdev == "cuda":
            torch.cuda.synchronize()

    print(best_of(run_torch))


def _torch_overhead(dev):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-child", "--device", dev],
                          capture_output=True, text=True)
    return float(proc.stdout.split()[-1]) if proc.returncode == 0 and proc.stdout.strip() else None


def report(name, t_vl, t_ref, ref_name, target):
    ratio = t_vl / t_ref
    print(
        f"{name:<44} visionlite {t_vl * 1e3:9.3f} ms   {ref_name} {t_ref * 1e3:9.3f} ms   "
        f"ratio {ratio:5.2f}x  (target <= {target}x)"
    )
    return ratio


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_child:
        return torch_overhead_child(args.device)
    dev = args.device
    sync = (lambda: vl.cuda.synchronize()) if dev != "cpu" else (lambda: None)
    t_torch = _torch_overhead(dev)  # in its own process: the two libraries' thread pools stay apart
    if t_torch is None:
        print("PyTorch child process failed (torch not importable?): skipping the PyTorch comparison")
    else:
        xv = vl.ones(1, requires_grad=True, device=dev)

        def run_vl():
            chain_100(vl, xv)
            xv.grad = None
            sync()

        report("overhead: 100-op chain fwd+bwd, 1 element", best_of(run_vl), t_torch, "torch", 3)

    rng = np.random.default_rng(0)
    n = 1_000_000
    x_np, w_np = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    xv, wv = vl.tensor(x_np, device=dev, requires_grad=True), vl.tensor(w_np, device=dev, requires_grad=True)

    def run_ew():
        elementwise_vl(xv, wv)
        xv.grad = None
        wv.grad = None
        sync()

    xp = np if dev == "cpu" else vl.core.backend.cupy()
    x_ref, w_ref = xp.asarray(x_np), xp.asarray(w_np)
    report(
        "elementwise chain fwd+bwd, 1M float32",
        best_of(run_ew),
        best_of(lambda: (elementwise_np(x_ref, w_ref), sync())),
        "numpy",
        1.2,
    )

    a_np = rng.standard_normal((1024, 1024)).astype(np.float32)
    b_np = rng.standard_normal((1024, 1024)).astype(np.float32)
    av, bv = vl.tensor(a_np, device=dev, requires_grad=True), vl.tensor(b_np, device=dev, requires_grad=True)

    def run_mm():
        matmul_vl(av, bv)
        av.grad = None
        bv.grad = None
        sync()

    a_ref, b_ref = xp.asarray(a_np), xp.asarray(b_np)
    report(
        "matmul 1024x1024 fwd+bwd",
        best_of(run_mm, repeat=5),
        best_of(lambda: (matmul_np(a_ref, b_ref), sync()), repeat=5),
        "numpy",
        1.2,
    )


if __name__ == "__main__":
    main()
