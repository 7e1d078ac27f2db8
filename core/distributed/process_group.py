"""Process groups on MPI: ``init_process_group``, ``new_group``, ranks, and ending the job on failure.

Ranks and the world size come from the MPI launcher (``mpiexec -n N``). ``init_method="env://"`` (the
default) also accepts ``RANK``/``WORLD_SIZE`` set by another launcher, as long as they agree with what MPI
sees, since MPI is the transport either way. With the ``nccl`` backend tensors move through NCCL (cupy),
and MPI carries its unique id, barriers and object collectives.

Failure policy: once a group of several processes exists, an uncaught exception or a SIGTERM in any rank
prints the rank and aborts every rank (``MPI_Abort``: non-zero exit); a collective whose peers do not
arrive within ``timeout`` raises a :class:`DistTimeoutError` naming the operation and the ranks whose
processes are gone, which, uncaught, aborts the job the same way.
"""
import atexit
import datetime
import enum
import os
import signal
import socket
import sys
import time
import traceback

from . import _mpi

__all__ = ["ReduceOp", "ProcessGroup", "init_process_group", "destroy_process_group", "is_initialized",
           "is_available", "is_mpi_available", "is_nccl_available", "get_rank", "get_world_size",
           "get_backend", "new_group", "group", "GroupMember", "get_process_group_ranks",
           "default_pg_timeout", "get_local_rank", "get_local_world_size"]

default_pg_timeout = datetime.timedelta(minutes=30)
_BACKENDS = ("mpi", "nccl", "gloo")
_ABORT_GRACE_S = 0.3  # before MPI_Abort: lets mpiexec forward the reason (abort_job)


