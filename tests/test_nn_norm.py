"""Normalization: batch norm (train/eval, running statistics), layer, group, instance and local response
norm, functional and modules, against PyTorch and float64 finite differences."""
import re

import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional


def _same_repr(vm, tm):
    """Module reprs agree; torch releases before the norm layers' ``bias`` flag print none."""
    ours = repr(vm)
    if "bias=" not in repr(tm):
        ours = re.sub(r", bias=(True|False)", "", ours)
    assert ours == repr(tm)


def _close(v, t, atol=1e-5):
    np.testing.assert_allclose(v.detach().cpu().numpy(), t.detach().numpy(), atol=atol, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (8, 5), (4, 3, 7)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_functional_matches_torch(shape, training, affine, device):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)  # off-centre: exercises the centring
    params = [rng.standard_normal(c).astype(np.float32) for _ in range(2)] if affine else []
    rm, rv = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    t_stats = [torch.tensor(rm), torch.tensor(rv)]
    v_stats = [vl.tensor(rm, device=device), vl.tensor(rv, device=device)]

    def run(lib_f, stats):
        return lambda x, *p: lib_f(x, *stats, *(p or (None, None)), training, 0.3, 1e-5)

    helper_test_op([shape] + [(c,)] * len(params), run(TF.batch_norm, t_stats), run(F.batch_norm, v_stats),
                   inputs=[x] + params, device=device, grad_atol=1e-4)
    for v, t in zip(v_stats, t_stats):  # updated in training by each library's one forward
        _close(v, t, 1e-6)


def _twin(tm, vm):
    vm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, vm


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.BatchNorm2d(4), (3, 4, 5, 6)),
    (lambda m: m.BatchNorm2d(4, momentum=None), (3, 4, 5, 6)),  # cumulative moving average
    (lambda m: m.BatchNorm2d(4, affine=False, momentum=0.5, eps=1e-3), (3, 4, 5, 6)),
    (lambda m: m.BatchNorm1d(5), (6, 5)),
    (lambda m: m.BatchNorm1d(5, momentum=None), (6, 5, 3)),
    (lambda m: m.BatchNorm3d(2), (2, 2, 3, 3, 3)),
    (lambda m: m.BatchNorm2d(4, track_running_stats=False), (3, 4, 5, 6)),
    (lambda m: m.InstanceNorm2d(4, affine=True, track_running_stats=True), (3, 4, 5, 6)),
    (lambda m: m.InstanceNorm2d(4), (4, 5, 6)),
    (lambda m: m.InstanceNorm1d(4, affine=True), (3, 4, 7)),
])
def test_norm_modules_train_then_eval_match_torch(make, shape):
    tm, vm = make(torch.nn), make(nn)
    _twin(tm, vm)
    _same_repr(vm, tm)
    sd_t, sd_v = tm.state_dict(), vm.state_dict()
    assert list(sd_v) == list(sd_t)
    for k in sd_t:
        assert tuple(sd_v[k].shape) == tuple(sd_t[k].shape)
        assert str(sd_v[k].dtype).split(".")[-1] == str(sd_t[k].dtype).split(".")[-1], k
    rng = np.random.default_rng(0)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
        ty, vy = tm(tx), vm(vx)
        _close(vy, ty, 1e-4)
        w = rng.standard_normal(shape).astype(np.float32)
        (ty * torch.tensor(w)).sum().backward()
        (vy * vl.tensor(w)).sum().backward()
        _close(vx.grad, tx.grad, 1e-4)
        if tm.weight is not None:
            _close(vm.weight.grad, tm.weight.grad, 1e-4)
            _close(vm.bias.grad, tm.bias.grad, 1e-4)
    for k, v in tm.state_dict().items():  # running statistics and the batch counter
        _close(vm.state_dict()[k], v, 1e-5)
    tm.eval()
    vm.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    ty, vy = tm(tx), vm(vx)
    _close(vy, ty, 1e-4)
    ty.sum().backward()
    vy.sum().backward()
    _close(vx.grad, tx.grad, 1e-4)


def test_batch_norm_counts_batches_as_int64():
    m = nn.BatchNorm2d(3)
    assert m.num_batches_tracked.dtype == vl.int64
    for _ in range(3):
        m(vl.randn(2, 3, 4, 4))
    assert m.num_batches_tracked.item() == 3
    m.eval()
    m(vl.randn(2, 3, 4, 4))
    assert m.num_batches_tracked.item() == 3


def test_batch_norm_loads_checkpoints_without_counter():
    t = torch.nn.BatchNorm2d(3)
    t.running_mean.fill_(0.5)
    sd = {k: v.numpy() for k, v in t.state_dict().items() if k != "num_batches_tracked"}
    m = nn.BatchNorm2d(3)
    m.load_state_dict(sd)  # a plain dict has no version metadata: treated as an old checkpoint
    assert m.num_batches_tracked.item() == 0
    np.testing.assert_allclose(m.running_mean.numpy(), 0.5)


