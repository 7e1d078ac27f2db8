"""Data-parallel scaling benchmark: a ResNet-18 training step on 1 and on N processes (one thread each).

Run: python scripts/bench_distributed.py [--procs 2] [--batch 8] [--img-size 112] [--steps 3]

Launches ``mpiexec -n 1`` and ``mpiexec -n N`` of itself. Each process trains on ``--batch`` images per
step (weak scaling: the global batch grows with N) with DistributedDataParallel and SGD. Reported per run:
images/s over all processes, the step time, the exposed communication (time a step spends waiting for
gradient all-reduces after backward, i.e. not hidden behind it) and, for reference, one blocking
all-reduce of all gradients on its own, both as a share of the step; then the scaling efficiency
``images/s(N) / (N * images/s(1))``. Needs ``pip install visionlite[distributed]``.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args):
    import numpy as np

    import visionlite as vl
    import visionlite.distributed as dist
    from visionlite.core.distributed import work as work_module
    from visionlite.models import resnet18
    from visionlite.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    waited = [0.0]
    real_wait = work_module.Work.wait

    def timed_wait(self, timeout=None):
        t0 = time.perf_counter()
        try:
            return real_wait(self, timeout)
        finally:
            waited[0] += time.perf_counter() - t0

    work_module.Work.wait = timed_wait
    vl.manual_seed(0)
    model = DistributedDataParallel(resnet18(num_classes=10))
    opt = vl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = vl.tensor(rng.standard_normal((args.batch, 3, args.img_size, args.img_size)).astype(np.float32))
    y = vl.tensor(rng.integers(0, 10, args.batch))

    def step():
        opt.zero_grad()
        vl.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()  # warm-up
    times, waits = [], []
    for _ in range(args.steps):
        dist.barrier()
        waited[0] = 0.0
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        waits.append(waited[0])
    grads = vl.zeros(sum(p.numel() for p in model.parameters()))
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(3):
        dist.all_reduce(grads)
    alone = (time.perf_counter() - t0) / 3
    stats = vl.tensor([float(np.median(times)), float(np.median(waits)), alone], dtype=vl.float64)
    dist.all_reduce(stats, op=dist.ReduceOp.MAX)  # the slowest process sets the pace
    if rank == 0:
        step_s, wait_s, alone_s = stats.tolist()
        print(json.dumps({"procs": world, "step_s": step_s, "images_per_s": world * args.batch / step_s,
                          "exposed_comm_share": wait_s / step_s, "allreduce_alone_s": alone_s,
                          "allreduce_share": alone_s / step_s if world > 1 else 0.0}), flush=True)
    dist.destroy_process_group()


def launch(n, args):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = mpiexec if os.path.exists(mpiexec) else shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("mpiexec not found: pip install visionlite[distributed]")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               VISIONLITE_NUM_THREADS="1", HYDRA_LAUNCHER="fork")
    cmd = [mpiexec, "-n", str(n), sys.executable, os.path.abspath(__file__), "--worker", "--batch",
           str(args.batch), "--img-size", str(args.img_size), "--steps", str(args.steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"mpiexec -n {n} failed:\n{out.stderr}")
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--batch", type=int, default=8, help="images per process and step")
    p.add_argument("--img-size", type=int, default=112)
    p.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    one = launch(1, args)
    many = launch(args.procs, args)
    for r in (one, many):
        print(f"{r['procs']} process(es): {r['images_per_s']:.2f} images/s, step {r['step_s']:.2f} s, "
              f"exposed communication {100 * r['exposed_comm_share']:.1f}% of the step, one all-reduce of "
              f"all gradients alone {r['allreduce_alone_s'] * 1e3:.0f} ms "
              f"({100 * r['allreduce_share']:.1f}%)")
    eff = many["images_per_s"] / (args.procs * one["images_per_s"])
    print(f"scaling efficiency at {args.procs} processes: {100 * eff:.0f}% (ResNet-18, batch {args.batch} "
          f"per process, {args.img_size}x{args.img_size}, one thread each, {os.cpu_count()} cores here)")


if __name__ == "__main__":
    main()
