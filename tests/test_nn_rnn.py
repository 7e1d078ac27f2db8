"""RNN / LSTM / GRU and their cells against PyTorch with the same weights: outputs, final states and all
gradients, for layers, directions, batch_first, initial states, unbatched input; state-dict keys; errors."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import copy_torch_weights, to_np
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")

RNG = np.random.default_rng(0)


def _pair(name, *args, **kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **kwargs)
    vm = getattr(nn, name)(*args, **kwargs)
    assert list(vm.state_dict()) == list(tm.state_dict())
    assert [tuple(p.shape) for p in vm.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    assert repr(vm) == repr(tm)
    copy_torch_weights(vm, tm)
    return tm, vm


def _flat(out):
    """Every tensor in an RNN result, in order: output, h_n (, c_n)."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _run_both(tm, vm, x, states=None, atol=1e-5, grad_atol=1e-5):
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    args_t, args_v = [tx], [vx]
    t_states, v_states = [], []
    if states is not None:
        t_states = [torch.tensor(s, requires_grad=True) for s in states]
        v_states = [vl.tensor(s, requires_grad=True) for s in states]
        pack = (lambda s: tuple(s)) if len(states) == 2 else (lambda s: s[0])
        args_t.append(pack(t_states))
        args_v.append(pack(v_states))
    t_out, v_out = _flat(tm(*args_t)), _flat(vm(*args_v))
    assert len(t_out) == len(v_out)
    loss_t, loss_v = 0, 0
    for i, (a, b) in enumerate(zip(v_out, t_out)):
        assert tuple(a.shape) == tuple(b.shape), f"result {i}: {tuple(a.shape)} != {tuple(b.shape)}"
        np.testing.assert_allclose(to_np(a), b.detach().numpy(), atol=atol, err_msg=f"result {i}")
        w = RNG.uniform(0.5, 1.5, size=tuple(b.shape)).astype(np.float32)
        loss_t = loss_t + (b * torch.tensor(w)).sum()
        loss_v = loss_v + (a * vl.tensor(w)).sum()
    loss_t.backward()
    loss_v.backward()
    np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), atol=grad_atol, err_msg="input grad")
    for i, (a, b) in enumerate(zip(v_states, t_states)):
        np.testing.assert_allclose(to_np(a.grad), b.grad.numpy(), atol=grad_atol, err_msg=f"state {i} grad")
    t_params = dict(tm.named_parameters())
    for name, p in vm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), t_params[name].grad.numpy(), atol=grad_atol, err_msg=name)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layers,bidir,batch_first,bias", [(1, False, False, True), (2, True, False, True),
                                                           (2, False, True, False), (1, True, True, True)])
def test_recurrent_layers_match_torch(name, layers, bidir, batch_first, bias):
    tm, vm = _pair(name, 5, 7, num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias)
    x = RNG.normal(size=(3, 4, 5) if batch_first else (4, 3, 5)).astype(np.float32)
    _run_both(tm, vm, x)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_initial_states_and_unbatched(name):
    tm, vm = _pair(name, 3, 4, num_layers=2, bidirectional=True)
    n_states = 2 if name == "LSTM" else 1
    x = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    states = [RNG.normal(size=(4, 2, 4)).astype(np.float32) for _ in range(n_states)]
    _run_both(tm, vm, x, states)
    x1 = RNG.normal(size=(5, 3)).astype(np.float32)
    states1 = [RNG.normal(size=(4, 4)).astype(np.float32) for _ in range(n_states)]
    _run_both(tm, vm, x1, states1)
    _run_both(tm, vm, x1)


def test_rnn_relu_nonlinearity():
    tm, vm = _pair("RNN", 3, 4, nonlinearity="relu", num_layers=2)
    _run_both(tm, vm, RNG.normal(size=(6, 2, 3)).astype(np.float32))


def test_dropout_between_layers_train_and_eval():
    tm, vm = _pair("LSTM", 3, 4, num_layers=3, dropout=0.5)
    x = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    tm.eval(), vm.eval()
    _run_both(tm, vm, x)  # eval: no dropout, equal to PyTorch
    vm.train()
    vl.manual_seed(0)
    a = to_np(vm(vl.tensor(x))[0])
    vl.manual_seed(1)
    b = to_np(vm(vl.tensor(x))[0])
    assert not np.allclose(a, b)  # training: dropout between layers is active
    vm.eval()
    np.testing.assert_allclose(to_np(vm(vl.tensor(x))[0]), tm(torch.tensor(x))[0].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("name,n_states", [("LSTMCell", 2), ("GRUCell", 1), ("RNNCell", 1)])
def test_cells_match_torch(name, n_states):
    tm, vm = _pair(name, 3, 5)
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == repr(torch.nn.RNNCell(2, 3, nonlinearity="relu"))
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    states = [RNG.normal(size=(4, 5)).astype(np.float32) for _ in range(n_states)]
    _run_both(tm, vm, x, states)
    _run_both(tm, vm, x)
    _run_both(tm, vm, x[0], [s[0] for s in states])


def test_cell_gradcheck_float64():
    cell = nn.GRUCell(2, 3).double()
    gradcheck(lambda x, h: cell(x, h), [RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))])
    lstm = nn.LSTM(2, 3).double()
    gradcheck(lambda x: lstm(x)[0], [RNG.normal(size=(3, 1, 2))])


def test_default_init_range():
    vl.manual_seed(0)
    m = nn.LSTM(10, 64, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(64)
    for p in m.parameters():
        data = to_np(p)
        assert np.abs(data).max() <= bound and np.abs(data).max() > 0.9 * bound
    assert len(m.all_weights) == 4 and len(m.all_weights[0]) == 4


def test_errors():
    m = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="input_size. Expected 3, got 5"):
        m(vl.ones(2, 1, 5))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(vl.ones(1, 2, 1, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 1, 4\)"):
        m(vl.ones(2, 1, 3), (vl.zeros(1, 1, 5), vl.zeros(1, 1, 4)))
    with pytest.raises(TypeError, match="tuple"):
        m(vl.ones(2, 1, 3), vl.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=2.0)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)


def test_double_backward_is_refused_clearly():
    m = nn.GRU(2, 3)
    x = vl.tensor(RNG.normal(size=(2, 1, 2)).astype(np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="double backward"):
        vl.autograd.grad(m(x)[0].sum(), x, create_graph=True)
