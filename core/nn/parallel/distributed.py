"""``DistributedDataParallel``: one model replica per process, gradients averaged over the process group.

At construction the parameters and buffers of rank 0 are broadcast to every rank (after checking that all
ranks hold the same shapes). Parameters are grouped into buckets (``bucket_cap_mb`` each: by default 25 MB
after a first one of 1 MB), in reverse registration order, roughly the order backward produces gradients.
A grad hook on every parameter copies its finished gradient into its bucket; a full bucket starts a
non-blocking SUM all-reduce at once, while backward goes on computing the other gradients. Buckets start
in index order on every rank, as collectives on one communicator must. A callback at the end of backward
(``queue_callback``) waits for the reductions and writes ``sum / world_size`` into each ``.grad``.

MPICH advances non-blocking collectives only inside MPI calls, so while reductions are in flight a daemon
thread pokes its progress engine (``Iprobe`` every 0.2 ms; numpy kernels release the GIL); this is what
hides most of the communication behind backward (``VISIONLITE_DDP_PROGRESS_THREAD=0`` turns it off).

``no_sync()`` skips the reduction so gradients accumulate locally; the next synchronised backward reduces
the accumulated ``.grad``. ``find_unused_parameters=True`` walks the autograd graph after forward and
counts parameters it does not reach as ready (contributing zeros); a parameter no rank used keeps its
``.grad``. ``broadcast_buffers`` (default) copies rank 0's buffers to all ranks before each forward, as
PyTorch. The wrapped model is ``.module``, so ``state_dict`` keys carry the ``module.`` prefix, as PyTorch.
"""
import contextlib
import os
import threading
import time

import numpy as np

from ...autograd.engine import queue_callback
from ...autograd.function import Node
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...autograd.versions import bump_version
from ...backend import array_module
from ..module import Module
from .data_parallel import _move

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024


def _dist():
    from ... import distributed

    return distributed


