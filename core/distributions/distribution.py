"""The ``Distribution`` base: shapes, sampling without gradient, and parameter checks with PyTorch's
error message for invalid parameters and out-of-support values."""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor


def as_tensor(x, like=None):
    """Numbers become tensors of the default float dtype (or of ``like``'s dtype and device)."""
    if isinstance(x, Tensor):
        return x
    from ..creation import tensor

    if like is None:
        return tensor(float(x))
    return tensor(x, dtype=like.dtype, device=like.device)


def broadcast(*params):
    """Tensors (numbers become tensors of the first tensor's dtype) broadcast to one shape."""
    first = next((p for p in params if isinstance(p, Tensor)), None)
    ts = [as_tensor(p, first) for p in params]
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in ts])
    return [t.expand(*shape) if tuple(t.shape) != shape else t for t in ts]


class Distribution:
    """``batch_shape`` independent distributions, each over values of ``event_shape``."""

    has_rsample = False
    has_enumerate_support = False
    _validate_default = True

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        from ..tensor import Size

        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        self._validate_args = self._validate_default if validate_args is None else validate_args

    @staticmethod
    def set_default_validate_args(value):
        Distribution._validate_default = bool(value)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape=()):
        """A sample of shape ``sample_shape + batch_shape + event_shape``, cut from the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def sample_n(self, n):
        return self.sample((n,))

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} does not support reparameterized sampling "
                                  "(rsample); use sample()")

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _check_param(self, name, value, ok, constraint):
        if self._validate_args and not bool(ok.all()):
            raise ValueError(f"Expected parameter {name} ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                             f"{constraint}, but found invalid values:\n{value}")

    def _check_value(self, value, ok, support):
        if self._validate_args and not bool(ok.all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support}) of the "
                             f"distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        names = [n for n in getattr(self, "arg_names", ()) if n in self.__dict__]
        shown = [(n, self.__dict__[n]) for n in names]
        body = ", ".join(f"{n}: {v if v.numel() == 1 else tuple(v.shape)}" for n, v in shown)
        return f"{type(self).__name__}({body})"