class ReduceOp(enum.Enum):
    """Reductions of ``all_reduce``/``reduce``/``reduce_scatter``, as ``torch.distributed.ReduceOp``."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class ProcessGroup:
    """A set of ranks that run collectives together: an MPI communicator (and an NCCL one for ``nccl``)."""

    def __init__(self, comm, ranks, backend, timeout, world):
        self._mpi = _mpi.mpi()
        self.comm = comm
        self.ranks = list(ranks)  # global ranks, by group rank
        self.backend = backend
        self.timeout = timeout
        self._world = world  # the default group's table of hosts and pids (None for the default group)
        self.nccl = None
        if backend == "nccl":
            from .nccl import NcclComm

            self.nccl = NcclComm(self)

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return len(self.ranks)

    def group_rank(self, global_rank, what="rank"):
        """The rank within this group of ``global_rank``; a ValueError when it is not a member."""
        try:
            return self.ranks.index(int(global_rank))
        except ValueError:
            raise ValueError(f"{what} {global_rank} is not part of this group (ranks {self.ranks})") from None

    def _timeout_message(self, name, limit):
        me = _STATE.rank
        gone = _dead_ranks(self.ranks)
        why = (f"rank(s) {gone} have no process any more (died)" if gone else
               "a peer is slow, stuck, or left the collective (e.g. it raised, or called a different one)")
        return (f"visionlite.distributed: {name} on rank {me} timed out after {limit:.1f} s waiting for "
                f"the group of ranks {self.ranks}: {why}")

    def __repr__(self):
        return f"<ProcessGroup backend={self.backend} ranks={self.ranks}>"


class _State:
    def __init__(self):
        self.world = None  # the default ProcessGroup
        self.rank = -1
        self.local_rank = 0
        self.local_size = 1
        self.table = []  # (hostname, pid) per global rank
        self.hooks_installed = False


_STATE = _State()


class group:  # noqa: N801 - torch.distributed.group
    """``group.WORLD``: the default process group once initialised."""

    WORLD = None


class GroupMember:
    """``GroupMember.WORLD``, and ``NON_GROUP_MEMBER`` (what ``new_group`` gives ranks outside it)."""

    WORLD = None
    NON_GROUP_MEMBER = object()


def is_available():
    """True when the MPI extra (``mpi4py``) is installed."""
    return _mpi.available()


def is_mpi_available():
    return _mpi.available()


def is_nccl_available():
    """True when cupy with NCCL support is importable and sees a GPU."""
    from ..backend import cuda_available

    if not cuda_available():
        return False
    try:
        from cupy.cuda import nccl  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized():
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _STATE.world is not None


def _default():
    if _STATE.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _STATE.world


def resolve(group_):
    """The ProcessGroup to use for ``group_`` (None: the default one)."""
    if group_ is None or group_ is GroupMember.WORLD:
        return _default()
    if group_ is GroupMember.NON_GROUP_MEMBER:
        return None
    return group_


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group of the processes started by ``mpiexec -n N``.

    ``backend``: ``"mpi"`` (CPU tensors; ``"gloo"`` is taken as a synonym) or ``"nccl"`` (cupy tensors on
    one GPU per process). ``init_method``: None or ``"env://"``. ``timeout``: a ``timedelta`` (default 30
    min) after which a collective that cannot complete raises. ``world_size``/``rank`` (or the
    ``WORLD_SIZE``/``RANK`` variables) are checked against MPI's.
    """
    if _STATE.world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    backend = "mpi" if backend is None else str(backend).lower()
    if backend not in _BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; visionlite provides 'mpi' (CPU, "
                         "'gloo' is accepted as a synonym) and 'nccl' (GPU)")
    if store is not None:
        raise ValueError("init_process_group: visionlite's processes meet through MPI; a store is not used")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method {init_method!r} is not supported: start the "
                         "processes with `mpiexec -n N python ...` and use init_method=None or 'env://'")
    seconds = (default_pg_timeout if timeout is None else timeout)
    from .work import _seconds

    seconds = _seconds(seconds)
    MPI = _mpi.mpi()
    comm = MPI.COMM_WORLD.Dup()
    size, me = comm.Get_size(), comm.Get_rank()
    _check_claim("world_size", world_size, "WORLD_SIZE", size)
    _check_claim("rank", rank, "RANK", me)
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=me)
    _STATE.local_rank, _STATE.local_size = local.Get_rank(), local.Get_size()
    local.Free()
    _STATE.rank = me
    _STATE.table = comm.allgather((socket.gethostname(), os.getpid()))
    pg = ProcessGroup(comm, range(size), backend, seconds, None)
    _STATE.world = group.WORLD = GroupMember.WORLD = pg
    if size > 1:
        _install_failure_hooks()
        if me == 0:  # maps the pids an MPI launcher reports for a rank that died to their ranks
            where = ", ".join(f"rank {r} pid {pid} on {host}" for r, (host, pid) in enumerate(_STATE.table))
            sys.stderr.write(f"visionlite.distributed: {size} ranks ({backend}): {where}\n")
            sys.stderr.flush()


def _check_claim(arg, value, var, actual):
    claims = []
    if value is not None and int(value) >= 0:
        claims.append((f"{arg}={value}", int(value)))
    if os.environ.get(var, "").strip().lstrip("-").isdigit():
        claims.append((f"{var}={os.environ[var]}", int(os.environ[var])))
    for label, v in claims:
        if v != actual:
            hint = ("start the processes with `mpiexec -n N python ...`" if arg == "world_size"
                    else "let the MPI launcher assign ranks")
            raise ValueError(f"init_process_group: {label} disagrees with MPI, which gives {arg} {actual}: "
                             f"{hint} (MPI carries the traffic, so its numbering decides)")


def destroy_process_group(group=None):  # noqa: A002 - torch's argument name
    """Leave ``group`` (default: the default group; ``init_process_group`` may then be called again)."""
    pg = resolve(group)
    if pg is None:
        return
    if pg.nccl is not None:
        pg.nccl.close()
    if group is None or pg is _STATE.world:
        _STATE.world = globals()["group"].WORLD = GroupMember.WORLD = None
        _STATE.rank = -1
    try:
        pg.comm.Free()
    except Exception:  # noqa: BLE001 - MPI may already be finalizing at exit
        pass


