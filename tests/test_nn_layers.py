"""nn layers against PyTorch: activations (with exact kinks), Linear/Bilinear, containers, Flatten, Dropout,
Embedding; float64 gradchecks for the functional forms."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.nn_check import compare_modules, copy_torch_weights, to_np
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional

# Every kink of the activations below: 0, +-0.5 (shrink), +-1 (hardtanh), +-3 (hard*), 6 (relu6),
# 10 (softplus threshold at beta=2, threshold=20), plus random values.
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 10.0, 2.0, -2.0], dtype=np.float32)


def kink_input(seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([KINKS, rng.uniform(-7, 7, size=36).astype(np.float32)]).reshape(4, 12)


ACTIVATIONS = [
    ("relu", lambda x: TF.relu(x), lambda x: F.relu(x)),
    ("relu6", lambda x: TF.relu6(x), lambda x: F.relu6(x)),
    ("leaky_relu", lambda x: TF.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1)),
    ("leaky_relu_default", lambda x: TF.leaky_relu(x), lambda x: F.leaky_relu(x)),
    ("elu", lambda x: TF.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
    ("celu", lambda x: TF.celu(x, 0.7), lambda x: F.celu(x, 0.7)),
    ("selu", lambda x: TF.selu(x), lambda x: F.selu(x)),
    ("gelu", lambda x: TF.gelu(x), lambda x: F.gelu(x)),
    ("gelu_tanh", lambda x: TF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("silu", lambda x: TF.silu(x), lambda x: F.silu(x)),
    ("mish", lambda x: TF.mish(x), lambda x: F.mish(x)),
    ("hardswish", lambda x: TF.hardswish(x), lambda x: F.hardswish(x)),
    ("hardsigmoid", lambda x: TF.hardsigmoid(x), lambda x: F.hardsigmoid(x)),
    ("hardtanh", lambda x: TF.hardtanh(x), lambda x: F.hardtanh(x)),
    ("hardtanh_range", lambda x: TF.hardtanh(x, -3.0, 6.0), lambda x: F.hardtanh(x, -3.0, 6.0)),
    ("sigmoid", lambda x: torch.sigmoid(x), lambda x: F.sigmoid(x)),
    ("tanh", lambda x: torch.tanh(x), lambda x: F.tanh(x)),
    ("softplus", lambda x: TF.softplus(x), lambda x: F.softplus(x)),
    ("softplus_beta", lambda x: TF.softplus(x, 2.0, 20.0), lambda x: F.softplus(x, 2.0, 20.0)),
    ("softsign", lambda x: TF.softsign(x), lambda x: F.softsign(x)),
    ("tanhshrink", lambda x: TF.tanhshrink(x), lambda x: F.tanhshrink(x)),
    ("hardshrink", lambda x: TF.hardshrink(x), lambda x: F.hardshrink(x)),
    ("softshrink", lambda x: TF.softshrink(x, 1.0), lambda x: F.softshrink(x, 1.0)),
    ("logsigmoid", lambda x: TF.logsigmoid(x), lambda x: F.logsigmoid(x)),
    ("threshold", lambda x: TF.threshold(x, 1.0, -2.0), lambda x: F.threshold(x, 1.0, -2.0)),
    ("softmax", lambda x: TF.softmax(x, dim=1), lambda x: F.softmax(x, dim=1)),
    ("softmax_dim0", lambda x: TF.softmax(x, dim=0), lambda x: F.softmax(x, dim=0)),
    ("log_softmax", lambda x: TF.log_softmax(x, dim=-1), lambda x: F.log_softmax(x, dim=-1)),
    ("softmin", lambda x: TF.softmin(x, dim=1), lambda x: F.softmin(x, dim=1)),
    ("glu", lambda x: TF.glu(x, dim=-1), lambda x: F.glu(x, dim=-1)),
]


@pytest.mark.parametrize("name,tfn,vfn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch_including_kinks(name, tfn, vfn):
    helper_test_op(None, tfn, vfn, inputs=[kink_input()], atol=1e-5, rtol=1e-5, grad_atol=1e-5,
                   grad_rtol=1e-5)


@pytest.mark.parametrize("name,tfn,vfn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_float64_matches_torch(name, tfn, vfn):
    # PyTorch rounds a few constants (1/6 in hardsigmoid, 1/alpha in celu) to float32 even in float64, so
    # agreement is to ~1e-7; a wrong kink would be off by O(1).
    helper_test_op(None, tfn, vfn, inputs=[kink_input(1).astype(np.float64)], atol=1e-12, rtol=1e-6,
                   grad_atol=1e-12, grad_rtol=1e-6)


SMOOTH = ["gelu", "gelu_tanh", "silu", "mish", "sigmoid", "tanh", "softplus", "softsign", "tanhshrink",
          "logsigmoid", "softmax", "log_softmax", "softmin", "glu", "selu", "elu", "celu", "leaky_relu",
          "hardswish", "hardsigmoid", "relu6", "hardtanh"]


@pytest.mark.parametrize("name", SMOOTH)
def test_activation_gradcheck(name):
    vfn = dict((a[0], a[2]) for a in ACTIVATIONS)[name]
    # Values away from every kink, where finite differences are valid.
    x = np.array([[-5.2, -2.1, -0.7, -0.2, 0.3, 0.8], [1.6, 2.4, 4.1, -4.4, 5.5, -1.3]])
    gradcheck(vfn, [x])


def test_activation_double_backward_matches_torch():
    for tfn, vfn in [(TF.elu, F.elu), (TF.softplus, F.softplus), (TF.hardswish, F.hardswish),
                     (TF.gelu, F.gelu), (TF.silu, F.silu)]:
        x = np.linspace(-4, 4, 9)
        tx = torch.tensor(x, requires_grad=True)
        vx = vl.tensor(x, requires_grad=True)
        (tg,) = torch.autograd.grad(tfn(tx).sum(), tx, create_graph=True)
        (vg,) = vl.autograd.grad(vfn(vx).sum(), vx, create_graph=True)
        np.testing.assert_allclose(to_np(vg), tg.detach().numpy(), atol=1e-10)
        (tgg,) = torch.autograd.grad(tg.sum(), tx)
        (vgg,) = vl.autograd.grad(vg.sum(), vx)
        np.testing.assert_allclose(to_np(vgg), tgg.numpy(), atol=1e-10, err_msg=tfn.__name__)


def test_prelu_functional_and_module():
    x = kink_input().reshape(2, 4, 6)
    w = np.array([0.1, 0.25, -0.3, 0.5], dtype=np.float32)
    helper_test_op(None, lambda a, b: TF.prelu(a, b), lambda a, b: F.prelu(a, b), inputs=[x, w])
    helper_test_op(None, lambda a, b: TF.prelu(a, b), lambda a, b: F.prelu(a, b), inputs=[x, w[:1]])
    gradcheck(F.prelu, [np.array([[-1.5, 0.7], [2.0, -0.4]]), np.array([0.3, -0.2])])
    tm, vm = torch.nn.PReLU(4, init=0.2), nn.PReLU(4, init=0.2)
    assert np.allclose(to_np(vm.weight), 0.2)
    compare_modules(vm, tm, [x])
    with pytest.raises(RuntimeError, match="channels"):
        F.prelu(vl.tensor(x), vl.tensor(np.ones(3, np.float32)))


MODULES = [
    (lambda m: m.ReLU(), "ReLU()"), (lambda m: m.ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda m: m.ReLU6(), None), (lambda m: m.LeakyReLU(0.2), None), (lambda m: m.ELU(alpha=0.5), None),
    (lambda m: m.CELU(0.5), None), (lambda m: m.SELU(), None), (lambda m: m.GELU(), None),
    (lambda m: m.GELU(approximate="tanh"), None), (lambda m: m.SiLU(), None), (lambda m: m.Mish(), None),
    (lambda m: m.Hardswish(), None), (lambda m: m.Hardsigmoid(), None),
    (lambda m: m.Hardtanh(-2.0, 2.0), None),
    (lambda m: m.Sigmoid(), None), (lambda m: m.Tanh(), None), (lambda m: m.Softmax(dim=1), None),
    (lambda m: m.LogSoftmax(dim=1), None), (lambda m: m.Softmin(dim=1), None),
    (lambda m: m.Softplus(beta=2.0, threshold=10.0), None), (lambda m: m.Softsign(), None),
    (lambda m: m.Tanhshrink(), None), (lambda m: m.Hardshrink(0.3), None),
    (lambda m: m.Softshrink(0.3), None),
    (lambda m: m.LogSigmoid(), None), (lambda m: m.Threshold(0.5, -1.0), None), (lambda m: m.GLU(), None),
    (lambda m: m.PReLU(), None), (lambda m: m.Identity(), None),
]


@pytest.mark.parametrize("make,expected_repr", MODULES, ids=[str(i) for i in range(len(MODULES))])
def test_activation_modules_match_torch(make, expected_repr):
    tm, vm = make(torch.nn), make(nn)
    assert repr(vm) == repr(tm)
    if expected_repr is not None:
        assert repr(vm) == expected_repr
    x = kink_input()
    if "inplace=True" in repr(tm):
        x_t, x_v = torch.tensor(x), vl.tensor(x)
        assert tm(x_t) is x_t and vm(x_v) is x_v
        np.testing.assert_allclose(to_np(x_v), x_t.numpy(), atol=1e-6)
        return
    compare_modules(vm, tm, [x], atol=1e-5, grad_atol=1e-5)


def test_inplace_activation_protocol():
    # In place on a leaf that requires grad is refused (as in PyTorch)...
    leaf = vl.tensor(kink_input(), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(leaf, inplace=True)
    # ...but on an intermediate it rewrites the storage, moves the version and keeps gradients right.
    for tname, vname in [("relu", "relu"), ("hardswish", "hardswish"), ("elu", "elu"), ("silu", "silu"),
                         ("leaky_relu", "leaky_relu"), ("relu6", "relu6"), ("hardsigmoid", "hardsigmoid")]:
        tx = torch.tensor(kink_input(), requires_grad=True)
        vx = vl.tensor(kink_input(), requires_grad=True)
        th, vh = tx * 1.5, vx * 1.5
        version = vh._version[0]
        tout = getattr(TF, tname)(th, inplace=True)
        vout = getattr(F, vname)(vh, inplace=True)
        assert vout is vh and vh._version[0] > version
        (tout * tout).sum().backward()
        (vout * vout).sum().backward()
        np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), atol=1e-5, err_msg=tname)


def test_inplace_without_grad_writes_storage():
    x = vl.tensor([-1.0, 2.0])
    view = x[0:1]
    F.relu_(x)
    assert x.tolist() == [0.0, 2.0] and view.tolist() == [0.0]


# ------------------------------------------------------------------------------------------ linear
def test_linear_matches_torch_same_weights():
    torch.manual_seed(0)
    tm, vm = torch.nn.Linear(5, 3), nn.Linear(5, 3)
    copy_torch_weights(vm, tm)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    compare_modules(vm, tm, [x])
    compare_modules(vm, tm, [np.random.default_rng(1).normal(size=(2, 3, 5)).astype(np.float32)])
    compare_modules(vm, tm, [np.random.default_rng(2).normal(size=(5,)).astype(np.float32)])
    assert repr(vm) == repr(tm)
    assert list(vm.state_dict()) == list(tm.state_dict())


def test_linear_without_bias_and_errors():
    tm, vm = torch.nn.Linear(4, 2, bias=False), nn.Linear(4, 2, bias=False)
    copy_torch_weights(vm, tm)
    assert vm.bias is None and list(vm.state_dict()) == ["weight"]
    assert repr(vm) == repr(tm)
    compare_modules(vm, tm, [np.ones((3, 4), np.float32)])
    with pytest.raises(RuntimeError, match="in_features=4"):
        vm(vl.ones(3, 5))


def test_linear_default_init_distribution():
    vl.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w, b = to_np(m.weight), to_np(m.bias)
    # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, as for the bias.
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.1 * bound
    vl.manual_seed(0)
    assert np.array_equal(to_np(nn.Linear(400, 300).weight), w)  # seeded init is reproducible


def test_linear_functional_gradcheck():
    rng = np.random.default_rng(0)
    gradcheck(F.linear, [rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=(2,))])
    gradcheck(F.linear, [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4))])
    gradcheck(F.bilinear, [rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(5, 2, 4)),
                           rng.normal(size=(5,))])


def test_bilinear_matches_torch():
    torch.manual_seed(0)
    tm, vm = torch.nn.Bilinear(3, 4, 2), nn.Bilinear(3, 4, 2)
    copy_torch_weights(vm, tm)
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    compare_modules(vm, tm, [x1, x2])
    assert repr(vm) == repr(tm)


def test_linear_dtype_and_to():
    m = nn.Linear(3, 2, dtype=vl.float64)
    assert m.weight.dtype == vl.float64
    p = m.weight
    m.float()
    assert m.weight is p and m.weight.dtype == vl.float32
    m.to(vl.float64)
    assert m.bias.dtype == vl.float64


# -------------------------------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_forward():
    torch.manual_seed(0)
    ts = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    vs = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    copy_torch_weights(vs, ts)
    compare_modules(vs, ts, [np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)])
    assert len(vs) == 3 and isinstance(vs[-1], nn.Linear) and vs[1] is list(vs)[1]
    head = vs[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is vs[0]
    assert list(head.state_dict()) == list(ts[:2].state_dict())
    vs.append(nn.Tanh())
    assert list(vs._modules) == ["0", "1", "2", "3"]
    del vs[1]
    assert list(vs._modules) == ["0", "1", "2"] and isinstance(vs[1], nn.Linear)
    vs.insert(1, nn.ReLU())
    assert isinstance(vs[1], nn.ReLU) and len(vs) == 4
    with pytest.raises(IndexError, match="out of range"):
        vs[7]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    tnamed = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)), ("act", torch.nn.ReLU())]))
    assert repr(named) == repr(tnamed) and list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]


def test_module_list_and_dict():
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    vlst = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    assert repr(vlst) == repr(tl)  # "(0-2): 3 x Linear(...)"
    assert list(vlst.state_dict()) == list(tl.state_dict())
    assert len(vlst) == 4 and isinstance(vlst[-1], nn.ReLU) and len(vlst[1:3]) == 2
    vlst.append(nn.Tanh())
    vlst.extend([nn.Sigmoid()])
    assert len(vlst) == 6 and len(list(vlst.parameters())) == 6
    del vlst[0]
    assert list(vlst._modules) == [str(i) for i in range(5)]
    td = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 3), "b": torch.nn.ReLU()})
    vd = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.ReLU()})
    assert repr(vd) == repr(td) and list(vd.state_dict()) == list(td.state_dict())
    assert "a" in vd and list(vd.keys()) == ["a", "b"] and isinstance(vd["b"], nn.ReLU)
    vd["c"] = nn.Tanh()
    assert len(vd) == 3 and vd.pop("c").__class__ is nn.Tanh
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(vl.ones(2, 3)), vl.zeros(4)])
    assert isinstance(pl[1], nn.Parameter) and len(pl) == 2
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)), torch.zeros(4)])
    assert repr(pl).replace("visionlite", "torch") == repr(tpl)
    pd = nn.ParameterDict({"w": nn.Parameter(vl.ones(2)), "b": vl.zeros(1)})
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert sorted(pd.state_dict()) == ["b", "w"]
    del pd["w"]
    assert list(pd.keys()) == ["b"] and list(pd.state_dict()) == ["b"]


def test_flatten_unflatten():
    for tm, vm in [(torch.nn.Flatten(), nn.Flatten()), (torch.nn.Flatten(0, 2), nn.Flatten(0, 2)),
                   (torch.nn.Unflatten(1, (3, 4)), nn.Unflatten(1, (3, 4)))]:
        assert repr(vm) == repr(tm)
        x = np.arange(2 * 12 * 5, dtype=np.float32).reshape(2, 12, 5)
        compare_modules(vm, tm, [x])


# ----------------------------------------------------------------------------------------- dropout
def test_dropout_train_eval_and_gradient():
    vl.manual_seed(0)
    m = nn.Dropout(p=0.3)
    assert repr(m) == repr(torch.nn.Dropout(p=0.3))
    x = vl.ones(200, 100, requires_grad=True)
    y = m(x)
    data = to_np(y)
    values = np.unique(data)
    assert len(values) == 2 and values[0] == 0 and values[1] == np.float32(1 / 0.7)
    assert abs((data == 0).mean() - 0.3) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), data)  # d/dx = mask / (1 - p)
    m.eval()
    assert np.array_equal(to_np(m(x)), np.ones((200, 100)))
    vl.manual_seed(5)
    a = to_np(F.dropout(vl.ones(50), 0.5))
    vl.manual_seed(5)
    assert np.array_equal(a, to_np(F.dropout(vl.ones(50), 0.5)))  # the seed fixes the mask
    assert np.array_equal(to_np(F.dropout(vl.ones(5), 1.0)), np.zeros(5))
    assert np.array_equal(to_np(F.dropout(vl.ones(5), 0.0)), np.ones(5))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_channel_dropout_zeroes_whole_channels():
    vl.manual_seed(1)
    y = to_np(nn.Dropout2d(0.5)(vl.ones(8, 16, 5, 5)))
    per_channel = y.reshape(8, 16, 25)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    y1 = to_np(nn.Dropout1d(0.5)(vl.ones(4, 6, 7)))
    assert np.all((y1 == 0).all(-1) | (y1 == 2.0).all(-1))
    y3 = to_np(F.dropout3d(vl.ones(2, 3, 2, 2, 2), 0.5))
    assert np.all((y3.reshape(6, 8) == 0).all(-1) | (y3.reshape(6, 8) == 2.0).all(-1))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):  # as PyTorch: warns, proceeds
        assert F.dropout2d(vl.ones(2, 3), 0.5).shape == (2, 3)


def test_dropout_inplace():
    vl.manual_seed(0)
    x = vl.ones(100)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(to_np(x))) <= {0.0, 2.0}


# --------------------------------------------------------------------------------------- embedding
def test_embedding_matches_torch_with_padding_and_freq():
    idx = np.array([[1, 2, 0, 2], [4, 0, 2, 9]], dtype=np.int64)
    for kw in ({}, {"padding_idx": 0}, {"padding_idx": -1}, {"scale_grad_by_freq": True, "padding_idx": 2}):
        torch.manual_seed(0)
        tm, vm = torch.nn.Embedding(10, 3, **kw), nn.Embedding(10, 3, **kw)
        assert repr(vm) == repr(tm)
        copy_torch_weights(vm, tm)
        compare_modules(vm, tm, [idx])
        if "padding_idx" in kw:
            assert np.all(to_np(vm.weight.grad)[vm.padding_idx] == 0)
    vl.manual_seed(0)
    fresh = nn.Embedding(10, 4, padding_idx=3)
    assert np.all(to_np(fresh.weight)[3] == 0) and np.abs(to_np(fresh.weight)).sum() > 0


def test_embedding_max_norm_renormalises_like_torch():
    torch.manual_seed(0)
    tm, vm = torch.nn.Embedding(6, 4, max_norm=1.0), nn.Embedding(6, 4, max_norm=1.0)
    copy_torch_weights(vm, tm)
    idx = np.array([0, 2, 2, 5])
    compare_modules(vm, tm, [idx])
    np.testing.assert_allclose(to_np(vm.weight), tm.weight.detach().numpy(), atol=1e-6)
    assert repr(vm) == repr(tm)


def test_embedding_functional_from_pretrained_and_errors():
    w = np.random.default_rng(0).normal(size=(5, 3))
    gradcheck(lambda ww: F.embedding(vl.tensor([[0, 4], [4, 1]]), ww), [w])
    e = nn.Embedding.from_pretrained(vl.tensor(w))
    assert not e.weight.requires_grad and e.weight.shape == (5, 3)
    assert nn.Embedding.from_pretrained(vl.tensor(w), freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="index 7 is out of range for 5 embeddings"):
        F.embedding(vl.tensor([1, 7]), vl.tensor(w))
    with pytest.raises(TypeError, match="integer"):
        F.embedding(vl.tensor([1.0]), vl.tensor(w))
    oh = F.one_hot(vl.tensor([0, 2]), 3)
    assert oh.tolist() == [[1, 0, 0], [0, 0, 1]] and oh.dtype == vl.int64


def test_linear_on_tokens_then_inplace_relu_matches_torch():
    # Linear on (B, ..., C) returns a fresh tensor, as in PyTorch, so an in-place activation may follow it
    # while recording gradients (Swin V2's cpb_mlp does this).
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(inplace=True), torch.nn.Linear(6, 3))
    vm = nn.Sequential(nn.Linear(2, 6), nn.ReLU(inplace=True), nn.Linear(6, 3))
    copy_torch_weights(vm, tm)
    x = np.random.default_rng(0).standard_normal((1, 5, 7, 2)).astype(np.float32)
    compare_modules(vm, tm, [x])
