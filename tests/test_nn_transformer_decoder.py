"""TransformerDecoderLayer, TransformerDecoder and Transformer against PyTorch with shared weights:
state-dict keys, outputs (masks, padding masks, norm_first, batch_first) and gradients, in eval mode."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")


def _sync(vm, tm):
    assert list(vm.state_dict()) == list(tm.state_dict())
    vm.load_state_dict({k: vl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _check(vout, tout, vparams, tparams, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(vout.detach().numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    w = _arr(*tout.shape, seed=9)
    (tout * torch.tensor(w)).sum().backward()
    (vout * vl.tensor(w)).sum().backward()
    for (name, a), b in zip(vparams, tparams):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer(norm_first, batch_first):
    torch.manual_seed(0)
    kw = dict(dim_feedforward=16, dropout=0.1, batch_first=batch_first, norm_first=norm_first)
    tm = torch.nn.TransformerDecoderLayer(8, 2, activation="gelu", **kw).eval()
    vm = vl.nn.TransformerDecoderLayer(8, 2, activation="gelu", **kw).eval()
    _sync(vm, tm)
    T, S, N = 4, 5, 3
    if batch_first:
        tgt, mem = _arr(N, T, 8), _arr(N, S, 8, seed=1)
    else:
        tgt, mem = _arr(T, N, 8), _arr(S, N, 8, seed=1)
    mask = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    pad = np.zeros((N, S), bool)
    pad[1, -2:] = True
    tt, tmem = torch.tensor(tgt, requires_grad=True), torch.tensor(mem, requires_grad=True)
    vt, vmem = vl.tensor(tgt, requires_grad=True), vl.tensor(mem, requires_grad=True)
    tout = tm(tt, tmem, tgt_mask=torch.tensor(mask), memory_key_padding_mask=torch.tensor(pad))
    vout = vm(vt, vmem, tgt_mask=vl.tensor(mask), memory_key_padding_mask=vl.tensor(pad))
    _check(vout, tout, list(vm.named_parameters()) + [("tgt", vt), ("memory", vmem)],
           list(tm.parameters()) + [tt, tmem])


def test_decoder_stack_with_norm():
    torch.manual_seed(1)
    tl = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12)
    tm = torch.nn.TransformerDecoder(tl, 2, norm=torch.nn.LayerNorm(8)).eval()
    vm = vl.nn.TransformerDecoder(vl.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12), 2,
                                  norm=vl.nn.LayerNorm(8)).eval()
    _sync(vm, tm)
    tgt, mem = _arr(3, 2, 8), _arr(4, 2, 8, seed=1)
    tout = tm(torch.tensor(tgt), torch.tensor(mem))
    vout = vm(vl.tensor(tgt), vl.tensor(mem))
    _check(vout, tout, list(vm.named_parameters()), list(tm.parameters()))


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(batch_first):
    torch.manual_seed(2)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16,
              batch_first=batch_first)
    tm, vm = torch.nn.Transformer(**kw).eval(), vl.nn.Transformer(**kw).eval()
    _sync(vm, tm)
    if batch_first:
        src, tgt = _arr(2, 5, 8), _arr(2, 3, 8, seed=1)
    else:
        src, tgt = _arr(5, 2, 8), _arr(3, 2, 8, seed=1)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(3)
    vmask = vl.nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(vmask.numpy(), tmask.numpy())
    tout = tm(torch.tensor(src), torch.tensor(tgt), tgt_mask=tmask, tgt_is_causal=True)
    vout = vm(vl.tensor(src), vl.tensor(tgt), tgt_mask=vmask, tgt_is_causal=True)
    _check(vout, tout, list(vm.named_parameters()), list(tm.parameters()))


def test_transformer_init_and_errors():
    vm = vl.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=32)
    w = vm.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 32))  # Xavier-uniform on every matrix, as PyTorch
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        vm(vl.ones(3, 2, 16), vl.ones(3, 4, 16))
    with pytest.raises(RuntimeError, match="feature number"):
        vm(vl.ones(3, 2, 8), vl.ones(3, 2, 8))
