"""Dropout, as in ``torch.nn.functional``: zero elements (or whole channels) with probability ``p`` in
training and scale the survivors by ``1 / (1 - p)``; identity in eval. Masks come from visionlite's
seedable generator (``visionlite.manual_seed``)."""
import warnings

from ...backend import array_module
from ...random import random_array
from ...tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input, mask_shape, p, inplace):
    """input * keep_mask / (1 - p), the mask drawn at ``mask_shape`` (broadcast over the rest)."""
    x = input._data
    if p == 1.0:
        mask = array_module(x).zeros(mask_shape, dtype=x.dtype)
    else:
        keep = random_array("uniform", mask_shape, x.dtype, input.device) >= p
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    mask = Tensor._wrap(mask)
    out = input * mask
    if inplace:
        input._check_inplace()
        return input._assign(out)
    return out


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` (training only). Shape ``(*)`` -> ``(*)``."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _masked(input, input.shape, p, inplace)


def _channel_dropout(input, p, training, inplace, spatial_dims, name):
    _check_p(p)
    batched = spatial_dims + 2
    if input.ndim not in (batched - 1, batched):
        raise RuntimeError(f"{name}: Expected {batched - 1}D or {batched}D input, but received a "
                           f"{input.ndim}D "
                           f"input of shape {list(input.shape)}")
    if not training or p == 0.0:
        return input
    lead = 2 if input.ndim == batched else 1
    mask_shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _masked(input, mask_shape, p, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` input with probability ``p``."""
    return _channel_dropout(input, p, training, inplace, 1, "dropout1d")


def _deprecated_rank(name, ndim, spatial):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an "
                  "error in a future release. To retain the behavior and silence this warning, please use "
                  f"dropout instead. Note that {name} exists to provide channel-wise dropout on inputs with "
                  f"{spatial} spatial dimensions, a channel dimension, and an optional batch dimension (i.e. "
                  f"{spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def _feature_dropout(input, p, training, inplace, lead):
    """Zero slices ``input[i0, .., i_{lead-1}]`` whole: the mask varies over the first ``lead`` dims only."""
    if input.ndim - (2 - lead) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    mask_shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _masked(input, mask_shape, p, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` input with probability ``p``. As in PyTorch, a 3-D input is
    read as ``(N, C, L)`` and other ranks ``(N, C, *)``, each with PyTorch's warning."""
    _check_p(p)
    if input.ndim not in (3, 4):
        _deprecated_rank("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. This behavior will change in a future release to interpret the input as one "
                      "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with probability ``p``; other
    ranks are read as unbatched ``(C, *)``, with PyTorch's warning."""
    _check_p(p)
    if input.ndim not in (4, 5):
        _deprecated_rank("dropout3d", input.ndim, 3)
    return _feature_dropout(input, p, training, inplace, 2 if input.ndim == 5 else 1)


_SELU_NEG = 1.7580993408473766  # SELU's negative saturation value, scale * alpha


def _alpha(input, mask_shape, p, inplace):
    """SELU-preserving dropout: dropped values go to SELU's saturation, then an affine map ``a x + b``
    restores zero mean and unit variance (Klambauer et al., 2017)."""
    x = input._data
    if p == 1.0:
        out = input * Tensor._wrap(array_module(x).zeros((), dtype=x.dtype))
    else:
        keep = (random_array("uniform", mask_shape, x.dtype, input.device) >= p).astype(x.dtype)
        a = 1.0 / ((_SELU_NEG ** 2 * p + 1) * (1 - p)) ** 0.5
        shift = (keep - 1) * (_SELU_NEG * a) + _SELU_NEG * a * p
        out = input * Tensor._wrap(keep * x.dtype.type(a)) + Tensor._wrap(shift.astype(x.dtype))
    if inplace:
        input._check_inplace()
        return input._assign(out)
    return out


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout for SELU networks (training only); shape ``(*)`` -> ``(*)``."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _alpha(input, input.shape, p, inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of ``(N, C, *)`` input."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _alpha(input, tuple(input.shape[:2]) + (1,) * (input.ndim - 2), p, inplace)
