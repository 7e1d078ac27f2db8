"""``Uniform(low, high)`` on ``[low, high)``, reparameterized (``rsample`` = low + (high - low) * u)."""
from .. import creation
from .distribution import Distribution, broadcast


class Uniform(Distribution):
    arg_names = ("low", "high")
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast(low, high)
        super().__init__(tuple(self.low.shape), (), validate_args)
        self._check_param("low", self.low, self.low < self.high, "LessThan(upper_bound=high)")

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    def rsample(self, sample_shape=()):
        u = creation.rand(*self._extended_shape(sample_shape), dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low