@pytest.mark.parametrize("call,err,pattern", [
    (lambda: nn.BatchNorm2d(3)(vl.randn(2, 3, 4)), ValueError, "expected 4D input"),
    (lambda: nn.BatchNorm1d(3)(vl.randn(2, 3, 4, 4)), ValueError, "expected 2D or 3D input"),
    (lambda: nn.BatchNorm2d(3)(vl.randn(1, 3, 1, 1)), ValueError, "more than 1 value per channel"),
    (lambda: nn.BatchNorm2d(4)(vl.randn(2, 3, 4, 4)), RuntimeError, "should contain 3 elements"),
    (lambda: F.batch_norm(vl.randn(2, 3), None, None, training=False), RuntimeError, "running_mean"),
    (lambda: F.layer_norm(vl.randn(2, 3), (4,)), RuntimeError, "expected input with shape \\[\\*, 4\\]"),
    (lambda: F.group_norm(vl.randn(2, 6, 4), 4), RuntimeError, "divisible by num_groups"),
    (lambda: nn.GroupNorm(4, 6), ValueError, "divisible"),
])
def test_bad_inputs_raise_clear_errors(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


@pytest.mark.parametrize("ns,affine,bias", [((5, 6), True, True), (6, False, True), ((6,), True, False)])
def test_layer_norm_matches_torch(ns, affine, bias, device):
    tm = torch.nn.LayerNorm(ns, elementwise_affine=affine, bias=bias)
    vm = nn.LayerNorm(ns, 1e-5, affine, bias)
    _same_repr(vm, tm)
    assert list(vm.state_dict()) == list(tm.state_dict())
    shape = (4, 3, 5, 6)
    params = [p.detach().numpy() + 0.5 for p in tm.parameters()]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    ns_t = tuple(np.atleast_1d(ns).tolist())
    helper_test_op([shape] + [p.shape for p in params], lambda x, *p: TF.layer_norm(x, ns_t, *p),
                   lambda x, *p: F.layer_norm(x, ns, *p), device=device, grad_atol=1e-4, inputs=[x] + params)


@pytest.mark.parametrize("shape,groups", [((4, 6, 5, 3), 3), ((2, 4, 7), 1), ((2, 4, 3, 3), 4)])
def test_group_norm_matches_torch(shape, groups, device):
    c = shape[1]
    helper_test_op([shape, (c,), (c,)], lambda x, w, b: TF.group_norm(x, groups, w, b),
                   lambda x, w, b: F.group_norm(x, groups, w, b), device=device, grad_atol=1e-4)
    tm, vm = _twin(torch.nn.GroupNorm(groups, c), nn.GroupNorm(groups, c))
    _same_repr(vm, tm)


def test_instance_and_local_response_norm_match_torch():
    helper_test_op([(4, 6, 5, 3), (6,), (6,)], lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
                   lambda x, w, b: F.instance_norm(x, weight=w, bias=b), grad_atol=1e-4)
    for args in [(3,), (4, 1e-2, 0.5, 2.0)]:
        helper_test_op([(2, 6, 5, 3)], lambda x, a=args: TF.local_response_norm(x, *a),
                       lambda x, a=args: F.local_response_norm(x, *a))
    tm, vm = torch.nn.LocalResponseNorm(3), nn.LocalResponseNorm(3)
    _same_repr(vm, tm)


@pytest.mark.parametrize("fn,shapes", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(3, 2, 2, 2), (2,), (2,)]),
    (lambda x, w, b: F.batch_norm(x, vl.tensor([0.1, -0.2], dtype=vl.float64),
                                  vl.tensor([1.5, 0.5], dtype=vl.float64), w, b), [(3, 2, 2), (2,), (2,)]),
    (lambda x, w, b: F.layer_norm(x, (3,), w, b), [(2, 4, 3), (3,), (3,)]),
    (lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    (lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [(2, 2, 5), (2,), (2,)]),
    (lambda x: F.local_response_norm(x, 3), [(1, 4, 3)]),
])
def test_norm_gradcheck(fn, shapes):
    rng = np.random.default_rng(0)
    gradcheck(fn, [rng.standard_normal(s) for s in shapes], atol=1e-5)


@pytest.fixture
def threaded(monkeypatch):
    """Split even small arrays across 3 threads, so the parallel paths (uneven parts) are exercised."""
    from visionlite.core.ops import _threads

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    monkeypatch.setenv("VISIONLITE_NUM_THREADS", "3")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_threaded_matches_torch(threaded, training):
    rng = np.random.default_rng(0)
    rm, rv = rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    helper_test_op([(5, 4, 3, 3), (4,), (4,)],
                   lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, training),
                   lambda x, w, b: F.batch_norm(x, vl.tensor(rm), vl.tensor(rv), w, b, training),
                   grad_atol=1e-4)
