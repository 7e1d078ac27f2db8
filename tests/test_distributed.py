"""visionlite.distributed on MPI: workers launched with ``mpiexec -n 2`` on this machine (loopback).

Collectives are checked against numpy on every rank (inside the worker); DistributedDataParallel on
2 ranks x 8 samples against PyTorch training the same model on the 16 samples in one process; failures
end the job within a bounded time; DistributedSampler against PyTorch's index sequences.
"""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers.refs import require

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKERS = os.path.join(ROOT, "tests", "dist_workers")


def _mpiexec():
    """The mpiexec of the interpreter's environment (the mpich wheel puts it beside python)."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if found is None or not _has_mpi4py():
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on"):
            pytest.fail("mpiexec/mpi4py missing under CI: pip install -e '.[test,distributed]'",
                        pytrace=False)
        pytest.skip("the distributed extra is not installed (pip install visionlite[distributed])")
    return found


def _has_mpi4py():
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def _env():
    env = dict(os.environ)
    # Hydra starts local ranks by fork (no ssh, which root or a container may lack); one thread per rank.
    env.update(HYDRA_LAUNCHER="fork", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def mpirun(args, n=2, timeout=90):
    """Run ``mpiexec -n n python args...``; returns the CompletedProcess (stdout and stderr as text)."""
    cmd = [_mpiexec(), "-n", str(n), sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)


def _ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


# ------------------------------------------------------------------------------------------ plumbing

def test_import_does_not_load_mpi4py():
    code = ("import sys, visionlite, visionlite.distributed as d, visionlite.nn; "
            "assert 'mpi4py' not in sys.modules; assert not d.is_initialized(); "
            "import visionlite.nn.parallel; print(d.is_available())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60)
    assert out.returncode == 0, out.stderr


def test_missing_extra_names_the_install_command():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import visionlite.distributed as d\n"
            "try:\n    d.init_process_group('mpi')\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60)
    assert "pip install visionlite[distributed]" in out.stdout, out.stdout + out.stderr


def test_collectives_against_numpy_on_every_rank():
    proc = mpirun([os.path.join(WORKERS, "collectives.py")])
    _ok(proc)
    assert "rank 0 ok" in proc.stdout and "rank 1 ok" in proc.stdout


# -------------------------------------------------------------------------------------------- DDP

CASES = ["plain", "nosync", "unused", "syncbn", "bn"]


def _gpus():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no cupy, no driver, no device: no GPU
        return 0


@pytest.fixture(scope="module", params=["mpi", "nccl-cuda"])
def ddp_runs(tmp_path_factory, request):
    """``(output folder, ranks)``. NCCL puts each rank on its own GPU: with one GPU the nccl run has one
    rank (the whole batch), which still drives every NCCL call of DistributedDataParallel."""
    ranks = 2
    if request.param != "mpi":
        ranks = min(_gpus(), 2)
        if ranks == 0:
            pytest.skip("the nccl backend needs a GPU visible to cupy")
    out = tmp_path_factory.mktemp("ddp")
    os.environ["VL_TEST_BACKEND"] = request.param.split("-")[0]
    try:
        proc = mpirun([os.path.join(WORKERS, "ddp.py"), str(out), *CASES], n=ranks)
    finally:
        del os.environ["VL_TEST_BACKEND"]
    _ok(proc)
    return out, ranks


def _torch_reference(case, init, x, y, ranks=2):
    """PyTorch trains the worker's model on all 16 samples per step (for ``bn``: as PyTorch's DDP does with
    plain BatchNorm, each half normalised by its own statistics and rank 0's running statistics kept)."""
    torch = require("torch")
    tnn = torch.nn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(3, 4, 3, padding=1)
            self.bn = tnn.BatchNorm2d(4) if case in ("syncbn", "bn") else tnn.Identity()
            self.fc = tnn.Linear(4 * 6 * 6, 5)
            if case == "unused":
                self.spare = tnn.Linear(2, 2)

        def forward(self, v):
            return self.fc(self.bn(self.conv(v)).relu().flatten(1))

    net = Net()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    F = torch.nn.functional
    for s in range(x.shape[0]):
        xs, ys = torch.from_numpy(x[s]), torch.from_numpy(y[s])
        opt.zero_grad()
        if case == "bn" and ranks == 2:
            saved = {k: b.clone() for k, b in net.bn.named_buffers()}
            loss1 = F.cross_entropy(net(xs[8:]), ys[8:])
            for k, b in saved.items():  # rank 1's statistics update is not kept (fresh tensors: the old
                setattr(net.bn, k, b)   # ones are saved for backward)
            loss = (F.cross_entropy(net(xs[:8]), ys[:8]) + loss1) / 2
        else:
            loss = F.cross_entropy(net(xs), ys)
        loss.backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("case", CASES)
