"""``max_unpool1d/2d/3d`` (the partial inverse of max pooling: each value back at the position its index
names, zeros elsewhere) and ``lp_pool1d/2d/3d`` (power-average pooling, ``(sum x^p)^(1/p)`` per window), as
in ``torch.nn.functional``; composites of scatter and average pooling."""
from ... import creation
from ...ops import elementwise as ew
from .pooling import avg_pool1d, avg_pool2d
from .pooling3d import avg_pool3d

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _tuple(x, n):
    return (x,) * n if isinstance(x, int) else tuple(x)


def _unpool(input, indices, kernel_size, stride, padding, output_size, n, name):
    k = _tuple(kernel_size, n)
    s = k if stride is None else _tuple(stride, n)
    p = _tuple(padding, n)
    spatial = tuple(input.shape[-n:])
    if output_size is None:
        size = tuple((i - 1) * st - 2 * pd + kk for i, st, pd, kk in zip(spatial, s, p, k))
    else:
        size = tuple(output_size)[-n:]
        if len(size) != n:
            raise ValueError(f"{name}: output_size must have {n} or {n + 2} elements, got "
                             f"{list(output_size)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{name}: Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    lead = tuple(input.shape[:-n])
    plane = 1
    for d in size:
        plane *= d
    flat_in = input.reshape(*lead, -1)
    flat_idx = indices.reshape(*lead, -1)
    if flat_idx.numel() and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= plane):
        raise RuntimeError(f"{name}: Found an invalid max index: {int(flat_idx.max())} (output volumes are "
                           f"of size {'x'.join(map(str, size))})")
    out = creation.zeros(*lead, plane, dtype=input.dtype, device=input.device)
    return out.scatter(-1, flat_idx, flat_in).reshape(*lead, *size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``(N, C, L_in)`` values and their ``max_pool1d`` indices -> ``(N, C, L_out)``."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``(N, C, H_in, W_in)`` values and their ``max_pool2d`` indices -> ``(N, C, H_out, W_out)``."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``(N, C, T_in, H_in, W_in)`` values and their ``max_pool3d`` indices ->
    ``(N, C, T_out, H_out, W_out)``."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def _lp_finish(out, window, norm_type):
    return (ew.sign(out) * ew.relu(ew.abs(out)) * window) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each window of x^p)^(1/p)`` along the last dim of ``(N, C, L)``."""
    step = stride if stride is not None else kernel_size
    out = avg_pool1d(input ** norm_type, kernel_size, step, 0, ceil_mode)
    return _lp_finish(out, kernel_size if isinstance(kernel_size, int) else kernel_size[0], norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each window of x^p)^(1/p)`` over ``(N, C, H, W)``."""
    kh, kw = _tuple(kernel_size, 2)
    step = stride if stride is not None else kernel_size
    out = avg_pool2d(input ** norm_type, kernel_size, step, 0, ceil_mode)
    return _lp_finish(out, kh * kw, norm_type)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each window of x^p)^(1/p)`` over ``(N, C, T, H, W)``."""
    kt, kh, kw = _tuple(kernel_size, 3)
    step = stride if stride is not None else kernel_size
    out = avg_pool3d(input ** norm_type, kernel_size, step, 0, ceil_mode)
    return _lp_finish(out, kt * kh * kw, norm_type)
