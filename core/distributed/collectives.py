"""Tensor collectives and point-to-point messages, with ``torch.distributed``'s signatures.

Every operation posts non-blocking MPI calls (``Iallreduce``, ``Ibcast``, ...) on a contiguous host
buffer and returns a :class:`Work`; without ``async_op`` it is waited for at once, so the group's timeout
applies either way. A tensor whose array is a contiguous numpy array of an MPI type is communicated in
place; any other (cupy, non-contiguous, float16/bfloat16, bool) goes through a staged copy written back when
the operation completes. ``src``/``dst`` are global ranks, as in PyTorch. On the ``nccl`` backend the tensor
operations NCCL has run on the GPU (``nccl.py``); the others go through MPI by way of host copies.
"""
import numpy as np

from ..autograd.versions import bump_version
from ..backend import array_module
from .process_group import ReduceOp, resolve
from .work import DistTimeoutError, Work, _seconds

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "reduce", "gather", "scatter", "send", "recv", "isend", "irecv",
           "barrier", "monitored_barrier"]

_MPI_NATIVE = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                     np.uint16, np.uint32, np.uint64, np.complex64, np.complex128)}


def _mpi_op(MPI, op):
    if not isinstance(op, ReduceOp):
        raise ValueError(f"op must be a visionlite.distributed.ReduceOp, got {op!r}")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR,
            ReduceOp.BXOR: MPI.BXOR}[op]


def _check(t, fn, arg="tensor"):
    from ..tensor import Tensor

    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {arg} must be a visionlite Tensor, got {type(t).__name__}")
    return t


def _reduce_dtype(dtype):
    if dtype in _MPI_NATIVE:
        return dtype
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    return np.dtype(np.float32)  # float16 / bfloat16: reduced in float32, rounded back once


class _Staged:
    """A contiguous host array holding tensor ``t``'s values (the array itself when possible)."""

    def __init__(self, t, reduce=False, read=True):
        self.t = t
        d = t._data
        want = _reduce_dtype(d.dtype) if reduce else d.dtype
        self.direct = (isinstance(d, np.ndarray) and d.flags.c_contiguous and d.dtype == want
                       and d.flags.writeable)
        if self.direct:
            self.host = d
        elif read:
            src = d if isinstance(d, np.ndarray) else d.get()
            self.host = np.ascontiguousarray(src, dtype=want)
        else:
            self.host = np.empty(d.shape, dtype=want)
        # Operations that only move values see raw bytes: any dtype travels unchanged.
        self.buf = self.host if reduce else self.host.reshape(-1).view(np.uint8)

    def write_back(self):
        if not self.direct:
            d = self.t._data
            xp = array_module(d)
            d[...] = xp.asarray(self.host.astype(d.dtype, copy=False))
        bump_version(self.t)


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _nccl(pg, name):
    return pg.nccl if pg.nccl is not None and pg.nccl.supports(name) else None


def _avg(staged, n):
    h = staged.host
    if h.dtype.kind in "fc":
        h /= n
    else:
        h[...] = (h / n).astype(h.dtype)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks of ``group`` with ``op``; every rank gets the result in place."""
    _check(tensor, "all_reduce")
    pg = resolve(group)
    if pg is None:
        return None
    if _nccl(pg, "all_reduce"):
        return _finish(pg.nccl.all_reduce(tensor, op), async_op)
    MPI = pg._mpi
    s = _Staged(tensor, reduce=True)
    req = pg.comm.Iallreduce(MPI.IN_PLACE, s.host, _mpi_op(MPI, op))
    steps = ([lambda: _avg(s, pg.size())] if op is ReduceOp.AVG else []) + [s.write_back]
    return _finish(Work("all_reduce", pg, [req], steps, [tensor]), async_op)


def broadcast(tensor, src=0, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of global rank ``src`` into ``tensor`` on every rank of ``group``."""
    _check(tensor, "broadcast")
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.group_rank(src, "src") if group_src is None else int(group_src)
    if _nccl(pg, "broadcast"):
        return _finish(pg.nccl.broadcast(tensor, root), async_op)
    is_root = pg.rank() == root
    s = _Staged(tensor, read=is_root)
    req = pg.comm.Ibcast(s.buf, root=root)
    return _finish(Work("broadcast", pg, [req], [] if is_root else [s.write_back], [tensor]), async_op)


