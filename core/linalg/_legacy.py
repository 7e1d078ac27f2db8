"""The older top-level spellings (``torch.det``, ``torch.inverse``, ``torch.svd``, ...) and their Tensor
methods, each expressed through ``linalg`` with PyTorch's argument conventions."""

from . import det, inv, pinv, slogdet
from . import svd as _svd

__all__ = ["det", "inverse", "logdet", "slogdet", "pinverse", "cholesky", "svd", "qr"]


def inverse(input):
    """``torch.inverse``: same as ``linalg.inv``."""
    return inv(input)


def logdet(input):
    """``log(det(A))``: nan where the determinant is negative, -inf where it is zero."""
    from ..ops import elementwise as ew
    return ew.log(det(input))


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: ``linalg.pinv`` with ``rcond`` as the relative tolerance."""
    return pinv(input, rtol=rcond)


def cholesky(input, upper=False):
    """Removed from PyTorch: raises its message pointing at ``linalg.cholesky``."""
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed. `torch.cholesky` "
                       "is deprecated in favor of `torch.linalg.cholesky`; use visionlite.linalg.cholesky(A) "
                       "(or visionlite.linalg.cholesky(A, upper=True)).")


def svd(input, some=True, compute_uv=True):
    """``torch.svd``: ``(U, S, V)`` with V, not Vh; reduced unless ``some=False``."""
    u, s, vh = _svd(input, full_matrices=not some)
    if not compute_uv:
        return _SVD(u.detach() * 0, s, vh.mT.detach() * 0)
    return _SVD(u, s, vh.mT)


def qr(input, some=True):
    """Removed from PyTorch: raises its message pointing at ``linalg.qr``."""
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed. `torch.qr` is "
                       "deprecated in favor of `torch.linalg.qr` and the boolean parameter `some` has been "
                       "replaced with a string parameter `mode`; use "
                       "visionlite.linalg.qr(A, mode='reduced').")


from . import _result  # noqa: E402

_SVD = _result("svd", ("U", "S", "V"))
