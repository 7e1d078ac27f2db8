"""``first_per_machine``: let one process per machine do a job (a download) before the others repeat it.

Inside an initialised process group of several processes, local rank 0 of each machine runs the block
first while the machine's other ranks wait (bounded by the group's timeout); then they run the block too,
by which time its result (a verified file in the cache) is there to be read. Outside a group, or with one
process per machine, the block simply runs. Every rank of the machine must enter the block, as with any
barrier; a failure in local rank 0 is reported to the others instead of leaving them waiting.
"""
import contextlib

import numpy as np

from .process_group import _STATE, is_initialized

__all__ = ["first_per_machine"]


def _local_comm():
    pg = _STATE.world
    if getattr(pg, "_local", None) is None:
        pg._local = pg.comm.Split_type(pg._mpi.COMM_TYPE_SHARED, key=pg.rank())
    return pg._local


def _share(flag, what):
    from .work import Work

    pg = _STATE.world
    buf = np.array([flag], np.int8)
    Work(what, pg, [_local_comm().Ibcast(buf, root=0)]).wait()
    return bool(buf[0])


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
            _share(0, what)
            raise
        _share(1, what)
    else:
        if not _share(0, what):
            raise RuntimeError(f"visionlite.distributed: the {what} failed on local rank 0 of this machine "
                               "(its error is in its output); not repeating it here")
        yield
