"""``Bernoulli(probs=... | logits=...)``: 0/1 outcomes; ``log_prob`` and ``entropy`` through the
numerically stable binary cross-entropy with logits, as PyTorch."""
import numpy as np

from .. import creation
from ..nn.functional import binary_cross_entropy_with_logits as _bce_logits
from .distribution import Distribution, as_tensor, broadcast


def _clamp_probs(p):
    eps = float(np.finfo(p._data.dtype).eps)
    return p.clamp(eps, 1 - eps)


class Bernoulli(Distribution):
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = as_tensor(probs)
            self.arg_names = ("probs",)
            shape = tuple(self.probs.shape)
        else:
            self.logits = as_tensor(logits)
            self.arg_names = ("logits",)
            shape = tuple(self.logits.shape)
        super().__init__(shape, (), validate_args)
        if probs is not None:
            self._check_param("probs", self.probs, (self.probs >= 0) & (self.probs <= 1),
                              "Interval(lower_bound=0.0, upper_bound=1.0)")

    def __getattr__(self, name):  # the other parametrisation, derived on first use
        if name == "logits":
            p = _clamp_probs(self.__dict__["probs"])
            self.logits = p.log() - (-p).log1p()
            return self.logits
        if name == "probs":
            self.probs = self.__dict__["logits"].sigmoid()
            return self.probs
        raise AttributeError(name)

    @property
    def param_shape(self):
        return self.batch_shape

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype).masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        p = self.probs.detach()
        u = creation.rand(*self._extended_shape(sample_shape), dtype=p.dtype, device=p.device)
        return (u < p).to(p.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._check_value(value, (value == 0) | (value == 1), "Boolean()")
        logits, value = broadcast(self.logits, value)
        return -_bce_logits(logits, value, reduction="none")

    def entropy(self):
        return _bce_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = creation.tensor([0.0, 1.0], dtype=self.probs.dtype)
        values = values.reshape(2, *([1] * len(self.batch_shape)))
        return values.expand(2, *self.batch_shape) if expand else values
