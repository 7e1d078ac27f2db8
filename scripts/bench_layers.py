"""Each convolution of a model timed alone against PyTorch's, with the GEMM floor of each: where a whole-
model ratio comes from, layer by layer.

A model's ratio (``bench_models.py``) sums many layers that fare differently; at batch 1 some run ahead of
PyTorch and some behind. This script lists a model's convolutions (visionlite forward hooks; identical
layers counted once with their multiplicity), times each alone under ``no_grad`` in each library's own
process (``--rounds`` processes per library, alternated; ``--repeat`` runs each, median), and prints per
layer both times, their ratio, what the difference costs the model (times its count), and the layer's
GEMM floor: numpy's BLAS running that layer's own product ``(O, K) @ (K, Ho*Wo)`` on one thread, divided
by the thread count (perfect scaling, no copies). A layer whose PyTorch time is below its floor cannot be
matched by any copy-free arrangement of numpy's GEMMs; depthwise layers have no GEMM and no floor.

    python scripts/bench_layers.py [--models resnet18 resnet50] [--batch 1] [--threads N] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import _bench_runner

_TAG = "@@layers "


def model_layers(name, batch, size):
    """``[[spec, count], ...]`` of the model's convolutions in forward order, ``spec`` a dict of shapes."""
    import numpy as np

    import visionlite as vl
    from visionlite import models

    model = models.get_model(name).eval()
    seen = {}

    def hook(module, inputs, output):
        n, c, h, w = inputs[0].shape
        padding = module.padding if isinstance(module.padding, str) else list(module.padding)
        spec = {"c": c, "h": h, "w": w, "o": module.out_channels, "k": list(module.kernel_size),
                "out": list(output.shape[2:]), "stride": list(module.stride), "padding": padding,
                "dilation": list(module.dilation), "groups": module.groups, "bias": module.bias is not None}
        key = json.dumps(spec, sort_keys=True)
        entry = seen.setdefault(key, [spec, 0])
        entry[1] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, vl.nn.Conv2d)]
    with vl.no_grad():
        model(vl.from_numpy(np.zeros((batch, 3, size, size), np.float32)))
    for h in handles:
        h.remove()
    return list(seen.values())


def describe(spec):
    k, s = spec["k"], spec["stride"]
    groups = f" g{spec['groups']}" if spec["groups"] > 1 else ""
    return f"{spec['c']:4d}x{spec['h']:3d}x{spec['w']:<3d} -> {spec['o']:4d} {k[0]}x{k[1]}/{s[0]}{groups}"


def _gemm_shape(spec, batch):
    """``(O, K, N*Ho*Wo)`` of the layer's product (one group)."""
    ho, wo = spec["out"]
    return spec["o"], spec["c"] // spec["groups"] * spec["k"][0] * spec["k"][1], batch * ho * wo


def run_worker(lib, layers, batch, threads, repeat):
    """Median seconds per layer (and, for visionlite, each layer's one-thread GEMM time)."""
    import numpy as np

    _bench_runner.set_threads(lib, threads)
    if lib == "torch":
        import torch

        conv, tensor, no_grad = torch.nn.functional.conv2d, torch.from_numpy, torch.no_grad
    else:
        import visionlite as vl

        conv, tensor, no_grad = vl.nn.functional.conv2d, vl.from_numpy, vl.no_grad
    rng = np.random.default_rng(0)
    result = {"times": [], "gemm": []}
    for spec, _ in layers:
        x = tensor(rng.standard_normal((batch, spec["c"], spec["h"], spec["w"]), dtype=np.float32))
        w_shape = (spec["o"], spec["c"] // spec["groups"], *spec["k"])
        w = tensor(rng.standard_normal(w_shape, dtype=np.float32))
        b = tensor(rng.standard_normal(spec["o"]).astype(np.float32)) if spec["bias"] else None
        options = (spec["stride"], spec["padding"], spec["dilation"], spec["groups"])
        with no_grad():
            result["times"].append(
                _bench_runner.median_time(lambda x=x, w=w, b=b, o=options: conv(x, w, b, *o), repeat, 3))
        if lib == "visionlite":
            result["gemm"].append(_gemm_time(spec, batch, repeat) if spec["groups"] == 1 else None)
    print(_TAG + json.dumps(result), flush=True)


def _gemm_time(spec, batch, repeat):
    """One thread of numpy's BLAS (visionlite keeps it at one) on the layer's ``(O, K) @ (K, N*Ho*Wo)``."""
    import numpy as np

    o, k, n = _gemm_shape(spec, batch)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((o, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((o, n), np.float32)
    return _bench_runner.median_time(lambda: np.matmul(a, b, out=out), repeat, 3)


def _run(lib, layers, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--batch", str(args.batch),
           "--threads", str(args.threads), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, input=json.dumps(layers), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_TAG):
            return json.loads(line[len(_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    raise RuntimeError(f"{lib} worker failed: {tail[-1] if tail else proc.returncode}")


def report(name, layers, runs, threads):
    """The per-layer table of one model from ``runs = {lib: [worker result, ...]}``."""
    def per_layer(lib, field="times"):
        return [statistics.median(r[field][i] for r in runs[lib]) * 1e3 for i in range(len(layers))]

    vl_ms, torch_ms = per_layer("visionlite"), per_layer("torch")
    gemm = [None if g is None else statistics.median(r["gemm"][i] for r in runs["visionlite"]) * 1e3 / threads
            for i, g in enumerate(runs["visionlite"][0]["gemm"])]
    print(f"\n{name}: {'layer':36s} {'n':>3s} {'vl ms':>8s} {'torch ms':>9s} {'ratio':>6s} "
          f"{'+vl-torch':>10s} {'floor ms':>9s}")
    totals = [0.0, 0.0, 0.0]
    for (spec, count), v, t, f in zip(layers, vl_ms, torch_ms, gemm):
        totals[0] += count * v
        totals[1] += count * t
        totals[2] += count * (f if f is not None else 0.0)
        floor = f"{f:9.3f}" if f is not None else f"{'-':>9s}"
        mark = "  <- PyTorch below the floor" if f is not None and t < f else ""
        print(f"  {describe(spec):36s} {count:3d} {v:8.3f} {t:9.3f} {v / t:6.2f} {count * (v - t):+10.3f} "
              f"{floor}{mark}")
    print(f"  {'all convolutions':36s} {sum(c for _, c in layers):3d} {totals[0]:8.2f} {totals[1]:9.2f} "
          f"{totals[0] / totals[1]:6.2f} {totals[0] - totals[1]:+10.2f} {totals[2]:9.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=["resnet18", "resnet50", "mobilenet_v2"])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=224, help="input height and width")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3, help="processes per library (alternated)")
    p.add_argument("--repeat", type=int, default=30, help="timed runs per layer in each process")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.threads = args.threads or _bench_runner.default_threads()
    if args.worker:
        run_worker(args.worker, json.load(sys.stdin), args.batch, args.threads, args.repeat)
        return 0
    print(f"batch {args.batch}, {args.threads} threads per library, {args.rounds} processes per library "
          f"(alternated), median of {args.repeat} runs per layer; floor = the layer's GEMM on one thread of "
          f"numpy's BLAS / {args.threads}; +vl-torch = (vl - torch) ms x n")
    for name in args.models:
        layers = model_layers(name, args.batch, args.size)
        runs = {lib: [] for lib in _bench_runner.LIBS}
        for r in range(args.rounds):
            for lib in (_bench_runner.LIBS if r % 2 == 0 else _bench_runner.LIBS[::-1]):
                runs[lib].append(_run(lib, layers, args))
        report(name, layers, runs, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
