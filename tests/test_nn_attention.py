"""Attention against PyTorch with the same weights: scaled_dot_product_attention, MultiheadAttention (masks,
kdim/vdim, bias_kv, zero_attn, weights), TransformerEncoderLayer / TransformerEncoder; float64 gradchecks."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.nn_check import copy_torch_weights, to_np
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------- SDPA
def _sdpa(**kw):
    """The torch and visionlite SDPA with the same keyword arguments (numpy masks converted)."""
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    vkw = {k: vl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return (lambda *a: TF.scaled_dot_product_attention(*a, **tkw),
            lambda *a: F.scaled_dot_product_attention(*a, **vkw))


def test_sdpa_plain_scale_and_causal():
    q, k, v = _normal(2, 3, 4, 8), _normal(2, 3, 6, 8), _normal(2, 3, 6, 5)
    helper_test_op(None, *_sdpa(), inputs=[q, k, v])
    helper_test_op(None, *_sdpa(scale=0.3), inputs=[q, k, v])
    helper_test_op(None, *_sdpa(is_causal=True), inputs=[q, _normal(2, 3, 4, 8), _normal(2, 3, 4, 5)])


def test_sdpa_masks_and_gqa():
    q, k, v = _normal(2, 4, 3, 8), _normal(2, 4, 5, 8), _normal(2, 4, 5, 8)
    allowed = RNG.uniform(size=(3, 5)) > 0.3
    allowed[:, 0] = True  # every query keeps at least one key
    helper_test_op(None, *_sdpa(attn_mask=allowed), inputs=[q, k, v])
    helper_test_op(None, *_sdpa(), inputs=[q, k, v, _normal(2, 1, 3, 5)])  # a float mask, differentiated
    helper_test_op(None, *_sdpa(enable_gqa=True), inputs=[q, _normal(2, 2, 5, 8), _normal(2, 2, 5, 8)])


def test_sdpa_gradcheck():
    gradcheck(F.scaled_dot_product_attention, [RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4)),
                                               RNG.normal(size=(2, 5, 3))])


# ----------------------------------------------------------------------------------------- MHA
def _mha_pair(*args, **kwargs):
    torch.manual_seed(0)
    tm, vm = torch.nn.MultiheadAttention(*args, **kwargs), nn.MultiheadAttention(*args, **kwargs)
    assert list(vm.state_dict()) == list(tm.state_dict())
    assert repr(vm) == repr(tm)
    copy_torch_weights(vm, tm)
    return tm, vm


def _compare_mha(tm, vm, inputs, **kw):
    """Compare outputs (and weights) and gradients of inputs and parameters."""
    t_in = [torch.tensor(x, requires_grad=True) for x in inputs]
    v_in = [vl.tensor(x, requires_grad=True) for x in inputs]
    if len(inputs) == 1:
        t_in, v_in = t_in * 3, v_in * 3  # self-attention: the same tensor three times
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    vkw = {k: vl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    t_out, t_w = tm(*t_in, **tkw)
    v_out, v_w = vm(*v_in, **vkw)
    np.testing.assert_allclose(to_np(v_out), t_out.detach().numpy(), atol=1e-5)
    if t_w is None:
        assert v_w is None
    else:
        np.testing.assert_allclose(to_np(v_w), t_w.detach().numpy(), atol=1e-6)
    w = RNG.uniform(0.5, 1.5, size=tuple(t_out.shape)).astype(np.float32)
    loss_t = (t_out * torch.tensor(w)).sum() + (0 if t_w is None else (t_w ** 2).sum())
    loss_v = (v_out * vl.tensor(w)).sum() + (0 if v_w is None else (v_w ** 2).sum())
    loss_t.backward()
    loss_v.backward()
    for a, b in zip(v_in, t_in):
        np.testing.assert_allclose(to_np(a.grad), b.grad.numpy(), atol=1e-5)
    tp = dict(tm.named_parameters())
    for name, p in vm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), tp[name].grad.numpy(), atol=1e-5, err_msg=name)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_mha_self_attention(batch_first, average):
    tm, vm = _mha_pair(8, 2, batch_first=batch_first)
    x = _normal(3, 5, 8) if batch_first else _normal(5, 3, 8)
    _compare_mha(tm, vm, [x], average_attn_weights=average)
    _compare_mha(tm, vm, [x], need_weights=False)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_mha_masks():
    tm, vm = _mha_pair(8, 4)
    q, kv = _normal(4, 2, 8), _normal(6, 2, 8)
    pad = np.zeros((2, 6), dtype=bool)
    pad[0, 4:] = True
    causal_like = np.triu(np.ones((4, 6), dtype=bool), 3)
    _compare_mha(tm, vm, [q, kv, kv], key_padding_mask=pad)
    _compare_mha(tm, vm, [q, kv, kv], attn_mask=causal_like)
    _compare_mha(tm, vm, [q, kv, kv], attn_mask=_normal(8, 4, 6), key_padding_mask=pad)
    _compare_mha(tm, vm, [q, kv, kv], attn_mask=_normal(4, 6), key_padding_mask=pad.astype(np.float32) * -3)


def test_mha_kdim_vdim_bias_kv_zero_attn_and_no_bias():
    tm, vm = _mha_pair(8, 2, kdim=5, vdim=3)
    _compare_mha(tm, vm, [_normal(4, 2, 8), _normal(6, 2, 5), _normal(6, 2, 3)])
    tm, vm = _mha_pair(8, 2, add_bias_kv=True, add_zero_attn=True)
    pad = np.zeros((2, 6), dtype=bool)
    pad[1, 5] = True
    _compare_mha(tm, vm, [_normal(4, 2, 8), _normal(6, 2, 8), _normal(6, 2, 8)], key_padding_mask=pad,
                 attn_mask=np.triu(np.ones((4, 6), dtype=bool), 4))
    tm, vm = _mha_pair(8, 2, bias=False)
    _compare_mha(tm, vm, [_normal(4, 2, 8)])


def test_mha_unbatched_and_dropout():
    tm, vm = _mha_pair(6, 3, dropout=0.3)
    tm.eval(), vm.eval()  # dropout off in eval
    _compare_mha(tm, vm, [_normal(5, 6)])
    vm.train()
    vl.manual_seed(0)
    a = to_np(vm(*[vl.tensor(_normal(5, 2, 6))] * 3)[1])
    assert a.shape == (2, 5, 5)


def test_mha_default_init_and_errors():
    vl.manual_seed(0)
    m = nn.MultiheadAttention(16, 4)
    assert np.all(to_np(m.in_proj_bias) == 0) and np.all(to_np(m.out_proj.bias) == 0)
    bound = np.sqrt(6 / (16 + 48))
    assert np.abs(to_np(m.in_proj_weight)).max() <= bound
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(*[vl.ones(3, 1, 16)] * 3, attn_mask=vl.ones(2, 2, dtype=vl.bool))


# --------------------------------------------------------------------------------- transformer
@pytest.mark.parametrize("norm_first,activation,batch_first", [(False, "relu", False), (True, "gelu", True)])
def test_transformer_encoder_layer(norm_first, activation, batch_first):
    kw = dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first,
              batch_first=batch_first)
    torch.manual_seed(0)
    tm, vm = torch.nn.TransformerEncoderLayer(8, 2, **kw), nn.TransformerEncoderLayer(8, 2, **kw)
    assert list(vm.state_dict()) == list(tm.state_dict()) and repr(vm) == repr(tm)
    copy_torch_weights(vm, tm)
    x = _normal(2, 5, 8) if batch_first else _normal(5, 2, 8)
    pad = np.zeros((2, 5), dtype=bool)
    pad[1, 3:] = True
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    t_out = tm(tx, src_key_padding_mask=torch.tensor(pad))
    v_out = vm(vx, src_key_padding_mask=vl.tensor(pad))
    np.testing.assert_allclose(to_np(v_out), t_out.detach().numpy(), atol=1e-5)
    t_out.pow(2).sum().backward()
    (v_out * v_out).sum().backward()
    np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), atol=1e-4)
    tp = dict(tm.named_parameters())
    for name, p in vm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), tp[name].grad.numpy(), atol=1e-4, err_msg=name)


def test_transformer_encoder_stack_matches_torch():
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
    tm = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    vm = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True), 2,
                               norm=nn.LayerNorm(8))
    assert list(vm.state_dict()) == list(tm.state_dict())
    assert repr(vm) == repr(tm)
    assert vm.layers[0].linear1.weight is not vm.layers[1].linear1.weight  # independent copies
    copy_torch_weights(vm, tm)
    tm.eval(), vm.eval()
    x = _normal(3, 4, 8)
    mask = np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1)
    with torch.no_grad():
        expected = tm(torch.tensor(x), mask=torch.tensor(mask)).numpy()
    np.testing.assert_allclose(to_np(vm(vl.tensor(x), mask=vl.tensor(mask))), expected, atol=1e-5)
