"""nn.utils.rnn (pad/pack/unpack) and RNN/LSTM/GRU on PackedSequence input, against PyTorch: values,
batch_sizes/indices, and gradients back to the padded input and the weights."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require

torch = require("torch")
TR = torch.nn.utils.rnn
VR = vl.nn.utils.rnn


def _seqs(lengths, feat=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n, feat)).astype(dtype) for n in lengths]


def _pair(arrays, grad=True):
    return ([torch.tensor(a, requires_grad=grad) for a in arrays],
            [vl.tensor(a, requires_grad=grad) for a in arrays])


def _close(ours, ref, **kw):
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6, **kw)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    ts, vs = _pair(_seqs([2, 4, 1]))
    ref = TR.pad_sequence(ts, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    ours = VR.pad_sequence(vs, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    _close(ours, ref)
    w = np.random.default_rng(1).uniform(size=tuple(ref.shape)).astype(np.float32)
    (ref * torch.tensor(w)).sum().backward()
    (ours * vl.tensor(w)).sum().backward()
    for a, b in zip(vs, ts):
        _close(a.grad, b.grad)


@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 2, 2, 1]), (False, [2, 4, 1, 3])])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_roundtrip(enforce_sorted, lengths, batch_first):
    arrays = _seqs(lengths)
    ts, vs = _pair(arrays, grad=False)
    tpad = TR.pad_sequence(ts, batch_first=batch_first).requires_grad_()
    vpad = VR.pad_sequence(vs, batch_first=batch_first).requires_grad_()
    tp = TR.pack_padded_sequence(tpad, torch.tensor(lengths), batch_first, enforce_sorted)
    vp = VR.pack_padded_sequence(vpad, vl.tensor(lengths), batch_first, enforce_sorted)
    _close(vp.data, tp.data)
    np.testing.assert_array_equal(vp.batch_sizes.numpy(), tp.batch_sizes.numpy())
    for a, b in ((vp.sorted_indices, tp.sorted_indices), (vp.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a.numpy(), b.numpy()))
    tout, tlen = TR.pad_packed_sequence(tp, batch_first, padding_value=9.0, total_length=6)
    vout, vlen = VR.pad_packed_sequence(vp, batch_first, padding_value=9.0, total_length=6)
    _close(vout, tout)
    np.testing.assert_array_equal(vlen.numpy(), tlen.numpy())
    w = np.random.default_rng(2).uniform(size=tuple(tout.shape)).astype(np.float32)
    (tout * torch.tensor(w)).sum().backward()
    (vout * vl.tensor(w)).sum().backward()
    _close(vpad.grad, tpad.grad)


def test_pack_sequence_and_unpack():
    ts, vs = _pair(_seqs([3, 1, 2]), grad=False)
    tp, vp = TR.pack_sequence(ts, enforce_sorted=False), VR.pack_sequence(vs, enforce_sorted=False)
    _close(vp.data, tp.data)
    for a, b in zip(VR.unpack_sequence(vp), TR.unpack_sequence(tp)):
        _close(a, b)
    assert isinstance(vp, VR.PackedSequence) and isinstance(vp, tuple)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        VR.pack_sequence(vs)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_packed_input(kind, bidirectional):
    lengths = [2, 5, 3]
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=True)
    vm = getattr(vl.nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=True)
    vm.load_state_dict({k: vl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    arrays = _seqs(lengths)
    D = 2 if bidirectional else 1
    h0 = np.random.default_rng(5).uniform(-1, 1, (2 * D, 3, 4)).astype(np.float32)
    ts, vs = _pair(arrays)
    th = (torch.tensor(h0), torch.tensor(h0 * 0.5)) if kind == "LSTM" else torch.tensor(h0)
    vh = (vl.tensor(h0), vl.tensor(h0 * 0.5)) if kind == "LSTM" else vl.tensor(h0)
    tp = TR.pack_padded_sequence(TR.pad_sequence(ts, True), torch.tensor(lengths), True, False)
    vp = VR.pack_padded_sequence(VR.pad_sequence(vs, True), vl.tensor(lengths), True, False)
    tout, thn = tm(tp, th)
    vout, vhn = vm(vp, vh)
    assert isinstance(vout, VR.PackedSequence)
    _close(vout.data, tout.data)
    thn, vhn = (thn if kind == "LSTM" else (thn,)), (vhn if kind == "LSTM" else (vhn,))
    for a, b in zip(vhn, thn):
        _close(a, b)
    tpad, _ = TR.pad_packed_sequence(tout, batch_first=True)
    vpad, _ = VR.pad_packed_sequence(vout, batch_first=True)
    _close(vpad, tpad)
    ((tpad ** 2).sum() + sum((h ** 2).sum() for h in thn)).backward()
    ((vpad ** 2).sum() + sum((h ** 2).sum() for h in vhn)).backward()
    for a, b in zip(vs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(vm.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_pack_pad_gradcheck():
    lengths = [3, 1, 2]

    def fn(x):
        p = VR.pack_padded_sequence(x, lengths, enforce_sorted=False)
        return VR.pad_packed_sequence(p, padding_value=0.5)[0] * 2

    gradcheck(fn, [np.random.default_rng(0).uniform(-1, 1, (3, 3, 2))])


def test_lstm_packed_gradcheck():
    vm = vl.nn.LSTM(2, 3).double()

    def fn(x):
        out, (h, c) = vm(VR.pack_padded_sequence(x, [3, 1], enforce_sorted=False))
        return vl.cat([out.data.flatten(), h.flatten(), c.flatten()])

    gradcheck(fn, [np.random.default_rng(0).uniform(-1, 1, (3, 2, 2))])
