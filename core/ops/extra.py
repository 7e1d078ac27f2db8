"""Small composite ops built from the primitives (their gradients come for free)."""


from ..amp_state import autocast_op
from ..backend import array_module
from ..tensor import Tensor
from . import elementwise as ew
from .indexing import scatter


def lerp(start, end, weight):
    """``start + weight * (end - start)``."""
    return start + (end - start) * weight


@autocast_op("addcmul")
def addcmul(a, t1, t2, value=1):
    """``a + value * t1 * t2`` elementwise with broadcasting."""
    return a + t1 * t2 * value


@autocast_op("addcdiv")
def addcdiv(a, t1, t2, value=1):
    """``a + value * t1 / t2`` elementwise with broadcasting."""
    return a + t1 / t2 * value


def clip(a, min=None, max=None):
    """``a`` clamped to ``[min, max]`` (either bound may be None; alias of ``clamp``)."""
    return ew.clamp(a, min, max)


def diagonal(a, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, moved to the last dim: a view of ``a``."""
    from .strided import diagonal as strided_diagonal

    return strided_diagonal(a, offset, dim1, dim2)


def index_fill(a, dim, index, value):
    """``a`` with ``value`` in the slices at the 1-D ``index`` along ``dim`` (negative indices count from
    the end, as in PyTorch's index_fill)."""
    n = a.shape[dim] if a.ndim else 1
    idx = index._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"index_fill(): index {lo if lo < -n else hi} is out of bounds for dimension "
                             f"{dim} with size {n}")
        if lo < 0:
            index = Tensor._wrap(idx % n)
    idx_shape = [1] * a.ndim
    idx_shape[dim] = index.numel()
    full_index = index.reshape(*idx_shape).expand(
        *[index.numel() if i == dim else s for i, s in enumerate(a.shape)]
    )
    return scatter(a, dim, full_index, value=value)


def _tri(a, diagonal, upper):
    xp = array_module(a._data)
    n, m = a.shape[-2], a.shape[-1]
    mask = (
        xp.triu(xp.ones((n, m), dtype=bool), diagonal)
        if upper
        else xp.tril(xp.ones((n, m), dtype=bool), diagonal)
    )
    return ew.where(Tensor._wrap(mask), a, Tensor._wrap(xp.zeros((), dtype=a._data.dtype)))


def tril(a, diagonal=0):
    """The lower triangle of the last two dims (on and below diagonal ``diagonal``), zeros above."""
    return _tri(a, diagonal, False)


def triu(a, diagonal=0):
    """The upper triangle of the last two dims (on and above diagonal ``diagonal``), zeros below."""
    return _tri(a, diagonal, True)