class _Bucket:
    """Parameters whose gradients travel in one flat buffer."""

    def __init__(self, params, xp, dtype):
        self.params = params
        sizes = [int(np.prod(p.shape)) for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.flat = xp.zeros(self.offsets[-1], dtype=dtype)
        self.pending = len(params)
        self.work = None

    def view(self, i):
        return self.flat[self.offsets[i]:self.offsets[i + 1]]


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients over the ranks of ``process_group``.

    Args: ``device_ids`` (the one device of this process; inputs are moved there), ``broadcast_buffers``,
    ``process_group`` (default: the default group), ``bucket_cap_mb`` (default 25),
    ``find_unused_parameters`` (allow parameters that get no gradient in a backward). Call
    ``visionlite.distributed.init_process_group`` first.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        dist = _dist()
        if not dist.is_initialized():
            raise ValueError("DistributedDataParallel: Default process group has not been initialized, "
                             "please make sure to call init_process_group.")
        params = []
        seen = set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        self.module = module
        self.device_ids = list(device_ids) if device_ids else None
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        # As PyTorch: a small first bucket (the first gradients start travelling early) with the default cap.
        self._first_bucket_bytes = _FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        # Plain attributes behind object.__setattr__: Module would register the lists' tensors otherwise.
        object.__setattr__(self, "_params", params)
        self._check_shapes()
        self._sync_states(list(module.parameters()) + [b for b in module.buffers() if b is not None])
        object.__setattr__(self, "_buckets", self._build_buckets(params))
        self._where = {}  # id(param) -> (bucket index, index in bucket)
        for bi, b in enumerate(self._buckets):
            for i, p in enumerate(b.params):
                self._where[id(p)] = (bi, i)
        self._grad_hook_handles = [p.register_hook(self._make_hook(p)) for p in params]
        self._index = {id(p): i for i, p in enumerate(params)}
        self._reset()

    # ------------------------------------------------------------------------------------ construction
    def _group(self):
        return self.process_group

    def _check_shapes(self):
        dist = _dist()
        mine = [(tuple(p.shape), str(p.dtype)) for p in self._params]
        everyone = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if theirs != mine:
                raise RuntimeError(f"DistributedDataParallel: rank {r} has {len(theirs)} parameters with "
                                   f"shapes {theirs[:4]}..., this rank {len(mine)} with {mine[:4]}...: every "
                                   "rank must wrap the same model")

    def _sync_states(self, tensors):
        """Broadcast ``tensors`` from rank 0 of the group, one flat message per dtype."""
        dist = _dist()
        src = dist.get_process_group_ranks(self.process_group or dist.group.WORLD)[0]
        by_kind = {}
        for t in tensors:
            by_kind.setdefault((t._data.dtype, type(t._data)), []).append(t)
        for group in by_kind.values():
            xp = array_module(group[0]._data)
            flat = xp.concatenate([t._data.reshape(-1) for t in group])
            from ...tensor import Tensor

            dist.broadcast(Tensor._wrap(flat), src=src, group=self.process_group)
            offset = 0
            with no_grad():
                for t in group:
                    n = t._data.size
                    t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
                    offset += n
                    bump_version(t)

    def _build_buckets(self, params):
        buckets, current, size, cap = [], [], 0, self._first_bucket_bytes
        for p in reversed(params):
            if current and (size >= cap or p._data.dtype != current[0]._data.dtype
                            or type(p._data) is not type(current[0]._data)):
                buckets.append(current)
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += p._data.nbytes
        if current:
            buckets.append(current)
        return [_Bucket(b, array_module(b[0]._data), b[0]._data.dtype) for b in buckets]

    # ----------------------------------------------------------------------------------------- forward
    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self.require_forward_param_sync = sync
        if sync and self.broadcast_buffers:
            buffers = [b for b in self.module.buffers() if b is not None]
            if buffers:
                self._sync_states(buffers)
        if self.device_ids:
            device = self.device_ids[0]
            device = f"cuda:{device}" if isinstance(device, int) else device
            inputs = tuple(_move(x, device) for x in inputs)
            kwargs = {k: _move(v, device) for k, v in kwargs.items()}
        output = self.module(*inputs, **kwargs)
        self._reset()
        if sync:
            self._armed = True
            if self.find_unused_parameters:
                self._mark_unused(output)
        return output

    def _reset(self):
        _progress.stop()
        self._armed = False
        self._queued = False
        self._next = 0
        self._ready = set()
        self._used = None
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None

    def _mark_unused(self, output):
        reached = _reachable_leaves(output)
        self._used = np.array([1 if id(p) in reached else 0 for p in self._params], np.int32)
        for p in self._params:
            if id(p) not in reached:
                bi, i = self._where[id(p)]
                self._buckets[bi].view(i)[...] = 0
                self._ready.add(id(p))
                self._buckets[bi].pending -= 1

    # ---------------------------------------------------------------------------------------- backward
    def _make_hook(self, param):
        def hook(grad):
            if self._armed:
                self._grad_ready(param, grad)
            return None

        return hook

    def _grad_ready(self, p, grad):
        if id(p) in self._ready:
            raise RuntimeError("DistributedDataParallel: a parameter received a gradient twice in one "
                               "iteration (two backward passes through one forward?); call backward once per "
                               "forward, or use no_sync() for all but the last")
        if not self._queued:
            self._queued = True
            queue_callback(self._finish)
        bi, i = self._where[id(p)]
        b = self._buckets[bi]
        g = grad._data if p.grad is None else p.grad._data + grad._data
        b.view(i)[...] = g.reshape(-1)
        self._ready.add(id(p))
        b.pending -= 1
        self._launch_ready()

    def _launch_ready(self):
        dist = _dist()
        from ...tensor import Tensor

        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            b = self._buckets[self._next]
            b.work = dist.all_reduce(Tensor._wrap(b.flat), group=self.process_group, async_op=True)
            self._next += 1
            _progress.start()
        # Polling lets MPI move the reductions already started while backward computes.
        for b in self._buckets[:self._next]:
            if b.work is not None:
                b.work.is_completed()

    def _finish(self):
        dist = _dist()
        used = None
        if self._used is not None:
            from ...tensor import Tensor

            used = Tensor._wrap(self._used.copy())
            dist.all_reduce(used, group=self.process_group)
            used = used._data
        self._launch_ready()
        if self._next < len(self._buckets):
            missing = [i for i, p in enumerate(self._params) if id(p) not in self._ready]
            self._reset()
            raise RuntimeError(
                "DistributedDataParallel: Expected to have finished reduction in the prior iteration before "
                f"starting a new one. Parameters {missing[:10]} (indices into module.parameters() that "
                "require grad) received no gradient: pass find_unused_parameters=True to "
                "DistributedDataParallel, or make every output of forward take part in the loss")
        n = dist.get_world_size(self.process_group)
        from ...tensor import Tensor

        _progress.stop()
        for b in self._buckets:
            b.work.wait()
            b.flat /= n
            for i, p in enumerate(b.params):
                value = b.view(i).reshape(p._data.shape)
                if p.grad is None:
                    if used is not None and used[self._index[id(p)]] == 0:
                        continue  # no rank used it: the gradient stays None, as PyTorch
                    p.grad = Tensor._wrap(value.copy())
                else:
                    p.grad._data[...] = value
                    bump_version(p.grad)
        self._reset()

    # ------------------------------------------------------------------------------------------- API
    @contextlib.contextmanager
    def no_sync(self):
        """Within this context backward passes accumulate gradients locally without reducing them; the first
        synchronised backward after it reduces the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def __getstate__(self):
        raise TypeError("DistributedDataParallel cannot be pickled; save .module (or its state_dict) instead")


def _reachable_leaves(output):
    """ids of the leaf tensors that the autograd graph of ``output`` (tensors in any nesting) reaches."""
    from ...tensor import Tensor

    stack, seen, leaves = [], set(), set()

    def add(obj):
        if isinstance(obj, Tensor):
            if obj._ctx is not None:
                stack.append(obj._ctx)
            elif obj.requires_grad:
                leaves.add(id(obj))
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                add(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                add(o)

    add(output)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for parent in node.parents:
            if isinstance(parent, Node):
                stack.append(parent)
            elif parent is not None:
                leaves.add(id(parent))
    return leaves


class _Progress:
    """A thread that pokes MPI's progress engine while reductions are in flight (MPICH moves non-blocking
    collectives only inside MPI calls; numpy's kernels release the GIL, so the pokes run during backward)."""

    def __init__(self):
        self._running = threading.Event()
        self._thread = None

    def start(self):
        if self._running.is_set() or not self._allowed():
            return
        self._running.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, daemon=True, name="ddp-mpi-progress")
            self._thread.start()

    def stop(self):
        self._running.clear()

    @staticmethod
    def _allowed():
        """Only where MPI allows calls from several threads; VISIONLITE_DDP_PROGRESS_THREAD=0 turns it off."""
        if os.environ.get("VISIONLITE_DDP_PROGRESS_THREAD", "1") == "0":
            return False
        from ...distributed import _mpi

        MPI = _mpi.mpi()
        return MPI.Query_thread() == MPI.THREAD_MULTIPLE

    def _loop(self):
        from ...distributed import _mpi

        MPI = _mpi.mpi()
        comm = MPI.COMM_SELF
        while True:
            self._running.wait()
            comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG)
            time.sleep(2e-4)


_progress = _Progress()
