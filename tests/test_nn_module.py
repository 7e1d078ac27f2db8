"""The Module API against PyTorch's: registration, traversal, state_dict round trips and errors, hooks,
repr, device/dtype moves, copying, and nn.utils (gradient clipping, vector conversion)."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import copy_torch_weights, to_np
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")


def build(lib):
    """The same small nested model in either library (a block reused to test sharing)."""
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(4, 4)
            self.act = lib.nn.ReLU()
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.act(self.fc(x))

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.body = lib.nn.Sequential(Block(), lib.nn.Dropout(0.1), Block())
            self.heads = lib.nn.ModuleList([lib.nn.Linear(4, 2), lib.nn.Linear(4, 3)])
            self.extra = lib.nn.ModuleDict({"proj": lib.nn.Linear(4, 1, bias=False)})

        def forward(self, x):
            h = self.body(x) * self.scale
            return self.heads[0](h)

    return Net()


def test_parameter_basics():
    p = nn.Parameter(vl.ones(2, 3))
    assert p.requires_grad and isinstance(p, vl.Tensor)
    assert repr(p) == "Parameter containing:\n" + repr(vl.ones(2, 3, requires_grad=True))
    base = vl.zeros(3)
    shared = nn.Parameter(base)
    base.add_(1.0)
    assert shared.tolist() == [1.0, 1.0, 1.0]  # shares storage, as in PyTorch
    assert not nn.Parameter(vl.ones(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert not isinstance(p * 2, nn.Parameter) and not isinstance(p.detach(), nn.Parameter)


def test_names_and_traversal_match_torch():
    t, v = build(torch), build(vl)
    assert [n for n, _ in v.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in v.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in v.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in v.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in v.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert len(list(v.parameters())) == len(list(t.parameters()))
    assert list(v.state_dict()) == list(t.state_dict())
    assert repr(v).replace("visionlite", "torch") == repr(t)


def test_shared_parameters_and_modules():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.named_modules())) == 3
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    tlin = torch.nn.Linear(2, 2)
    assert list(torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin).state_dict()) == list(seq.state_dict())


def test_setattr_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(vl.ones(2))
    m.sub = nn.Linear(1, 1)
    m.plain = vl.ones(1)  # a plain tensor attribute is not registered
    m.buf = nn.Buffer(vl.zeros(3), persistent=False)
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["buf"]
    assert "buf" not in m.state_dict() and "plain" not in m.state_dict()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = vl.ones(2)
    m.w = None
    assert m.w is None and "w" not in dict(m.named_parameters())
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = 3
    m.buf = vl.ones(3)  # a registered buffer may be replaced by any tensor
    assert m.buf.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", vl.ones(1))
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_parameter("a.b", None)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        _ = m.nope
    del m.sub
    assert "sub" not in m._modules
    assert "w" in dir(m) and "buf" in dir(m)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(vl.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


def test_get_submodule_and_parameter():
    v = build(vl)
    assert v.get_submodule("body.0.fc") is v.body[0].fc
    assert v.get_parameter("heads.1.bias") is v.heads[1].bias
    assert v.get_buffer("body.2.steps") is v.body[2].steps
    with pytest.raises(AttributeError, match="has no attribute `nothere`"):
        v.get_submodule("body.nothere")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        v.get_parameter("body.0.steps")


# -------------------------------------------------------------------------------------- state dict
def test_state_dict_detached_keep_vars_and_metadata():
    v = build(vl)
    sd = v.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not t.requires_grad and not isinstance(t, nn.Parameter) for t in sd.values())
    assert sd["scale"]._data is v.scale._data  # detached, same storage
    assert v.state_dict(keep_vars=True)["scale"] is v.scale
    assert sd._metadata[""] == {"version": 1} and "body.0" in sd._metadata
    assert list(v.state_dict(prefix="model."))[0] == "model.scale"


def test_load_state_dict_from_torch_copies_in_place():
    torch.manual_seed(0)
    t, v = build(torch), build(vl)
    w = v.body[0].fc.weight
    result = copy_torch_weights(v, t)
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert v.body[0].fc.weight is w  # same Parameter object, new values
    np.testing.assert_allclose(to_np(w), t.body[0].fc.weight.detach().numpy())
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    t.eval(), v.eval()
    np.testing.assert_allclose(to_np(v(vl.tensor(x))), t(torch.tensor(x)).detach().numpy(), atol=1e-6)
    # float64 values are cast to the parameter's dtype; numpy arrays are accepted as values too.
    v.load_state_dict({k: val.detach().numpy().astype(np.float64) for k, val in t.state_dict().items()})
    assert v.scale.dtype == vl.float32


def test_load_state_dict_strict_errors():
    v = build(vl)
    sd = v.state_dict()
    del sd["heads.0.bias"]
    sd["bogus.weight"] = vl.ones(1)
    sd["body.0.fc.extra"] = vl.ones(1)
    with pytest.raises(RuntimeError) as info:
        v.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "heads.0.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "bogus.weight", "body.0.fc.extra".' in msg
    result = v.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["heads.0.bias"]
    assert sorted(result.unexpected_keys) == ["body.0.fc.extra", "bogus.weight"]
    missing, unexpected = result
    assert missing == ["heads.0.bias"]
    # The same checkpoint in PyTorch reports the same keys.
    t = build(torch)
    tsd = {k: torch.tensor(to_np(val)) for k, val in sd.items()}
    tres = t.load_state_dict(tsd, strict=False)
    assert tres.missing_keys == result.missing_keys and sorted(tres.unexpected_keys) == sorted(unexpected)


def test_load_state_dict_shape_mismatch_always_raises():
    v = build(vl)
    sd = v.state_dict()
    sd["heads.1.weight"] = vl.ones(5, 4)
    for strict in (True, False):
        expected = (r"size mismatch for heads.1.weight: copying a param with shape \[5, 4\] from checkpoint, "
                    r"the shape in current model is \[3, 4\]")
        with pytest.raises(RuntimeError, match=expected):
            v.load_state_dict(sd, strict=strict)
    with pytest.raises(TypeError, match="dict-like"):
        v.load_state_dict([1, 2])


def test_load_state_dict_assign():
    m = nn.Linear(2, 2)
    new_w = vl.full((2, 2), 3.0, dtype=vl.float64)
    m.load_state_dict({"weight": new_w, "bias": vl.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad and m.weight.dtype == vl.float64
    assert m.weight._data is new_w._data


class Versioned(nn.Module):
    """Version 2 added a counter buffer; version-1 checkpoints (or plain dicts) must still load."""

    _version = 2

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(vl.ones(3))
        self.register_buffer("counter", vl.tensor(7))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        version = local_metadata.get("version")
        if (version is None or version < 2) and prefix + "counter" not in state_dict:
            state_dict[prefix + "counter"] = vl.tensor(0)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)


def test_version_metadata_hook():
    wrapper = nn.Sequential(Versioned())
    sd = wrapper.state_dict()
    assert sd._metadata["0"] == {"version": 2}
    old = OrderedDict([("0.weight", vl.full((3,), 2.0))])
    old._metadata = {"": {"version": 1}, "0": {"version": 1}}
    assert repr(wrapper.load_state_dict(old)) == "<All keys matched successfully>"
    assert wrapper[0].counter.item() == 0 and wrapper[0].weight.tolist() == [2.0, 2.0, 2.0]
    wrapper.load_state_dict({"0.weight": vl.ones(3)})  # a plain dict: no metadata, treated as old
    with pytest.raises(RuntimeError, match='Missing key.*"0.counter"'):
        new = OrderedDict([("0.weight", vl.ones(3))])
        new._metadata = {"0": {"version": 2}}
        wrapper.load_state_dict(new)


# -------------------------------------------------------------------------------- modes and moves
def test_train_eval_to_zero_grad_apply():
    v = build(vl)
    assert all(m.training for m in v.modules())
    assert v.eval() is v and not any(m.training for m in v.modules())
    v.train()
    assert v.body[1].training
    with pytest.raises(ValueError, match="boolean"):
        v.train("no")
    p = v.scale
    v.double()
    assert v.scale is p and p.dtype == vl.float64 and v.body[0].steps.dtype == vl.float64
    v.to(vl.float32)
    assert p.dtype == vl.float32
    v.to("cpu")
    with pytest.raises(TypeError, match="floating point"):
        v.to(vl.int64)
    out = v(vl.ones(2, 4)).sum()
    out.backward()
    assert v.scale.grad is not None
    v.zero_grad(set_to_none=False)
    assert v.scale.grad.tolist() == [0.0]
    v.zero_grad()
    assert v.scale.grad is None
    seen = []
    v.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 5
    v.requires_grad_(False)
    assert not any(q.requires_grad for q in v.parameters())


def test_module_with_int_buffer_keeps_it_under_float_casts():
    m = nn.Module()
    m.register_buffer("count", vl.tensor(3))
    m.half()
    assert m.count.dtype == vl.int64


# ------------------------------------------------------------------------------------------ hooks
def test_forward_hooks():
    m = nn.Linear(3, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    x = vl.ones(4, 3)
    y = m(x)
    np.testing.assert_allclose(to_np(y), np.broadcast_to(to_np(m.bias) + 1, (4, 2)), atol=1e-6)
    assert calls == [(4, 2)]
    h1.remove()
    h2.remove()
    np.testing.assert_allclose(to_np(m(x)), to_np(x) @ to_np(m.weight).T + to_np(m.bias), atol=1e-6)

    def kw_pre(mod, args, kwargs):
        return args, {**kwargs}

    def kw_post(mod, args, kwargs, out):
        return out * 2

    m.register_forward_pre_hook(kw_pre, with_kwargs=True)
    with m.register_forward_hook(kw_post, with_kwargs=True):
        doubled = m(x)
    np.testing.assert_allclose(to_np(doubled), 2 * to_np(m(x)), atol=1e-6)


def test_full_backward_hooks_match_torch():
    torch.manual_seed(0)
    tm, vm = torch.nn.Linear(3, 2), nn.Linear(3, 2)
    copy_torch_weights(vm, tm)
    got = {}

    def record(store):
        def hook(mod, grad_input, grad_output):
            store["in"] = [g.detach().numpy() if hasattr(g, "detach") and not isinstance(g, vl.Tensor)
                           else to_np(g) for g in grad_input]
            store["out"] = [g.detach().numpy() if not isinstance(g, vl.Tensor) else to_np(g)
                            for g in grad_output]
            return tuple(g * 2 for g in grad_input)
        return hook

    expected = {}
    tm.register_full_backward_hook(record(expected))
    vm.register_full_backward_hook(record(got))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    (tm(tx) ** 2).sum().backward()
    (vm(vx) ** 2).sum().backward()
    np.testing.assert_allclose(got["out"][0], expected["out"][0], atol=1e-5)
    np.testing.assert_allclose(got["in"][0], expected["in"][0], atol=1e-5)
    np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), atol=1e-5)  # doubled by the hook
    np.testing.assert_allclose(to_np(vm.weight.grad), tm.weight.grad.numpy(), atol=1e-5)


def test_backward_pre_hook_and_no_input_grad():
    m = nn.Linear(2, 1)
    seen = {}
    m.register_full_backward_pre_hook(lambda mod, gout: (gout[0] * 0,))
    m.register_full_backward_hook(lambda mod, gin, gout: seen.update(gin=gin))
    m(vl.ones(3, 2)).sum().backward()  # input needs no grad: grad_input is (None,)
    assert seen["gin"] == (None,)
    assert to_np(m.weight.grad).tolist() == [[0.0, 0.0]]


# ------------------------------------------------------------------------------------- copy, pickle
def test_deepcopy_and_pickle():
    v = build(vl)
    v.heads[0].weight.grad = vl.ones(2, 4)
    shared = nn.Linear(2, 2)
    v.extra["a"] = shared
    v.extra["b"] = shared
    c = copy.deepcopy(v)
    assert isinstance(c.scale, nn.Parameter) and c.scale is not v.scale
    assert c.extra["a"] is c.extra["b"] and c.extra["a"].weight is c.extra["b"].weight
    assert c.heads[0].weight.grad.tolist() == v.heads[0].weight.grad.tolist()
    with vl.no_grad():
        c.scale.fill_(5.0)
    assert v.scale.item() == 1.0
    v = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Embedding(5, 2))
    v.register_buffer("cache", vl.ones(2), persistent=False)
    p = pickle.loads(pickle.dumps(v))
    assert isinstance(p[0].weight, nn.Parameter) and p[0].weight.requires_grad
    np.testing.assert_array_equal(to_np(p[2].weight), to_np(v[2].weight))
    assert list(p.state_dict()) == list(v.state_dict()) and "cache" in dict(p.named_buffers())


# ------------------------------------------------------------------------------------------ utils
def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)]
    for norm_type, max_norm in [(2.0, 1.0), (1.0, 2.0), (float("inf"), 0.5), (2.0, 100.0), (3.0, 0.3)]:
        tps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
        vps = [nn.Parameter(vl.zeros(*g.shape)) for g in grads]
        for tp, vp, g in zip(tps, vps, grads):
            tp.grad, vp.grad = torch.tensor(g), vl.tensor(g)
        tn = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
        vn = nn.utils.clip_grad_norm_(vps, max_norm, norm_type=norm_type)
        np.testing.assert_allclose(vn.item(), tn.item(), rtol=1e-6)
        for tp, vp in zip(tps, vps):
            np.testing.assert_allclose(to_np(vp.grad), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="non-finite"):
        p = nn.Parameter(vl.zeros(2))
        p.grad = vl.tensor([float("nan"), 1.0])
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([nn.Parameter(vl.zeros(2))], 1.0).item() == 0.0


def test_clip_grad_value_and_vector_conversion():
    p = nn.Parameter(vl.zeros(4))
    p.grad = vl.tensor([-3.0, -0.5, 0.2, 9.0])
    nn.utils.clip_grad_value_(p, 1.0)
    np.testing.assert_allclose(to_np(p.grad), [-1.0, -0.5, 0.2, 1.0])
    m = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(m.parameters())
    tm = torch.nn.Linear(3, 2)
    copy_torch_weights(m, tm)
    vec = nn.utils.parameters_to_vector(m.parameters())
    expected = torch.nn.utils.parameters_to_vector(tm.parameters()).detach().numpy()
    np.testing.assert_allclose(to_np(vec), expected)
    nn.utils.vector_to_parameters(vl.arange(8, dtype=vl.float32), m.parameters())
    assert m.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and m.bias.tolist() == [6, 7]
    with pytest.raises(ValueError, match="8 elements"):
        nn.utils.vector_to_parameters(vl.ones(3), m.parameters())
