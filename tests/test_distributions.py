"""visionlite.distributions against torch.distributions: log_prob, entropy, cdf, moments, KL on the
same parameters (values and gradients), rsample's reparameterization gradient, and sample statistics
(PyTorch's random stream is not reproduced)."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")
TD = torch.distributions
VD = vl.distributions
rng = np.random.default_rng(0)
X = rng.normal(size=(3, 4)).astype(np.float32)
BITS = (rng.random((3, 4)) > 0.5).astype(np.float32)
CLS = np.array([0, 2, 3], dtype=np.int64)


def _both(fn):
    return (lambda *a: fn(TD, torch, *a)), (lambda *a: fn(VD, vl, *a))


# each: (input shapes, low, high, fn(D, lib, *params)) ; the same body runs on torch and visionlite
CASES = {
    "normal_log_prob": ([(3, 4), (3, 4)], lambda D, L, m, s: D.Normal(m, s.abs() + 0.1).log_prob(
        L.tensor(X))),
    "normal_entropy": ([(4,)], lambda D, L, s: D.Normal(0.0, s.abs() + 0.1).entropy()),
    "normal_cdf": ([(3, 4)], lambda D, L, m: D.Normal(m, 2.0).cdf(L.tensor(X))),
    "normal_moments": ([(3, 4), (3, 4)], lambda D, L, m, s: (lambda d: d.mean + d.variance + d.stddev)(
        D.Normal(m, s.abs() + 0.1))),
    "normal_kl": ([(3, 4), (3, 4), (4,)], lambda D, L, m, s, t: D.kl_divergence(
        D.Normal(m, s.abs() + 0.1), D.Normal(t, 1.5))),
    "independent_normal": ([(3, 4), (3, 4)], lambda D, L, m, s: D.Independent(
        D.Normal(m, s.abs() + 0.1), 1).log_prob(L.tensor(X))),
    "independent_kl": ([(3, 4)], lambda D, L, m: D.kl_divergence(
        D.Independent(D.Normal(m, 1.0), 1), D.Independent(D.Normal(m * 0.5, 2.0), 1))),
    "uniform_log_prob": ([(3, 4)], lambda D, L, h: D.Uniform(-3.0, h.abs() + 3.0).log_prob(L.tensor(X))),
    "uniform_entropy_moments": ([(4,)], lambda D, L, h: (
        lambda d: d.entropy() + d.mean + d.variance + d.stddev)(D.Uniform(h - 1, h.abs() + 1))),
    "uniform_kl": ([(4,)], lambda D, L, h: D.kl_divergence(D.Uniform(h - 1, h + 1), D.Uniform(h - 2, h + 2))),
    "bernoulli_logits": ([(3, 4)], lambda D, L, z: D.Bernoulli(logits=z).log_prob(L.tensor(BITS))),
    "bernoulli_probs": ([(3, 4)], lambda D, L, z: D.Bernoulli(probs=z.sigmoid()).log_prob(L.tensor(BITS))),
    "bernoulli_entropy": ([(3, 4)], lambda D, L, z: D.Bernoulli(logits=z).entropy()),
    "bernoulli_kl": ([(4,), (4,)], lambda D, L, a, b: D.kl_divergence(D.Bernoulli(logits=a),
                                                                      D.Bernoulli(logits=b))),
    "categorical_logits": ([(3, 5)], lambda D, L, z: D.Categorical(logits=z).log_prob(L.tensor(CLS))),
    "categorical_probs": ([(3, 5)], lambda D, L, z: D.Categorical(probs=z.abs() + 0.1).log_prob(
        L.tensor(CLS))),
    "categorical_broadcast": ([(5,)], lambda D, L, z: D.Categorical(logits=z).log_prob(L.tensor(CLS))),
    "categorical_entropy": ([(3, 5)], lambda D, L, z: D.Categorical(logits=z).entropy()),
    "categorical_kl": ([(3, 5), (3, 5)], lambda D, L, a, b: D.kl_divergence(
        D.Categorical(logits=a), D.Categorical(probs=b.abs() + 0.1))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name):
    shapes, fn = CASES[name]
    t_fn, v_fn = _both(fn)
    helper_test_op(shapes, t_fn, v_fn)
    gen = np.random.default_rng(3)
    gradcheck(v_fn, [gen.uniform(0.2, 1.5, s) for s in shapes])


def test_rsample_reparameterization_and_statistics():
    vl.manual_seed(0)
    loc = vl.tensor([0.5, -1.0], requires_grad=True)
    scale = vl.tensor([2.0, 0.5], requires_grad=True)
    d = VD.Normal(loc, scale)
    z = d.rsample((20000,))
    assert tuple(z.shape) == (20000, 2) and d.has_rsample
    z.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [20000, 20000])
    eps = (z.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-4)
    np.testing.assert_allclose(z.detach().mean(0).numpy(), [0.5, -1.0], atol=0.05)
    np.testing.assert_allclose(z.detach().std(0).numpy(), [2.0, 0.5], rtol=0.03)
    assert d.sample().requires_grad is False
    u = VD.Uniform(vl.tensor([0.0]), vl.tensor([4.0])).sample((10000,))
    assert float(u.min()) >= 0 and float(u.max()) < 4 and abs(float(u.mean()) - 2) < 0.1


def test_discrete_sampling():
    vl.manual_seed(0)
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], np.float32)
    s = VD.Categorical(probs=vl.tensor(p)).sample((4000,))
    assert tuple(s.shape) == (4000, 2) and s.dtype == vl.int64
    freq = np.stack([np.bincount(s.numpy()[:, i], minlength=3) / 4000 for i in range(2)])
    np.testing.assert_allclose(freq, p, atol=0.03)
    b = VD.Bernoulli(probs=vl.tensor([0.2, 0.9])).sample((4000,))
    np.testing.assert_allclose(b.numpy().mean(0), [0.2, 0.9], atol=0.03)
    assert tuple(VD.Bernoulli(logits=vl.zeros(3)).sample((2,)).shape) == (2, 3)


def test_shapes_and_errors():
    d = VD.Independent(VD.Normal(vl.zeros(5, 3), vl.ones(5, 3)), 1)
    t = TD.Independent(TD.Normal(torch.zeros(5, 3), torch.ones(5, 3)), 1)
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    c, tc = VD.Categorical(logits=vl.zeros(2, 4)), TD.Categorical(logits=torch.zeros(2, 4))
    assert tuple(c.batch_shape) == tuple(tc.batch_shape) and tuple(c.sample((3,)).shape) == (3, 2)
    with pytest.raises(ValueError, match="Expected parameter scale"):
        VD.Normal(vl.zeros(2), vl.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        VD.Bernoulli()
    with pytest.raises(ValueError, match="within the support"):
        VD.Bernoulli(probs=vl.tensor([0.5])).log_prob(vl.tensor([0.5]))
    assert VD.Normal(vl.zeros(2), vl.tensor([1.0, -1.0]), validate_args=False) is not None
