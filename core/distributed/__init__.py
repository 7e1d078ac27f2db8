"""``visionlite.distributed``, as ``torch.distributed``: process groups and collectives on MPI (CPU, through
mpi4py; processes started by ``mpiexec -n N``) and NCCL (GPU, through cupy).

    import visionlite.distributed as dist
    dist.init_process_group("mpi")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Importing this package does not import mpi4py; ``init_process_group`` does, and names
``pip install visionlite[distributed]`` when it is missing.
"""
from ._mpi import launched_rank, launched_world_size
from .collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    gather,
    irecv,
    isend,
    monitored_barrier,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from .objects import all_gather_object, broadcast_object_list, gather_object, scatter_object_list
from .once import first_per_machine
from .process_group import (
    GroupMember,
    ProcessGroup,
    ReduceOp,
    abort_job,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_local_rank,
    get_local_world_size,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
)
from .work import DistTimeoutError, Work

__all__ = [
    "ReduceOp", "ProcessGroup", "Work", "DistTimeoutError", "GroupMember", "group", "default_pg_timeout",
    "init_process_group", "destroy_process_group", "is_initialized", "is_available", "is_mpi_available",
    "is_nccl_available", "get_rank", "get_world_size", "get_backend", "get_local_rank",
    "get_local_world_size", "get_process_group_ranks", "new_group", "barrier", "monitored_barrier",
    "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
    "reduce_scatter_tensor", "reduce", "gather", "scatter", "send", "recv", "isend", "irecv",
    "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
    "first_per_machine", "abort_job", "launched_world_size", "launched_rank",
]
