"""The ``nccl`` backend: tensor collectives on the GPU through ``cupy.cuda.nccl``.

One GPU per process (``cuda:<local rank>`` unless the process chose one). Rank 0 draws the NCCL unique id
and MPI broadcasts it; barriers and object collectives stay on MPI. Operations are queued on cupy's current
stream; a CUDA event recorded after them is what the Work polls, so waits are bounded by the group's timeout
like MPI's. float16/bfloat16 travel natively; AVG is a SUM divided by the group size on the GPU.
"""
import numpy as np

from .work import Work

__all__ = ["NcclComm"]

_SUPPORTED = {"all_reduce", "broadcast", "all_gather_into_tensor", "reduce_scatter_tensor", "reduce", "send",
              "recv"}


def _cupy_nccl():
    from ..backend import cuda_available

    if not cuda_available():
        raise RuntimeError("init_process_group(backend='nccl') needs cupy and a visible GPU (pip install "
                           "visionlite[cuda]); use backend='mpi' for CPU tensors")
    import cupy
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError(f"backend='nccl': this cupy has no NCCL support ({e}); install NCCL for cupy "
                           "(python -m cupyx.tools.install_library --library nccl) or use "
                           "backend='mpi'") from None
    return cupy, nccl


class NcclComm:
    """An NCCL communicator over the ranks of ``pg`` (a ProcessGroup; its MPI communicator carries the id)."""

    def __init__(self, pg):
        cupy, nccl = _cupy_nccl()
        self.cupy, self.nccl, self.pg = cupy, nccl, pg
        from .process_group import _STATE

        if cupy.cuda.runtime.getDeviceCount() > 1 and pg._world is None:
            cupy.cuda.Device(_STATE.local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        uid = nccl.get_unique_id() if pg.comm.Get_rank() == 0 else None
        uid = pg.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(pg.size(), uid, pg.comm.Get_rank())
        self.dtypes = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.int8): nccl.NCCL_INT8,
                       np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int32): nccl.NCCL_INT32,
                       np.dtype(np.uint32): nccl.NCCL_UINT32, np.dtype(np.int64): nccl.NCCL_INT64,
                       np.dtype(np.uint64): nccl.NCCL_UINT64, np.dtype(np.bool_): nccl.NCCL_UINT8}
        if hasattr(nccl, "NCCL_BFLOAT16"):
            try:
                import ml_dtypes

                self.dtypes[np.dtype(ml_dtypes.bfloat16)] = nccl.NCCL_BFLOAT16
            except ImportError:
                pass

    def supports(self, name):
        return name in _SUPPORTED

    def close(self):
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None

    # ------------------------------------------------------------------------------------------ helpers
    def _array(self, t, name):
        d = t._data
        if not isinstance(d, self.cupy.ndarray):
            raise RuntimeError(f"{name}: the nccl backend communicates cuda tensors; this one is on "
                               f"{t.device} (move it with .cuda(), or use backend='mpi')")
        if not d.flags.c_contiguous:
            raise ValueError(f"{name}: Tensors must be contiguous")
        if d.dtype not in self.dtypes:
            raise TypeError(f"{name}: NCCL has no type for {d.dtype}")
        return d

    def _op(self, op):
        from .process_group import ReduceOp

        n = self.nccl
        table = {ReduceOp.SUM: n.NCCL_SUM, ReduceOp.AVG: n.NCCL_SUM, ReduceOp.PRODUCT: n.NCCL_PROD,
                 ReduceOp.MIN: n.NCCL_MIN, ReduceOp.MAX: n.NCCL_MAX}
        if op not in table:
            raise ValueError(f"the nccl backend does not reduce with {op}")
        return table[op]

    def _work(self, name, tensors, finish=()):
        from ..autograd.versions import bump_version

        stream = self.cupy.cuda.get_current_stream()
        event = self.cupy.cuda.Event(block=False, disable_timing=True)
        event.record(stream)
        steps = list(finish) + [lambda: [bump_version(t) for t in tensors]]
        return Work(name, self.pg, finish=steps, outputs=tensors, test=lambda: event.done)

    def _avg(self, d, op):
        from .process_group import ReduceOp

        if op is not ReduceOp.AVG:
            return []
        n = self.pg.size()
        return [lambda: d.__itruediv__(n) if d.dtype.kind == "f" else d.__ifloordiv__(n)]

    def _stream(self):
        return self.cupy.cuda.get_current_stream().ptr

    # --------------------------------------------------------------------------------------- operations
    def all_reduce(self, t, op):
        d = self._array(t, "all_reduce")
        self.comm.allReduce(d.data.ptr, d.data.ptr, d.size, self.dtypes[d.dtype], self._op(op),
                            self._stream())
        return self._work("all_reduce", [t], self._avg(d, op))

    def broadcast(self, t, root):
        d = self._array(t, "broadcast")
        self.comm.bcast(d.data.ptr, d.size, self.dtypes[d.dtype], root, self._stream())
        return self._work("broadcast", [t])

    def reduce(self, t, root, op):
        d = self._array(t, "reduce")
        self.comm.reduce(d.data.ptr, d.data.ptr, d.size, self.dtypes[d.dtype], self._op(op), root,
                         self._stream())
        return self._work("reduce", [t], self._avg(d, op) if self.pg.rank() == root else [])

    def all_gather_into_tensor(self, out, t):
        d, o = self._array(t, "all_gather_into_tensor"), self._array(out, "all_gather_into_tensor")
        self.comm.allGather(d.data.ptr, o.data.ptr, d.size, self.dtypes[d.dtype], self._stream())
        return self._work("all_gather_into_tensor", [out])

    def reduce_scatter_tensor(self, out, t, op):
        d, o = self._array(t, "reduce_scatter_tensor"), self._array(out, "reduce_scatter_tensor")
        self.comm.reduceScatter(d.data.ptr, o.data.ptr, o.size, self.dtypes[d.dtype], self._op(op),
                                self._stream())
        return self._work("reduce_scatter_tensor", [out], self._avg(o, op))

    def send(self, t, peer):
        d = self._array(t, "send")
        self.comm.send(d.data.ptr, d.size, self.dtypes[d.dtype], peer, self._stream())
        return self._work("send", [])

    def recv(self, t, peer):
        d = self._array(t, "recv")
        self.comm.recv(d.data.ptr, d.size, self.dtypes[d.dtype], peer, self._stream())
        work = self._work("recv", [t])
        work.source_rank = lambda: self.pg.ranks[peer]
        return work
