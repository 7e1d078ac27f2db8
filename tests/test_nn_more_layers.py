"""RMSNorm, Softmax2d, AlphaDropout/FeatureAlphaDropout, RReLU and EmbeddingBag against PyTorch; the
random layers through their defining properties (PyTorch's random stream is not reproduced)."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require

torch = require("torch")
TF = torch.nn.functional
VF = vl.nn.functional


def _sync(vm, tm):
    vm.load_state_dict({k: vl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


# ------------------------------------------------------------------------------ RMSNorm, Softmax2d
@pytest.mark.parametrize("shape,ns,eps", [((2, 3, 4), (4,), None), ((2, 3, 4), (3, 4), 1e-3),
                                          ((5,), (5,), 0.1)])
def test_rms_norm(shape, ns, eps):
    wshape = ns
    helper_test_op([shape, wshape], lambda x, w: TF.rms_norm(x, ns, w, eps),
                   lambda x, w: VF.rms_norm(x, ns, w, eps))
    helper_test_op([shape], lambda x: TF.rms_norm(x, ns, eps=eps), lambda x: VF.rms_norm(x, ns, eps=eps))
    gradcheck(lambda x, w: VF.rms_norm(x, ns, w, eps), [np.random.default_rng(0).uniform(-1, 1, shape),
                                                       np.random.default_rng(1).uniform(0.5, 1.5, wshape)])


def test_rms_norm_module():
    tm, vm = torch.nn.RMSNorm([3, 4], eps=1e-4), vl.nn.RMSNorm([3, 4], eps=1e-4)
    assert repr(vm) == repr(tm) and list(vm.state_dict()) == list(tm.state_dict())
    no_affine = vl.nn.RMSNorm(4, elementwise_affine=False)
    assert repr(no_affine) == repr(torch.nn.RMSNorm(4, elementwise_affine=False)) and no_affine.weight is None
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    ours, ref = vm(vl.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5)


def test_softmax2d():
    helper_test_op([(2, 3, 4, 5)], lambda x: torch.nn.Softmax2d()(x), lambda x: vl.nn.Softmax2d()(x))
    helper_test_op([(3, 4, 5)], lambda x: torch.nn.Softmax2d()(x), lambda x: vl.nn.Softmax2d()(x))
    with pytest.raises(ValueError):
        vl.nn.Softmax2d()(vl.ones(3, 4))


# ------------------------------------------------------------------------------ alpha dropout, rrelu
@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_values_and_grad(feature):
    p, alpha = 0.3, 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * p + 1) * (1 - p))
    vl.manual_seed(0)
    x = vl.tensor(np.random.default_rng(0).normal(size=(40, 30, 3, 3)).astype(np.float32), requires_grad=True)
    fn = VF.feature_alpha_dropout if feature else VF.alpha_dropout
    y = fn(x, p, training=True)
    y.sum().backward()
    kept = x.grad.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy()[kept], a, rtol=1e-6)
    xv, yv = x.detach().numpy(), y.detach().numpy()
    np.testing.assert_allclose(yv[kept], xv[kept] * a + alpha * a * p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yv[~kept], -alpha * a + alpha * a * p, rtol=1e-5)
    assert abs((~kept).mean() - p) < 0.05
    if feature:  # whole channels share the decision
        assert np.all(kept.reshape(40, 30, 9).all(-1) == kept.reshape(40, 30, 9).any(-1))
    # SELU statistics survive: standard normal in, about standard normal out
    z = fn(vl.randn(2000, 100), 0.2, training=True)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02
    assert fn(x, p, training=False) is x
    t_ref = (torch.nn.FeatureAlphaDropout if feature else torch.nn.AlphaDropout)(0.2)
    assert repr((vl.nn.FeatureAlphaDropout if feature else vl.nn.AlphaDropout)(0.2)) == repr(t_ref)


def test_rrelu():
    helper_test_op([(3, 4)], lambda x: TF.rrelu(x, 0.1, 0.3), lambda x: VF.rrelu(x, 0.1, 0.3))
    helper_test_op([(3, 4)], lambda x: torch.nn.RReLU().eval()(x), lambda x: vl.nn.RReLU().eval()(x))
    assert repr(vl.nn.RReLU(0.1, 0.2, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.2, inplace=True))
    x = vl.tensor(np.linspace(-2, 2, 1000).astype(np.float32), requires_grad=True)
    y = VF.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    xv, yv, g = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    neg = xv < 0
    slope = yv[neg] / xv[neg]
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    np.testing.assert_allclose(g[neg], slope, rtol=1e-5)
    np.testing.assert_array_equal(yv[~neg], xv[~neg])
    np.testing.assert_array_equal(g[~neg], 1)


# ------------------------------------------------------------------------------ EmbeddingBag
IDX_2D = np.array([[1, 2, 4, 5], [4, 3, 2, 9], [0, 0, 0, 0]], dtype=np.int64)
IDX_1D = np.array([1, 2, 4, 5, 4, 3, 2, 9, 7], dtype=np.int64)
OFFSETS = np.array([0, 2, 2, 5], dtype=np.int64)  # the second bag is empty


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("layout", ["2d", "offsets", "last_offset"])
def test_embedding_bag(mode, padding_idx, layout):
    if layout == "2d":
        idx, off, last = IDX_2D, None, False
    else:
        idx, last = IDX_1D, layout == "last_offset"
        off = np.append(OFFSETS, IDX_1D.size) if last else OFFSETS
    W = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)

    def run(F, lib):
        o = None if off is None else lib.tensor(off)
        return lambda w: F.embedding_bag(lib.tensor(idx), w, o, mode=mode, padding_idx=padding_idx,
                                         include_last_offset=last)

    helper_test_op([], run(TF, torch), run(VF, vl), inputs=[W])
    gradcheck(run(VF, vl), [W.astype(np.float64)])


def test_embedding_bag_per_sample_weights_and_module():
    W = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    psw = np.random.default_rng(1).uniform(0.5, 2, IDX_1D.size).astype(np.float32)
    helper_test_op([], lambda w, s: TF.embedding_bag(torch.tensor(IDX_1D), w, torch.tensor(OFFSETS),
                                                     mode="sum", per_sample_weights=s),
                   lambda w, s: VF.embedding_bag(vl.tensor(IDX_1D), w, vl.tensor(OFFSETS), mode="sum",
                                                 per_sample_weights=s), inputs=[W, psw])
    tm = torch.nn.EmbeddingBag(10, 3, mode="max", padding_idx=0)
    vm = vl.nn.EmbeddingBag(10, 3, mode="max", padding_idx=0)
    assert repr(vm) == repr(tm)
    assert float(vm.weight[0].abs().sum()) == 0
    _sync(vm, tm)
    ours, ref = vm(vl.tensor(IDX_2D)), tm(torch.tensor(IDX_2D))
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy())
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        VF.embedding_bag(vl.tensor(IDX_2D), vl.tensor(W), per_sample_weights=vl.ones(3, 4))
    pre = vl.nn.EmbeddingBag.from_pretrained(vl.tensor(W), mode="sum")
    assert not pre.weight.requires_grad and tuple(pre(vl.tensor(IDX_2D)).shape) == (3, 3)


def test_grad_fn_names_as_torch():
    def names(L):
        F = L.nn.functional
        x, w = L.ones(2, 3, 4, requires_grad=True), L.ones(3, requires_grad=True)
        table = L.ones(3, 2, requires_grad=True)
        return [F.prelu(x, w).grad_fn.name(), F.instance_norm(x).grad_fn.name(),
                F.embedding_bag(L.tensor([[0, 1]]), table).grad_fn.name(),
                F.embedding_bag(L.tensor([[0, 1]]), table, mode="max").grad_fn.name(),
                L.linalg.solve(L.eye(3, requires_grad=True), L.ones(3)).grad_fn.name()]

    assert names(vl) == names(torch)


# ----------------------------------------------------------------------------- pdist, channel_shuffle, gumbel
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_pdist(p):
    helper_test_op([(5, 3)], lambda x: TF.pdist(x, p), lambda x: VF.pdist(x, p))
    gradcheck(lambda x: VF.pdist(x, p), [np.random.default_rng(0).uniform(-1, 1, (4, 3))])


def test_channel_shuffle_and_cell_base():
    helper_test_op([(2, 6, 3)], lambda x: TF.channel_shuffle(x, 3), lambda x: VF.channel_shuffle(x, 3))
    assert issubclass(vl.nn.LSTMCell, vl.nn.RNNCellBase)
    assert issubclass(torch.nn.LSTMCell, torch.nn.RNNCellBase)


def test_gumbel_softmax():
    vl.manual_seed(0)
    logits = vl.tensor(np.log(np.array([[0.1, 0.2, 0.7]] * 4000, np.float32)), requires_grad=True)
    soft = VF.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(-1), 1, rtol=1e-5)
    hard = VF.gumbel_softmax(logits, tau=0.5, hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) == {0.0, 1.0} and np.all(h.sum(-1) == 1)
    np.testing.assert_allclose(h.mean(0), [0.1, 0.2, 0.7], atol=0.03)  # Gumbel-max draws the categorical
    (hard * vl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.isfinite(logits.grad.numpy()).all() and np.abs(logits.grad.numpy()).sum() > 0