def test_ddp_two_ranks_equal_one_process_large_batch(ddp_runs, case):
    sys.path.insert(0, WORKERS)
    try:
        import ddp as worker
    finally:
        sys.path.remove(WORKERS)
    out, ranks = ddp_runs
    r0, r1 = (np.load(out / f"{case}_rank{r}.npz") for r in (0, ranks - 1))
    init = {k[5:]: r0[k] for k in r0.files if k.startswith("init.")}
    for k in init:  # rank 1 started from other weights: construction broadcast rank 0's
        np.testing.assert_array_equal(r1["init." + k], init[k], err_msg=k)
    x, y = worker.batches()
    want = _torch_reference(case, init, x, y, ranks)
    for k, v in want.items():
        np.testing.assert_allclose(r0["final." + k], v, rtol=1e-5, atol=1e-5, err_msg=f"{case}: {k}")
        if "running" not in k and "num_batches" not in k:  # parameters agree across ranks
            np.testing.assert_array_equal(r1["final." + k], r0["final." + k], err_msg=k)
    assert list(r0["keys"]) == ["module." + k for k in want], "state_dict keys as torch's DDP: module.<name>"
    if case == "unused":
        assert bool(r0["spare_grad_is_none"])


# ------------------------------------------------------------------------------------ DistributedSampler

@pytest.mark.parametrize("n,replicas,shuffle,drop_last,seed,epoch", [
    (10, 3, True, False, 0, 0), (10, 3, True, True, 0, 2), (10, 3, False, False, 0, 0),
    (11, 4, False, True, 0, 0), (2, 5, True, False, 7, 1), (97, 2, True, False, 2**33 + 5, 3),
    (1000, 8, True, True, 123, 9), (1, 1, True, False, 0, 0),
])
def test_distributed_sampler_equals_torch(n, replicas, shuffle, drop_last, seed, epoch):
    torch = require("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    from visionlite.data import DistributedSampler

    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed,
                                  drop_last=drop_last)
        ref = TorchSampler(data, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed,
                           drop_last=drop_last)
        for e in (epoch, epoch + 1):
            ours.set_epoch(e)
            ref.set_epoch(e)
            assert list(ours) == list(ref), (rank, e)
        assert len(ours) == len(ref)
    assert torch is not None


# ------------------------------------------------------------------------------------------- failures

def _banner_pid(text, rank):
    import re

    m = re.search(rf"rank {rank} pid (\d+)", text)
    assert m, f"no rank/pid banner in:\n{text}"
    return int(m.group(1))


@pytest.mark.parametrize("mode", ["raise", "kill", "leave", "late"])
def test_failed_rank_ends_the_job_naming_it(mode):
    start = time.monotonic()
    proc = mpirun([os.path.join(WORKERS, "fail.py"), mode], timeout=60)
    took = time.monotonic() - start
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert took < 40, f"the job took {took:.0f} s to end"
    assert "should not have" not in text
    if mode == "raise":
        assert "rank 1 raised ValueError: boom in the data pipeline; aborting all 2 ranks" in text, text
    elif mode == "kill":  # mpiexec names the killed process by pid; rank 0's banner maps it to rank 1
        assert f"PID {_banner_pid(text, 1)} RUNNING" in text and "signal 9" in text, text
    elif mode == "late":
        assert "DistTimeoutError: Rank 1 failed to pass monitoredBarrier in 3000 ms" in text, text
    else:
        assert "rank 1 is exiting without destroy_process_group()" in text, text
        assert "all_reduce on rank 0 timed out after 3.0 s" in text, text


# ----------------------------------------------------------------------------- downloads, fine-tuning

def test_hub_downloads_once_per_machine(tmp_path):
    import hashlib

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    urls = []
    for size in (4096, 100):
        body = os.urandom(size)
        name = f"tiny-{hashlib.sha256(body).hexdigest()[:8]}.pth"
        (mirror / name).write_bytes(body)
        urls.append(f"https://download.example.org/models/{name}")
    proc = mpirun([os.path.join(WORKERS, "download_once.py"), str(mirror), str(tmp_path / "cache"), *urls],
                  timeout=60)
    _ok(proc)
    assert "rank 0 passed the barrier" in proc.stdout and "rank 1 passed the barrier" in proc.stdout
    assert "rank 0 local 0 fetched 1 read 4096" in proc.stdout, proc.stdout
    assert "rank 1 local 1 fetched 0 read 4096" in proc.stdout, proc.stdout  # read rank 0's verified copy


def _finetune_args(tmp_path):
    from tests.test_finetune import make_image_folder

    data = make_image_folder(tmp_path / "shapes", per_class=6, size=20)
    return [os.path.join(ROOT, "scripts", "finetune.py"), str(data), "--model", "resnet18", "--weights",
            "none", "--img-size", "32", "--batch-size", "4", "--accum-steps", "2", "--ema-decay", "0.9",
            "--val-split", "0.3", "--no-progress", "--epochs", "2"]


def _stop_then_resume(common, out):
    first = mpirun(common + ["--out", str(out), "--stop-after", "1"], timeout=120)
    _ok(first)
    assert first.stdout.count("epoch 1/2") == 1, first.stdout  # rank 0 alone reports
    again = mpirun(common + ["--out", str(out), "--resume"], timeout=120)
    _ok(again)
    assert "resumed from" in again.stdout and "epoch 2/2" in again.stdout


