"""Conv/Linear + BatchNorm folding (``nn.utils.fuse_*`` as ``torch.nn.utils.fusion``, and the library's own
eval-mode folding inside Sequential and ResNet blocks), and the memory-format API (``channels_last``)."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn
from visionlite.core.nn import eval_fusion

torch = require("torch")


def _randomize_bn(tbn, rng):
    """Non-trivial running statistics and affine parameters (a fresh BN folds to almost nothing)."""
    c = tbn.num_features
    with torch.no_grad():
        tbn.running_mean.copy_(torch.tensor(rng.standard_normal(c)))
        tbn.running_var.copy_(torch.tensor(rng.random(c) + 0.3))
        if tbn.weight is not None:
            tbn.weight.copy_(torch.tensor(rng.standard_normal(c)))
            tbn.bias.copy_(torch.tensor(rng.standard_normal(c)))


def _load(vm, tm):
    vm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return vm


# ------------------------------------------------------------------------------ nn.utils.fuse_*
@pytest.mark.parametrize("conv_bias, affine", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval_matches_torch(conv_bias, affine, transpose):
    rng = np.random.default_rng(0)
    kind = "ConvTranspose2d" if transpose else "Conv2d"
    tconv = getattr(torch.nn, kind)(4, 6, 3, padding=1, bias=conv_bias).double().eval()
    tbn = torch.nn.BatchNorm2d(6, eps=1e-3, affine=affine).double().eval()
    _randomize_bn(tbn, rng)
    vconv = _load(getattr(nn, kind)(4, 6, 3, padding=1, bias=conv_bias).double(), tconv).eval()
    vbn = _load(nn.BatchNorm2d(6, eps=1e-3, affine=affine).double(), tbn).eval()
    tf = torch.nn.utils.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    vf = nn.utils.fuse_conv_bn_eval(vconv, vbn, transpose=transpose)
    assert type(vf) is type(vconv) and vf is not vconv
    assert isinstance(vf.weight, nn.Parameter) and isinstance(vf.bias, nn.Parameter)
    np.testing.assert_allclose(vf.weight.detach().numpy(), tf.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vf.bias.detach().numpy(), tf.bias.detach().numpy(), rtol=1e-12, atol=1e-12)
    x = rng.standard_normal((2, 4, 5, 5))
    with vl.no_grad():
        got = vf(vl.tensor(x)).numpy()
        unfused = vbn(vconv(vl.tensor(x))).numpy()
    np.testing.assert_allclose(got, tf(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got, unfused, rtol=1e-10, atol=1e-10)
    assert vconv.weight.requires_grad and vf.weight.requires_grad == tf.weight.requires_grad


def test_fuse_conv_bn_weights_keeps_dtype_and_requires_grad():
    w, rm, rv = vl.randn(3, 2, 1, 1), vl.zeros(3, dtype=vl.float64), vl.ones(3, dtype=vl.float64)
    fw, fb = nn.utils.fuse_conv_bn_weights(w, None, rm, rv, 1e-5, None, None)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    tw, tb = torch.nn.utils.fuse_conv_bn_weights(torch.tensor(w.numpy()), None, trm, trv, 1e-5, None, None)
    assert fw.dtype == vl.float32 and fb.dtype == vl.float32 and tw.dtype == torch.float32
    assert fw.requires_grad is tw.requires_grad and fb.requires_grad is tb.requires_grad
    np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("linear_bias", [True, False])
def test_fuse_linear_bn_eval_matches_torch(linear_bias):
    rng = np.random.default_rng(1)
    tl = torch.nn.Linear(5, 4, bias=linear_bias).double().eval()
    tbn = torch.nn.BatchNorm1d(4).double().eval()
    _randomize_bn(tbn, rng)
    vlin = _load(nn.Linear(5, 4, bias=linear_bias).double(), tl).eval()
    vbn = _load(nn.BatchNorm1d(4).double(), tbn).eval()
    tf, vf = torch.nn.utils.fuse_linear_bn_eval(tl, tbn), nn.utils.fuse_linear_bn_eval(vlin, vbn)
    x = rng.standard_normal((3, 5))
    with vl.no_grad():
        np.testing.assert_allclose(vf(vl.tensor(x)).numpy(), tf(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    w, b = nn.utils.fuse_linear_bn_weights(vlin.weight, vlin.bias, vbn.running_mean, vbn.running_var, vbn.eps,
                                           vbn.weight, vbn.bias)
    np.testing.assert_allclose(w.detach().numpy(), tf.weight.detach().numpy(), rtol=1e-12)


def test_fuse_refuses_training_mode_and_mismatched_features():
    conv, bn = nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3)
    with pytest.raises(AssertionError, match="only for eval"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    with pytest.raises(AssertionError, match="out_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(5).eval())


# ------------------------------------------------------------------------------ folding inside the library
def _counting(monkeypatch):
    """Count BatchNormOp runs (a folded pair runs none)."""
    from visionlite.core.ops import norm

    calls = []
    real = norm.BatchNormOp.forward

    def forward(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(norm.BatchNormOp, "forward", forward)
    return calls


def test_sequential_folds_conv_bn_in_eval_no_grad_only(monkeypatch):
    rng = np.random.default_rng(2)
    tseq = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 4, 3, groups=4, bias=False), torch.nn.BatchNorm2d(4))
    for m in tseq:
        if isinstance(m, torch.nn.BatchNorm2d):
            _randomize_bn(m, rng)
    vseq = _load(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                               nn.Conv2d(4, 4, 3, groups=4, bias=False), nn.BatchNorm2d(4)), tseq)
    tseq.eval(), vseq.eval()
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = tseq(torch.tensor(x)).detach().numpy()
    calls = _counting(monkeypatch)
    with vl.no_grad():
        got = vseq(vl.tensor(x)).numpy()
    assert not calls  # both pairs folded
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    got_grad = vseq(vl.tensor(x)).detach().numpy()  # grad enabled: no folding, same values
    assert len(calls) == 2
    np.testing.assert_allclose(got_grad, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # a hook on the norm must see its call: that pair runs unfolded
    seen = []
    vseq[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with vl.no_grad():
        vseq(vl.tensor(x))
    assert seen == [(2, 4, 8, 8)] and len(calls) == 3


def test_folded_weights_follow_parameter_and_buffer_changes():
    rng = np.random.default_rng(3)
    seq = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).eval()
    x = vl.tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))

    def both():
        with vl.no_grad():
            folded = seq(x).numpy()
            plain = seq[1](seq[0](x)).numpy()
        return folded, plain

    f0, p0 = both()
    np.testing.assert_allclose(f0, p0, rtol=1e-5, atol=1e-6)
    cache = seq[0].__dict__["_eval_fold"]
    both()
    assert seq[0].__dict__["_eval_fold"] is cache  # unchanged parameters: cached
    with vl.no_grad():
        seq[0].weight.mul_(2)  # in place: the version counter moves
        seq[1].running_var.fill_(4.0)
    f1, p1 = both()
    np.testing.assert_allclose(f1, p1, rtol=1e-5, atol=1e-6)
    assert not np.allclose(f1, f0)
    seq[1].bias = nn.Parameter(vl.ones(3) * 5)  # replaced outright
    f2, p2 = both()
    np.testing.assert_allclose(f2, p2, rtol=1e-5, atol=1e-6)
    seq[0].weight.data.mul_(0.5)  # .data writes bypass version counters: the sampled-element guard sees them
    f4, p4 = both()
    np.testing.assert_allclose(f4, p4, rtol=1e-5, atol=1e-6)
    seq.double()  # parameters keep their identity, their arrays are replaced
    x = x.double()
    f5, p5 = both()
    assert f5.dtype == np.float64
    np.testing.assert_allclose(f5, p5, rtol=1e-12, atol=1e-12)
    seq.train()  # training updates the running stats; eval afterwards sees them
    seq(x)
    seq.eval()
    f3, p3 = both()
    np.testing.assert_allclose(f3, p3, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_eval_models_match_torch_with_folding(name, monkeypatch):
    tv = require("torchvision")
    from visionlite import models

    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    tnet = getattr(tv.models, name)(num_classes=10)
    for m in tnet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            _randomize_bn(m, rng)
            with torch.no_grad():
                m.weight.abs_().add_(0.5)  # keep activations in a sane range through deep stacks
                m.bias.mul_(0.1)
    tnet.eval()
    vnet = _load(getattr(models, name)(num_classes=10), tnet).eval()
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = tnet(torch.tensor(x)).numpy()
    calls = _counting(monkeypatch)
    with vl.no_grad():
        got = vnet(vl.tensor(x)).numpy()
    assert not calls, f"{len(calls)} batch norms ran unfolded"
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_foldable_refuses_what_it_cannot_fold():
    conv, bn = nn.Conv2d(2, 3, 1).eval(), nn.BatchNorm2d(3).eval()
    x = vl.randn(1, 2, 4, 4)
    with vl.no_grad():
        assert eval_fusion.foldable(conv, bn, x)
        assert not eval_fusion.foldable(conv, bn, x[0])  # unbatched input: BatchNorm2d must raise
        assert not eval_fusion.foldable(conv, nn.BatchNorm2d(3, track_running_stats=False).eval(), x)
        assert not eval_fusion.foldable(nn.Conv2d(2, 3, 1).train(), bn, x)
    assert not eval_fusion.foldable(conv, bn, x)  # grad enabled
