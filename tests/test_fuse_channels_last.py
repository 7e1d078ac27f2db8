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


# ------------------------------------------------------------------------------ memory formats
FORMATS = ["contiguous_format", "channels_last", "preserve_format"]


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return vl.tensor(a), torch.tensor(a)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 3, 1, 1), (2, 1, 4, 4), (3, 2, 1, 5)])
def test_to_channels_last_strides_and_flags_match_torch(shape):
    v, t = _pair(shape)
    vc, tc = v.to(memory_format=vl.channels_last), t.to(memory_format=torch.channels_last)
    assert vc.stride() == tc.stride()
    np.testing.assert_array_equal(vc.numpy(), tc.numpy())
    for name in ("contiguous_format", "channels_last", "preserve_format"):
        for mine, ref in ((v, t), (vc, tc)):
            assert mine.is_contiguous(memory_format=getattr(vl, name)) == ref.is_contiguous(
                memory_format=getattr(torch, name)), name
    assert vc.is_contiguous() == tc.is_contiguous()
    # back to row-major, and the no-op cases return the tensor itself, as PyTorch
    assert vc.contiguous().stride() == tc.contiguous().stride()
    assert (vc.to(memory_format=vl.channels_last) is vc) == (tc.to(memory_format=torch.channels_last) is tc)
    assert (vc.contiguous(memory_format=vl.channels_last) is vc) == (
        tc.contiguous(memory_format=torch.channels_last) is tc)


@pytest.mark.parametrize("fmt", FORMATS + [None])
@pytest.mark.parametrize("src", ["contiguous", "channels_last", "permuted", "sliced"])
def test_clone_and_like_functions_follow_torch_layout_rules(fmt, src):
    v, t = _pair((2, 3, 4, 5))
    make = {
        "contiguous": lambda x, lib: x,
        "channels_last": lambda x, lib: x.to(memory_format=lib.channels_last),
        "permuted": lambda x, lib: x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).transpose(2, 3),
        "sliced": lambda x, lib: x.to(memory_format=lib.channels_last)[:, :, ::2],
    }[src]
    v, t = make(v, vl), make(t, torch)
    kw_v = {} if fmt is None else {"memory_format": getattr(vl, fmt)}
    kw_t = {} if fmt is None else {"memory_format": getattr(torch, fmt)}
    for name in ("clone",):
        assert getattr(v, name)(**kw_v).stride() == getattr(t, name)(**kw_t).stride(), name
    for name in ("empty_like", "zeros_like", "ones_like"):
        assert getattr(vl, name)(v, **kw_v).stride() == getattr(torch, name)(t, **kw_t).stride(), name
    assert vl.full_like(v, 2.0, **kw_v).stride() == torch.full_like(t, 2.0, **kw_t).stride()
    np.testing.assert_array_equal(v.clone(**kw_v).numpy(), t.clone(**kw_t).numpy())
    np.testing.assert_array_equal(vl.ones_like(v, **kw_v).numpy(), torch.ones_like(t, **kw_t).numpy())


def test_layout_survives_elementwise_ops_and_dtype_moves_as_in_torch():
    v, t = _pair((2, 3, 4, 5))
    v, t = v.to(memory_format=vl.channels_last), t.to(memory_format=torch.channels_last)
    assert (v + 1).stride() == (t + 1).stride()
    assert v.relu().stride() == t.relu().stride()
    assert v.to(vl.float64).stride() == t.to(torch.float64).stride()
    assert v.to(vl.float64, memory_format=vl.contiguous_format).stride() == t.to(
        torch.float64, memory_format=torch.contiguous_format).stride()
    assert v.to(memory_format=vl.channels_last, copy=True) is not v


def test_memory_format_gradients_flow_and_errors_are_clear():
    x = vl.randn(2, 3, 4, 5, requires_grad=True)
    y = x.to(memory_format=vl.channels_last)
    (y * vl.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(np.arange(5.0), (2, 3, 4, 5)))
    assert y.grad_fn is not None
    with pytest.raises(RuntimeError, match="rank 4"):
        vl.randn(2, 3, 4).to(memory_format=vl.channels_last)
    with pytest.raises(RuntimeError, match="rank 5"):
        vl.randn(2, 3, 4, 5).contiguous(memory_format=vl.channels_last_3d)
    with pytest.raises(RuntimeError, match="preserve memory format"):
        y.contiguous(memory_format=vl.preserve_format)
    with pytest.raises(TypeError, match="memory_format must be"):
        x.clone(memory_format="channels_last")


def test_memory_format_objects_print_and_pickle_like_torch():
    import pickle

    assert repr(vl.channels_last) == "visionlite.channels_last"
    assert isinstance(vl.channels_last, vl.memory_format)
    for name in ("contiguous_format", "channels_last", "channels_last_3d", "preserve_format"):
        fmt = getattr(vl, name)
        assert pickle.loads(pickle.dumps(fmt)) is fmt


def test_module_to_channels_last_matches_torch():
    rng = np.random.default_rng(5)
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 3 * 3, 2))
    vnet = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    vnet = _load(vnet, tnet)
    weight = vnet[0].weight
    tnet.to(memory_format=torch.channels_last)
    assert vnet.to(memory_format=vl.channels_last) is vnet
    assert vnet[0].weight is weight  # parameters keep their identity
    for (name, tp), vp in zip(tnet.named_parameters(), vnet.parameters()):
        assert vp.stride() == tp.stride(), name
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    for train in (True, False):
        tnet.train(train), vnet.train(train)
        tx = torch.tensor(x).to(memory_format=torch.channels_last)
        vx = vl.tensor(x).to(memory_format=vl.channels_last)
        with torch.no_grad():
            want = tnet(tx).numpy()
        with vl.no_grad():
            np.testing.assert_allclose(vnet(vx).numpy(), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="rank 4"):
        nn.Conv3d(1, 1, 1).to(memory_format=vl.channels_last)


def test_frozen_batch_norm_folds_too():
    """Detection backbones use TorchVision's FrozenBatchNorm2d: it folds the same way."""
    tv = require("torchvision")
    from visionlite.ops import FrozenBatchNorm2d

    rng = np.random.default_rng(6)
    tbn = tv.ops.FrozenBatchNorm2d(4)
    for name in ("weight", "bias", "running_mean"):
        getattr(tbn, name).copy_(torch.tensor(rng.standard_normal(4)))
    tbn.running_var.copy_(torch.tensor(rng.random(4) + 0.3))
    tseq = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), tbn).eval()
    vseq = _load(nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), FrozenBatchNorm2d(4)), tseq).eval()
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    with vl.no_grad():
        assert eval_fusion.foldable(vseq[0], vseq[1], vl.tensor(x))
        got = vseq(vl.tensor(x)).numpy()
    want = tseq(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
