"""``first_per_machine``: let one process per machine do a job (a download) before the others repeat it.

Inside an initialised process group of several processes, local rank 0 of each machine runs the block
first while the machine's other ranks wait (bounded by the group's timeout); then they run the block too,
by which time its result (a verified file in the cache) is there to be read. Outside a group, or with one
process per machine, the block simply runs.

Local rank 0 never waits: when its block ends it posts a small message to each local peer, and a peer's
k-th block waits for rank 0's k-th message. So code that downloads on rank 0 alone (``if rank == 0:``)
cannot deadlock here, and a failure in rank 0 is reported to the peers instead of leaving them waiting.
The downloader's file lock still makes any unmatched call safe.
"""
import contextlib

import numpy as np

from .process_group import _STATE, is_initialized

__all__ = ["first_per_machine"]

_TAG = 7301  # on a communicator of its own, so no user message can match it


def _local():
    pg = _STATE.world
    if getattr(pg, "_local", None) is None:
        pg._local = pg.comm.Split_type(pg._mpi.COMM_TYPE_SHARED, key=pg.rank())
        pg._local_sends = []
    return pg, pg._local


def _tell_peers(ok):
    pg, comm = _local()
    flag = np.array([1 if ok else 0], np.int8)
    pg._local_sends = [r for r in pg._local_sends if not r.Test()]
    pg._local_sends += [comm.Isend(flag, dest=peer, tag=_TAG) for peer in range(1, comm.Get_size())]


def _wait_for_rank0(what):
    from .work import Work

    pg, comm = _local()
    flag = np.zeros(1, np.int8)
    Work(f"waiting for local rank 0's {what}", pg, [comm.Irecv(flag, source=0, tag=_TAG)]).wait()
    return bool(flag[0])


@contextlib.contextmanager
def first_per_machine(what="download"):
    """Run the ``with`` block on local rank 0 first, then on the machine's other ranks."""
    if not is_initialized() or _STATE.local_size < 2:
        yield
        return
    if _STATE.local_rank == 0:
        try:
            yield
        except BaseException:
            _tell_peers(False)
            raise
        _tell_peers(True)
    else:
        if not _wait_for_rank0(what):
            raise RuntimeError(f"visionlite.distributed: the {what} failed on local rank 0 of this machine "
                               "(its error is in its output); not repeating it here")
        yield
