"""``visionlite.backends.cudnn``: cuDNN switches as settable module attributes, kept only for
compatibility. visionlite does not use cuDNN, so none of them changes a result or the speed."""

import contextlib

enabled = True  # no-op: there is no cuDNN path to disable
benchmark = False  # no-op: convolutions have no algorithm autotuner
deterministic = False  # no-op: CPU results are deterministic already
allow_tf32 = True  # no-op: no TF32 arithmetic is used
benchmark_limit = 10  # no-op


def is_available():
    """False: visionlite never calls cuDNN."""
    return False


def version():
    """None, as PyTorch reports when cuDNN is not available."""
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, deterministic=False, allow_tf32=True):
    """Set the (no-op) flags inside a ``with`` block and restore them afterwards."""
    g = globals()
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    old = {n: g[n] for n in names}
    g.update(zip(names, (enabled, benchmark, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(old)
