"""``kl_divergence(p, q)`` in closed form for pairs of the same family, and ``register_kl`` to add
more (looked up by the most specific registered pair of classes)."""
from ..ops import activation as act
from ..ops import elementwise as ew
from .bernoulli import Bernoulli
from .categorical import Categorical
from .independent import Independent
from .normal import Normal
from .uniform import Uniform

_KL = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as the KL divergence of ``type_p`` from ``type_q``."""
    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return deco


def kl_divergence(p, q):
    """``KL(p || q)``, batch-shaped."""
    matches = [(tp, tq) for tp, tq in _KL if isinstance(p, tp) and isinstance(q, tq)]
    if not matches:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__}, q = "
                                  f"{type(q).__name__}; register one with @register_kl")
    best = min(matches, key=lambda m: (type(p).__mro__.index(m[0]), type(q).__mro__.index(m[1])))
    return _KL[best](p, q)


@register_kl(Normal, Normal)
def _kl_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli(p, q):
    t1 = p.probs * (act.softplus(-q.logits) - act.softplus(-p.logits))
    t1 = ew.where(q.probs == 0, float("inf"), t1)
    t1 = ew.where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (act.softplus(q.logits) - act.softplus(p.logits))
    t2 = ew.where(q.probs == 1, float("inf"), t2)
    t2 = ew.where(p.probs == 1, 0.0, t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = ew.where((q.probs == 0).expand(*t.shape), float("inf"), t)
    t = ew.where((p.probs == 0).expand(*t.shape), 0.0, t)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform(p, q):
    out = ((q.high - q.low) / (p.high - p.low)).log()
    return ew.where((q.low > p.low) | (q.high < p.high), float("inf"), out)


@register_kl(Independent, Independent)
def _kl_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    return p._sum_rightmost(kl_divergence(p.base_dist, q.base_dist))
