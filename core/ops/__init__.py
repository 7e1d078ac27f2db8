"""All tensor operations, grouped by kind; re-exported flat for ``visionlite.<op>``."""
from .elementwise import (  # noqa: F401
    abs, add, allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, ceil, clamp, cos, div, eq, equal, erf,
    exp, expm1, floor, ge, gelu, gt, isclose, isfinite, isinf, isnan, le, log, log1p, log2, log10, logical_and,
    logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne, neg, pow, reciprocal, relu, remainder,
    round, rsqrt, sigmoid, sign, silu, sin, sqrt, square, sub, tanh, trunc, where,
)
from .indexing import (  # noqa: F401
    argsort, argwhere, gather, getitem, index_select, masked_fill, masked_select, nonzero, one_hot, scatter,
    scatter_add, setitem, sort, take_along_dim, topk,
)
from .matmul import addmm, baddbmm, bmm, dot, einsum, matmul, mm, mv, outer  # noqa: F401
from .movement import (  # noqa: F401
    broadcast_tensors, broadcast_to, cat, chunk, clone, concat, concatenate, contiguous, expand, flatten, flip,
    fliplr, flipud, hstack, movedim, narrow, pad, permute, repeat, reshape, roll, split, squeeze, stack,
    swapaxes, t, tile, transpose, unbind, unflatten, unsqueeze, view, vstack,
)
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, count_nonzero, cumprod, cumsum, log_softmax, logsumexp, max, mean,
    min, norm, prod, softmax, std, std_mean, sum, var, var_mean,
)
from .extra import addcdiv, addcmul, clip, diagonal, lerp, index_fill, tril, triu  # noqa: F401
