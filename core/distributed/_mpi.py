"""The one place that imports ``mpi4py``: on first use, with an error naming the extra that provides it.

``import visionlite`` never imports MPI; only a process group (or an explicit call here) does.
"""
import importlib.util
import os

_INSTALL = "pip install visionlite[distributed]"

# Environment variables an MPI launcher sets in every process it starts (MPICH/Hydra, Open MPI, Slurm's PMI).
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")


def available():
    """True when ``mpi4py`` is installed (checked without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


def mpi():
    """``mpi4py.MPI``, initialising MPI on first call; a clear ImportError when the extra is missing."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"visionlite.distributed needs mpi4py and an MPI library: {_INSTALL} "
                          f"(mpi4py + the mpich wheel, which brings mpiexec); import failed: {e}") from None
    return MPI


def launched_world_size():
    """The number of processes an MPI launcher (``mpiexec -n N``) started, read from its environment
    without importing MPI; 1 for a plain ``python`` run."""
    for var in _SIZE_VARS:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 1


def launched_rank():
    """This process's rank as the MPI launcher's environment says (0 for a plain run)."""
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 0
