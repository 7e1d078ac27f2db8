"""Collectives of picklable Python objects (``all_gather_object``, ``broadcast_object_list``, ...).

Objects are pickled to bytes and moved with the same non-blocking MPI calls as tensors, so the group's
timeout bounds them too. Only ranks of one job exchange these bytes, as in PyTorch.
"""
import pickle

import numpy as np

from .process_group import resolve
from .work import Work

__all__ = ["all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list"]


def _wait(pg, name, req):
    Work(name, pg, [req]).wait()


def _dumps(obj):
    return np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)


def _loads(buf):
    return pickle.loads(buf.tobytes())


def _displs(counts):
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()


def all_gather_object(object_list, obj, group=None):
    """Set ``object_list[i]`` to rank i's ``obj`` (``object_list`` has world_size entries)."""
    pg = resolve(group)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list holds {len(object_list)} entries for a group of "
                         f"{pg.size()} ranks")
    mine = _dumps(obj)
    sizes = np.zeros(pg.size(), np.int64)
    _wait(pg, "all_gather_object", pg.comm.Iallgather(np.array([mine.size], np.int64), sizes))
    counts = sizes.tolist()
    flat = np.empty(sum(counts), np.uint8)
    MPI = pg._mpi
    _wait(pg, "all_gather_object", pg.comm.Iallgatherv(mine, [flat, (counts, _displs(counts)), MPI.BYTE]))
    for i, (start, n) in enumerate(zip(_displs(counts), counts)):
        object_list[i] = _loads(flat[start:start + n])


def broadcast_object_list(object_list, src=0, group=None, device=None, group_src=None):
    """Replace the entries of ``object_list`` with those of global rank ``src`` (same length everywhere)."""
    pg = resolve(group)
    if pg is None:
        return
    root = pg.group_rank(src, "src") if group_src is None else int(group_src)
    payload = _dumps(list(object_list)) if pg.rank() == root else None
    size = np.array([0 if payload is None else payload.size], np.int64)
    _wait(pg, "broadcast_object_list", pg.comm.Ibcast(size, root=root))
    if payload is None:
        payload = np.empty(int(size[0]), np.uint8)
    _wait(pg, "broadcast_object_list", pg.comm.Ibcast(payload, root=root))
    if pg.rank() != root:
        values = _loads(payload)
        if len(values) != len(object_list):
            raise ValueError(f"broadcast_object_list: rank {src} sent {len(values)} objects, this rank's "
                             f"list holds {len(object_list)}")
        object_list[:] = values


def gather_object(obj, object_gather_list=None, dst=0, group=None, group_dst=None):
    """Collect every rank's ``obj`` into ``object_gather_list`` on global rank ``dst``."""
    pg = resolve(group)
    if pg is None:
        return
    root = pg.group_rank(dst, "dst") if group_dst is None else int(group_dst)
    mine = _dumps(obj)
    is_root = pg.rank() == root
    if is_root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: the destination needs object_gather_list with {pg.size()} entries")
    sizes = np.zeros(pg.size(), np.int64) if is_root else None
    _wait(pg, "gather_object", pg.comm.Igather(np.array([mine.size], np.int64), sizes, root=root))
    MPI = pg._mpi
    if is_root:
        counts = sizes.tolist()
        flat = np.empty(sum(counts), np.uint8)
        _wait(pg, "gather_object", pg.comm.Igatherv(mine, [flat, (counts, _displs(counts)), MPI.BYTE],
                                                    root=root))
        for i, (start, n) in enumerate(zip(_displs(counts), counts)):
            object_gather_list[i] = _loads(flat[start:start + n])
    else:
        _wait(pg, "gather_object", pg.comm.Igatherv(mine, None, root=root))


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=0, group=None,
                        group_src=None):
    """Rank i receives ``scatter_object_input_list[i]`` of global rank ``src`` into
    ``scatter_object_output_list[0]``."""
    pg = resolve(group)
    if pg is None:
        return
    root = pg.group_rank(src, "src") if group_src is None else int(group_src)
    MPI = pg._mpi
    if pg.rank() == root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"scatter_object_list: the source needs {pg.size()} input objects")
        parts = [_dumps(o) for o in scatter_object_input_list]
        counts = np.array([p.size for p in parts], np.int64)
    else:
        parts, counts = None, None
    mine = np.zeros(1, np.int64)
    _wait(pg, "scatter_object_list", pg.comm.Iscatter(counts, mine, root=root))
    out = np.empty(int(mine[0]), np.uint8)
    send = None
    if parts is not None:
        c = counts.tolist()
        send = [np.concatenate(parts), (c, _displs(c)), MPI.BYTE]
    _wait(pg, "scatter_object_list", pg.comm.Iscatterv(send, out, root=root))
    scatter_object_output_list[0] = _loads(out)
