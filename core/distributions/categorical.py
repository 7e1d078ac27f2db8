"""``Categorical(probs=... | logits=...)``: one of K classes per batch entry (the last dim of the
parameters); logits are kept normalised (``logsumexp = 0``), probabilities sum to one."""
import numpy as np

from .. import creation
from .distribution import Distribution, as_tensor


class Categorical(Distribution):
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = as_tensor(probs)
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.arg_names = ("probs",)
            param = self.probs
        else:
            logits = as_tensor(logits)
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.arg_names = ("logits",)
            param = self.logits
        self._num_events = param.shape[-1]
        super().__init__(tuple(param.shape[:-1]), (), validate_args)
        if probs is not None:
            self._check_param("probs", probs, (probs >= 0).all(-1) & (probs.sum(-1) > 0), "Simplex()")

    def __getattr__(self, name):
        if name == "logits":
            p = self.__dict__["probs"]
            eps = float(np.finfo(p._data.dtype).eps)
            self.logits = p.clamp(eps, 1 - eps).log()
            return self.logits
        if name == "probs":
            self.probs = self.__dict__["logits"].softmax(-1)
            return self.probs
        raise AttributeError(name)

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self):
        return creation.full(tuple(self.batch_shape), float("nan"), dtype=self.probs.dtype)

    @property
    def variance(self):
        return self.mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        """Class indices (int64) of shape ``sample_shape + batch_shape``."""
        p = self.probs.detach().reshape(-1, self._num_events)
        n = int(np.prod(sample_shape)) if len(sample_shape) else 1
        from ..creation import multinomial

        draws = multinomial(p, n, replacement=True)  # (batch, n)
        return draws.t().reshape(*self._extended_shape(sample_shape))

    def log_prob(self, value):
        value = as_tensor(value).long()
        if self._validate_args:
            self._check_value(value, (value >= 0) & (value < self._num_events),
                              f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})")
        value = value.unsqueeze(-1)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape[:-1]) + (1,))
        logits = self.logits.expand(*(shape[:-1] + (self._num_events,)))
        return logits.gather(-1, value.expand(*shape)).squeeze(-1)

    def entropy(self):
        lo = float(np.finfo(self.logits._data.dtype).min)
        return -(self.logits.clamp(min=lo) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = creation.arange(self._num_events).reshape(-1, *([1] * len(self.batch_shape)))
        return values.expand(-1, *self.batch_shape) if expand else values
