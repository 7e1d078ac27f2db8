"""Flatten parameters into one vector and back (for second-order methods and the like)."""
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(t, device):
    if t.device != device:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported "
                        f"({device} and {t.device})")


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable)."""
    from ...ops import cat

    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    device = params[0].device
    for p in params:
        _check_same_device(p, device)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (replacing their data)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a visionlite Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec must be 1-D with {total} elements (the parameters' "
                         "total), "
                         f"got shape {list(vec.shape)}")
    offset = 0
    for p in params:
        _check_same_device(p, vec.device)
        n = p.numel()
        p.data = vec[offset:offset + n].detach().reshape(p.shape).to(p.dtype)
        offset += n
