"""``visionlite.distributions``, as ``torch.distributions``: ``Normal``, ``Uniform``, ``Bernoulli``,
``Categorical`` and ``Independent`` with ``sample``/``rsample``/``log_prob``/``entropy``, and
``kl_divergence`` between members of one family."""
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "Uniform", "kl_divergence",
           "register_kl"]