def test_finetune_script_under_mpiexec_with_resume(tmp_path):
    vl = pytest.importorskip("visionlite")
    from visionlite import models as vm

    out = tmp_path / "run"
    _stop_then_resume(_finetune_args(tmp_path), out)
    with open(out / "metrics.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["1", "2"]
    last = vl.load(out / "last.safetensors")
    assert last["epoch"] == 2 and len(last["rng"]) == 2  # one RNG state per process
    assert not any(k.startswith("module.") for k in last["model"])  # the plain model, as single-process runs
    vm.resnet18(num_classes=3).load_state_dict(last["model"], strict=True)


@pytest.mark.slow
def test_finetune_script_under_mpiexec_resume_equals_a_straight_run(tmp_path):
    vl = pytest.importorskip("visionlite")
    common = _finetune_args(tmp_path)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _ok(mpirun(common + ["--out", str(straight)], timeout=120))
    _stop_then_resume(common, resumed)
    a, b = vl.load(straight / "last.safetensors"), vl.load(resumed / "last.safetensors")
    for key in a["model"]:
        np.testing.assert_allclose(b["model"][key].numpy(), a["model"][key].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)


# -------------------------------------------------------------------- engine support, overlap, one process

def test_leaf_hooks_run_when_their_gradient_is_complete_and_callbacks_at_the_end():
    import visionlite as vl
    from visionlite.core.autograd.engine import queue_callback

    events = []
    w1 = vl.randn(3, 3, requires_grad=True)
    w2 = vl.randn(3, 3, requires_grad=True)
    x = vl.randn(2, 3)
    h = x @ w1
    h.register_hook(lambda g: events.append("h"))

    def on_w2(g):
        events.append("w2")
        queue_callback(lambda: events.append(("end", w1.grad is not None and w2.grad is not None)))

    w2.register_hook(on_w2)
    w1.register_hook(lambda g: events.append("w1"))
    (h @ w2).sum().backward()
    # w2's gradient is complete before backward reaches h; the callback sees every .grad written.
    assert events == ["w2", "h", "w1", ("end", True)]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)


def test_ddp_starts_reducing_before_backward_ends_in_one_process():
    code = r"""
import visionlite as vl, visionlite.distributed as dist
from visionlite import nn
from visionlite.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("mpi")
events = []
real = dist.all_reduce
def recording(t, *a, **k):
    events.append("all_reduce")
    return real(t, *a, **k)
dist.all_reduce = recording
first, last = nn.Linear(4, 4), nn.Linear(4, 2)
ddp = DDP(nn.Sequential(first, nn.ReLU(), last), bucket_cap_mb=1e-6)  # a bucket per parameter
x = vl.randn(5, 4)
h = first(x)
events.clear()
out = ddp(x)
out[0].register_hook(lambda g: None)
ddp.module[0].weight.register_hook(lambda g: events.append("first layer grad"))
out.sum().backward()
assert events[0] == "all_reduce" and "first layer grad" in events[1:], events
assert len(ddp._buckets) == 4 and all(p.grad is not None for p in ddp.parameters())
print("ok", events)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0 and "ok" in out.stdout, out.stdout + out.stderr


def test_init_errors_are_clear():
    code = r"""
import os, visionlite.distributed as d
def error(fn, *a, **k):
    try:
        fn(*a, **k)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
print(error(d.get_rank))
os.environ["WORLD_SIZE"] = "2"
print(error(d.init_process_group, "mpi"))
del os.environ["WORLD_SIZE"]
print(error(d.init_process_group, "mpi", init_method="tcp://127.0.0.1:23456"))
print(error(d.init_process_group, "smoke"))
if not d.is_nccl_available():
    print(error(d.init_process_group, "nccl"))
d.init_process_group("gloo")
print(d.get_backend(), d.get_rank(), d.get_world_size(), error(d.init_process_group))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60,
                         cwd=ROOT)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr
    assert lines[0].startswith("ValueError: Default process group has not been initialized")
    assert "WORLD_SIZE=2 disagrees with MPI" in lines[1] and "mpiexec -n N" in lines[1]
    assert "init_method 'tcp://127.0.0.1:23456' is not supported" in lines[2]
    assert "unknown backend 'smoke'" in lines[3]
    if len(lines) == 6:
        assert "needs cupy and a visible GPU" in lines[4] or "no NCCL support" in lines[4]
    assert lines[-1] == "gloo 0 1 RuntimeError: trying to initialize the default process group twice!"


def test_consume_prefix_in_state_dict_as_torch():
    torch = require("torch")
    import collections

    from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present as torch_consume

    from visionlite.nn.modules.utils import consume_prefix_in_state_dict_if_present

    def make():
        sd = collections.OrderedDict([("module.conv.weight", 1), ("module.bn.running_mean", 2), ("other", 3)])
        sd._metadata = collections.OrderedDict([("", {"v": 1}), ("module", {"v": 2}),
                                                ("module.bn", {"v": 3})])
        return sd

    ours, ref = make(), make()
    consume_prefix_in_state_dict_if_present(ours, "module.")
    torch_consume(ref, "module.")
    assert list(ours.items()) == list(ref.items())
    assert list(ours._metadata.items()) == list(ref._metadata.items())
    assert torch is not None