def _bytes_counts(tensors):
    counts = [int(t._data.nbytes) for t in tensors]
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()
    return counts, displs


def _scatter_into(flat, outputs):
    """Write consecutive byte runs of ``flat`` into the tensors ``outputs``."""
    offset = 0
    for out in outputs:
        d = out._data
        n = int(d.nbytes)
        values = flat[offset:offset + n].view(d.dtype).reshape(d.shape)
        offset += n
        d[...] = array_module(d).asarray(values)
        bump_version(out)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` (shapes may differ between ranks)."""
    _check(tensor, "all_gather")
    pg = resolve(group)
    if pg is None:
        return None
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list holds {len(tensor_list)} tensors for a group of "
                         f"{pg.size()} ranks")
    for t in tensor_list:
        _check(t, "all_gather", "tensor_list entries")
        if t._data.dtype != tensor._data.dtype:
            raise TypeError(f"all_gather: tensor_list dtype {t.dtype} differs from the input's "
                            f"{tensor.dtype}")
    s = _Staged(tensor)
    counts, displs = _bytes_counts(tensor_list)
    if counts[pg.rank()] != s.buf.size:
        raise ValueError(f"all_gather: tensor_list[{pg.rank()}] has {counts[pg.rank()]} bytes, the input "
                         f"{s.buf.size}")
    flat = np.empty(sum(counts), np.uint8)
    MPI = pg._mpi
    req = pg.comm.Iallgatherv(s.buf, [flat, (counts, displs), MPI.BYTE])
    return _finish(Work("all_gather", pg, [req], [lambda: _scatter_into(flat, tensor_list)], tensor_list),
                   async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor`` (world_size times its size: concatenated
    along dim 0, or stacked)."""
    _check(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check(input_tensor, "all_gather_into_tensor", "input_tensor")
    pg = resolve(group)
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size() or output_tensor.dtype != input_tensor.dtype:
        raise ValueError("all_gather_into_tensor: output tensor size must be equal to world_size times input "
                         f"tensor size, with the same dtype (got {tuple(output_tensor.shape)} "
                         f"{output_tensor.dtype} for {pg.size()} x {tuple(input_tensor.shape)} "
                         f"{input_tensor.dtype})")
    if _nccl(pg, "all_gather_into_tensor"):
        return _finish(pg.nccl.all_gather_into_tensor(output_tensor, input_tensor), async_op)
    s_in, s_out = _Staged(input_tensor), _Staged(output_tensor, read=False)
    req = pg.comm.Iallgather(s_in.buf, s_out.buf)
    return _finish(Work("all_gather_into_tensor", pg, [req], [s_out.write_back], [output_tensor]), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` over ranks with ``op`` into ``output`` of rank i."""
    _check(output, "reduce_scatter", "output")
    pg = resolve(group)
    if pg is None:
        return None
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list holds {len(input_list)} tensors for a group of "
                         f"{pg.size()} ranks")
    want = _reduce_dtype(output._data.dtype)
    parts = [np.ascontiguousarray(_Staged(_check(t, "reduce_scatter", "input_list entries"), reduce=True)
                                  .host, dtype=want).reshape(-1) for t in input_list]
    counts = [p.size for p in parts]
    if counts[pg.rank()] != output.numel():
        raise ValueError(f"reduce_scatter: input_list[{pg.rank()}] has {counts[pg.rank()]} elements, the "
                         f"output {output.numel()}")
    send = np.concatenate(parts)
    s = _Staged(output, reduce=True, read=False)
    MPI = pg._mpi
    req = pg.comm.Ireduce_scatter(send, s.host, counts, _mpi_op(MPI, op))
    steps = ([lambda: _avg(s, pg.size())] if op is ReduceOp.AVG else []) + [s.write_back]
    return _finish(Work("reduce_scatter", pg, [req], steps, [output]), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """Reduce ``input`` (world_size times ``output``'s size) over ranks; rank i keeps the i-th block."""
    _check(output, "reduce_scatter_tensor", "output")
    _check(input, "reduce_scatter_tensor", "input")
    pg = resolve(group)
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size():
        raise ValueError("reduce_scatter_tensor: input tensor must be the same size as output size times "
                         f"world size (got {tuple(input.shape)} for {pg.size()} x {tuple(output.shape)})")
    if _nccl(pg, "reduce_scatter_tensor"):
        return _finish(pg.nccl.reduce_scatter_tensor(output, input, op), async_op)
    s_in = _Staged(input, reduce=True)
    s = _Staged(output, reduce=True, read=False)
    MPI = pg._mpi
    req = pg.comm.Ireduce_scatter_block(s_in.host, s.host, _mpi_op(MPI, op))
    steps = ([lambda: _avg(s, pg.size())] if op is ReduceOp.AVG else []) + [s.write_back]
    return _finish(Work("reduce_scatter_tensor", pg, [req], steps, [output]), async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over ranks with ``op``; only global rank ``dst`` receives the result."""
    _check(tensor, "reduce")
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.group_rank(dst, "dst") if group_dst is None else int(group_dst)
    if _nccl(pg, "reduce"):
        return _finish(pg.nccl.reduce(tensor, root, op), async_op)
    MPI = pg._mpi
    s = _Staged(tensor, reduce=True)
    if pg.rank() == root:
        req = pg.comm.Ireduce(MPI.IN_PLACE, s.host, _mpi_op(MPI, op), root=root)
        steps = ([lambda: _avg(s, pg.size())] if op is ReduceOp.AVG else []) + [s.write_back]
    else:
        req = pg.comm.Ireduce(s.host, None, _mpi_op(MPI, op), root=root)
        steps = []
    return _finish(Work("reduce", pg, [req], steps, [tensor]), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False, group_dst=None):
    """Collect every rank's ``tensor`` into ``gather_list`` on global rank ``dst``."""
    _check(tensor, "gather")
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.group_rank(dst, "dst") if group_dst is None else int(group_dst)
    s = _Staged(tensor)
    MPI = pg._mpi
    if pg.rank() == root:
        if gather_list is None or len(gather_list) != pg.size():
            raise ValueError(f"gather: the destination rank needs gather_list with {pg.size()} tensors")
        counts, displs = _bytes_counts(gather_list)
        flat = np.empty(sum(counts), np.uint8)
        req = pg.comm.Igatherv(s.buf, [flat, (counts, displs), MPI.BYTE], root=root)
        return _finish(Work("gather", pg, [req], [lambda: _scatter_into(flat, gather_list)], gather_list),
                       async_op)
    if gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    req = pg.comm.Igatherv(s.buf, None, root=root)
    return _finish(Work("gather", pg, [req]), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False, group_src=None):
    """Global rank ``src`` sends ``scatter_list[i]`` to rank i, which receives it into ``tensor``."""
    _check(tensor, "scatter")
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.group_rank(src, "src") if group_src is None else int(group_src)
    s = _Staged(tensor, read=False)
    MPI = pg._mpi
    if pg.rank() == root:
        if scatter_list is None or len(scatter_list) != pg.size():
            raise ValueError(f"scatter: the source rank needs scatter_list with {pg.size()} tensors")
        counts, displs = _bytes_counts(scatter_list)
        parts = [_Staged(_check(t, "scatter", "scatter_list entries")).buf for t in scatter_list]
        flat = np.concatenate(parts)
        req = pg.comm.Iscatterv([flat, (counts, displs), MPI.BYTE], s.buf, root=root)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        req = pg.comm.Iscatterv(None, s.buf, root=root)
    return _finish(Work("scatter", pg, [req], [s.write_back], [tensor]), async_op)


def isend(tensor, dst, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to global rank ``dst`` without blocking; returns a Work."""
    _check(tensor, "isend")
    pg = resolve(group)
    if pg is None:
        return None
    peer = pg.group_rank(dst, "dst") if group_dst is None else int(group_dst)
    if _nccl(pg, "send"):
        return pg.nccl.send(tensor, peer)
    s = _Staged(tensor)
    req = pg.comm.Isend(s.buf, dest=peer, tag=tag)
    work = Work("send", pg, [req])
    work._keep = s  # the buffer must outlive the request
    return work


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from global rank ``src`` (any rank when None) without blocking."""
    _check(tensor, "irecv")
    pg = resolve(group)
    if pg is None:
        return None
    if _nccl(pg, "recv") and (src is not None or group_src is not None):
        return pg.nccl.recv(tensor, pg.group_rank(src, "src") if group_src is None else int(group_src))
    MPI = pg._mpi
    peer = MPI.ANY_SOURCE if src is None and group_src is None else (
        pg.group_rank(src, "src") if group_src is None else int(group_src))
    s = _Staged(tensor, read=False)
    status = MPI.Status()
    req = pg.comm.Irecv(s.buf, source=peer, tag=MPI.ANY_TAG if tag is None else tag)
    work = Work("recv", pg, finish=[s.write_back], outputs=[tensor], test=lambda: req.Test(status))
    work._keep = (req, status)
    work.source_rank = lambda: pg.ranks[status.Get_source()]
    return work


def send(tensor, dst, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to global rank ``dst``; returns when the buffer may be reused."""
    isend(tensor, dst, group, tag, group_dst).wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from global rank ``src`` (any when None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work.source_rank() if hasattr(work, "source_rank") else src


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` has arrived (bounded by the group's timeout)."""
    pg = resolve(group)
    if pg is None:
        return None
    req = pg.comm.Ibarrier()
    return _finish(Work("barrier", pg, [req]), async_op)


_MONITOR_TAG = 7302


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that names the ranks that did not arrive: every rank reports to the group's first rank,
    which raises on ``timeout`` (default: the group's) listing the missing ranks (all of them with
    ``wait_all_ranks``, else the first), as PyTorch; the others then get their release from it."""
    import time

    pg = resolve(group)
    if pg is None:
        return None
    limit = pg.timeout if timeout is None else _seconds(timeout)
    token = np.zeros(1, np.int8)
    if pg.rank() != 0:
        pg.comm.Isend(token, dest=0, tag=_MONITOR_TAG).Wait()
        Work("monitored_barrier", pg, [pg.comm.Irecv(np.zeros(1, np.int8), source=0, tag=_MONITOR_TAG)]).wait(
            limit)
        return None
    pending = {r: pg.comm.Irecv(np.zeros(1, np.int8), source=r, tag=_MONITOR_TAG)
               for r in range(1, pg.size())}
    deadline = time.monotonic() + limit
    while pending and time.monotonic() < deadline:
        pending = {r: q for r, q in pending.items() if not q.Test()}
        time.sleep(1e-3)
    if pending:
        missing = sorted(pg.ranks[r] for r in pending)
        if wait_all_ranks:
            who = "Ranks " + ", ".join(map(str, missing))
        else:
            who = f"Rank {missing[0]}"
        raise DistTimeoutError(f"{who} failed to pass monitoredBarrier in {int(limit * 1000)} ms")
    for r in range(1, pg.size()):
        pg.comm.Isend(token, dest=r, tag=_MONITOR_TAG).Wait()
    return None
