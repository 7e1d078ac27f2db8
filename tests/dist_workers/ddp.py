"""Worker for tests/test_distributed.py: DistributedDataParallel training on each rank's half of the batch.

``python ddp.py OUT``: for each case, rank r trains on samples [8r, 8r + 8) of each batch of 16 and saves
``OUT/<case>_rank<r>.npz`` (initial weights, final weights and buffers, state_dict keys); the test repeats
the training in PyTorch on the whole batch and compares.
"""
import datetime
import os
import sys

import numpy as np

import visionlite as vl
import visionlite.distributed as dist
from visionlite import nn
from visionlite.nn.parallel import DistributedDataParallel as DDP

STEPS, BATCH = 3, 16
BACKEND = os.environ.get("VL_TEST_BACKEND", "mpi")  # nccl: one GPU per rank, tensors on it


class Net(nn.Module):
    """conv -> [batch norm] -> relu -> linear; ``spare`` (with ``unused``) never takes part in forward."""

    def __init__(self, case):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4) if case in ("syncbn", "bn") else nn.Identity()
        self.fc = nn.Linear(4 * 6 * 6, 5)
        if case == "unused":
            self.spare = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).relu().flatten(1))


def make_model(case):
    model = Net(case)
    if case == "syncbn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def batches():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, 3, 6, 6)).astype(np.float32)
    y = rng.integers(0, 5, (STEPS, BATCH))
    return x, y


def state(module):
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def run(case, out):
    r, n = dist.get_rank(), dist.get_world_size()
    vl.manual_seed(100 + r)  # different initial weights per rank: DDP must broadcast rank 0's
    model = make_model(case)
    device = f"cuda:{dist.get_local_rank()}" if BACKEND == "nccl" else "cpu"
    model.to(device)
    ddp = DDP(model, find_unused_parameters=(case == "unused"))
    init = state(model)
    opt = vl.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    x, y = batches()
    per = BATCH // n
    for s in range(STEPS):
        xs = vl.tensor(x[s, r * per:(r + 1) * per], device=device)
        ys = vl.tensor(y[s, r * per:(r + 1) * per], device=device)
        opt.zero_grad()
        if case == "nosync":  # two micro-batches; the first accumulates without reducing
            half = per // 2
            with ddp.no_sync():
                (nn.functional.cross_entropy(ddp(xs[:half]), ys[:half]) / 2).backward()
            (nn.functional.cross_entropy(ddp(xs[half:]), ys[half:]) / 2).backward()
        else:
            nn.functional.cross_entropy(ddp(xs), ys).backward()
        opt.step()
    extra = {}
    if case == "unused":
        extra["spare_grad_is_none"] = np.array(model.spare.weight.grad is None)
    np.savez(f"{out}/{case}_rank{r}.npz", **{"init." + k: v for k, v in init.items()},
             **{"final." + k: v for k, v in state(model).items()},
             keys=np.array(list(ddp.state_dict().keys())), **extra)


def main():
    out, cases = sys.argv[1], sys.argv[2:]
    dist.init_process_group(BACKEND, timeout=datetime.timedelta(seconds=30))
    for case in cases:
        run(case, out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