def get_rank(group=None):  # noqa: A002
    """This process's rank in ``group`` (default group: 0..world_size-1); -1 if it is not a member."""
    pg = resolve(group)
    if pg is None:
        return -1
    return pg.rank()


def get_world_size(group=None):  # noqa: A002
    """The number of processes in ``group``; -1 if this process is not a member."""
    pg = resolve(group)
    if pg is None:
        return -1
    return pg.size()


def get_local_rank():
    """This process's index among the group's processes on the same machine (0 for the first)."""
    _default()
    return _STATE.local_rank


def get_local_world_size():
    _default()
    return _STATE.local_size


def get_backend(group=None):  # noqa: A002
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend


def get_process_group_ranks(group):  # noqa: A002
    """The global ranks of ``group``'s members, in group-rank order."""
    return list(resolve(group).ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False):
    """A group of the given global ``ranks`` (default all). Every rank of the default group must call it;
    ranks outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _default()
    members = sorted(set(range(world.size()) if ranks is None else (int(r) for r in ranks)))
    for r in members:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is outside the world of {world.size()} ranks")
    mpi_group = world.comm.Get_group().Incl(members)
    comm = world.comm.Create(mpi_group)
    mpi_group.Free()
    if comm == world._mpi.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    from .work import _seconds

    seconds = world.timeout if timeout is None else _seconds(timeout)
    return ProcessGroup(comm, members, (backend or world.backend).lower(), seconds, world)


# ------------------------------------------------------------------------------------------- failures

def _dead_ranks(ranks):
    """Ranks in ``ranks`` on this machine whose process no longer exists."""
    host = socket.gethostname()
    gone = []
    for r in ranks:
        if r < len(_STATE.table):
            h, pid = _STATE.table[r]
            if h == host and not _pid_alive(pid):
                gone.append(r)
    return gone


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited: it only waits to be reaped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def abort_job(message, code=1):
    """Print ``message`` (prefixed with this rank) and end every rank of the job with exit ``code``."""
    sys.stderr.write(f"[rank {_STATE.rank}] {message}\n")
    sys.stderr.flush()
    # The text sits in the pipe to mpiexec's proxy; MPI_Abort makes the proxy tear the job down, and under
    # load it did so before forwarding the last lines (1 run in ~6 lost the reason). A moment first.
    time.sleep(_ABORT_GRACE_S)
    _mpi.mpi().COMM_WORLD.Abort(code)


def _install_failure_hooks():
    if _STATE.hooks_installed:
        return
    _STATE.hooks_installed = True
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        if _STATE.world is None or issubclass(kind, SystemExit):
            return previous(kind, value, tb)
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write("".join(f"[rank {_STATE.rank}] {line}\n" for line in text.rstrip().split("\n")))
        abort_job(f"visionlite.distributed: rank {_STATE.rank} raised {kind.__name__}: {value}; aborting "
                  f"all {len(_STATE.table)} ranks")

    sys.excepthook = excepthook

    def at_exit():
        if _STATE.world is not None:  # peers still waiting on this rank would otherwise only time out
            sys.stderr.write(f"[rank {_STATE.rank}] visionlite.distributed: rank {_STATE.rank} is exiting "
                             "without destroy_process_group(); collectives still waiting on it will time "
                             "out\n")
            sys.stderr.flush()

    atexit.register(at_exit)  # after mpi4py's finalizer was registered, so it runs before it
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        def on_term(signum, frame):
            abort_job(f"visionlite.distributed: rank {_STATE.rank} received SIGTERM; aborting all "
                      f"{len(_STATE.table)} ranks", code=128 + signum)

        try:
            signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread
            pass
