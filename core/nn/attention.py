"""``visionlite.nn.attention``, as ``torch.nn.attention``: ``SDPBackend`` and the ``sdpa_kernel`` context
manager that picks attention kernels. visionlite has one implementation of
``F.scaled_dot_product_attention`` (the math one), so the choice is recorded and restored, and changes
no result."""
import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The attention kernels PyTorch can choose between."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_FLAGS = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
          SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.CUDNN_ATTENTION: "cudnn"}


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Within the block, allow only ``backends`` (one ``SDPBackend`` or a list of them)."""
    from ...backends import cuda

    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    if not all(isinstance(b, SDPBackend) for b in chosen):
        raise TypeError("sdpa_kernel: backends must be an SDPBackend or a list of SDPBackend")
    old = dict(cuda._sdp)
    for backend, flag in _FLAGS.items():
        cuda._sdp[flag] = backend in chosen
    try:
        yield
    finally:
        cuda._sdp.update(old)
