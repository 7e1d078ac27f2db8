"""``F.scaled_dot_product_attention`` against PyTorch's (forward and the gradients of every float input,
masks of each kind, causal, scale, grouped-query heads, dropout), float64 finite-difference gradchecks, and
``nn.MultiheadAttention`` the way the Vision Transformer calls it (``batch_first=True``,
``need_weights=False``), including PyTorch's fused eval fast path."""
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


def _normal(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed + sum(shape)).normal(size=shape).astype(dtype)


def _pair(**kw):
    """torch's and visionlite's SDPA with the same keyword arguments (numpy masks converted to each)."""
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    vkw = {k: vl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return (lambda *a: TF.scaled_dot_product_attention(*a, **tkw),
            lambda *a: F.scaled_dot_product_attention(*a, **vkw))


def _qkv(lead, L, S, E=8, Ev=5, dtype=np.float32):
    return [_normal(*lead, L, E, seed=1, dtype=dtype), _normal(*lead, S, E, seed=2, dtype=dtype),
            _normal(*lead, S, Ev, seed=3, dtype=dtype)]


@pytest.mark.parametrize("lead,L,S", [((2, 3), 4, 6), ((3,), 5, 5), ((), 4, 7), ((2, 1, 2), 3, 3)])
def test_plain_and_scale(lead, L, S):
    helper_test_op(None, *_pair(), inputs=_qkv(lead, L, S))
    helper_test_op(None, *_pair(scale=0.37), inputs=_qkv(lead, L, S))


@pytest.mark.parametrize("L,S", [(4, 4), (3, 6), (6, 3)])
def test_causal_top_left_aligned(L, S):
    helper_test_op(None, *_pair(is_causal=True), inputs=_qkv((2, 2), L, S))


def test_bool_masks_broadcast_and_fully_masked_rows():
    rng = np.random.default_rng(4)
    q, k, v = _qkv((2, 3), 4, 6)
    allowed = rng.uniform(size=(4, 6)) > 0.4
    allowed[:, 0] = True
    helper_test_op(None, *_pair(attn_mask=allowed), inputs=[q, k, v])
    per_head = rng.uniform(size=(2, 3, 4, 6)) > 0.5
    per_head[..., 1] = True
    helper_test_op(None, *_pair(attn_mask=per_head), inputs=[q, k, v])
    # A query with every key masked: PyTorch returns zeros (and zero gradients), not NaN.
    blocked = allowed.copy()
    blocked[2] = False
    out = helper_test_op(None, *_pair(attn_mask=blocked), inputs=[q, k, v])
    assert np.all(to_np(out)[:, :, 2] == 0)


def test_float_masks_differentiated_and_minus_inf_rows():
    q, k, v = _qkv((2, 3), 4, 6)
    helper_test_op(None, *_pair(), inputs=[q, k, v, _normal(2, 1, 4, 6, seed=5)])  # mask gets a gradient too
    mask = _normal(4, 6, seed=6)
    mask[1, 2:] = -np.inf
    mask[3] = -np.inf  # a fully masked row
    helper_test_op(None, *_pair(attn_mask=mask), inputs=[q, k, v])
    # float32 mask on float64 inputs, and a mask of the query's dtype, both allowed by PyTorch
    helper_test_op(None, *_pair(attn_mask=mask), inputs=_qkv((2,), 4, 6, dtype=np.float64), dtype=np.float64)
    helper_test_op(None, *_pair(attn_mask=mask.astype(np.float64)), inputs=_qkv((2,), 4, 6, dtype=np.float64),
                   dtype=np.float64)


def test_grouped_query_and_broadcast_heads():
    q = _normal(2, 6, 4, 8, seed=7)
    kv2 = [_normal(2, 2, 5, 8, seed=8), _normal(2, 2, 5, 3, seed=9)]
    helper_test_op(None, *_pair(enable_gqa=True), inputs=[q, *kv2])
    helper_test_op(None, *_pair(enable_gqa=True, is_causal=True), inputs=[q, *kv2])
    kv1 = [_normal(2, 1, 5, 8, seed=10), _normal(2, 1, 5, 3, seed=11)]
    helper_test_op(None, *_pair(), inputs=[q, *kv1])  # one key/value head broadcast over six query heads
    helper_test_op(None, *_pair(enable_gqa=True), inputs=[q, *kv1])


def test_gradcheck_float64():
    rng = np.random.default_rng(12)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    allowed = rng.uniform(size=(3, 5)) > 0.4
    allowed[:, 0] = True
    allowed[1] = False
    mask = vl.tensor(allowed)
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask), [q, k, v])
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True, scale=0.6),
              [q, rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 3))])
    gradcheck(F.scaled_dot_product_attention, [q, k, v, rng.normal(size=(3, 5))])  # float mask differentiated


def test_float64_gradients_equal_torch():
    q, k, v = _qkv((2, 2), 3, 5, dtype=np.float64)
    mask = np.random.default_rng(13).normal(size=(3, 5))
    helper_test_op(None, *_pair(scale=0.5), inputs=[q, k, v, mask], dtype=np.float64, atol=1e-12, rtol=1e-10,
                   grad_atol=1e-12, grad_rtol=1e-10)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_on_the_attention_weights(p):
    """Same seed -> the same keep mask as ``F.dropout`` of the weights' shape; the output must then equal
    PyTorch's softmax(QK^T)·keep/(1-p) @ V, and gradients flow only through the kept weights."""
    q, k, v = _qkv((2, 2), 4, 6)
    vq, vk, vv = (vl.tensor(a, requires_grad=True) for a in (q, k, v))
    vl.manual_seed(21)
    out = F.scaled_dot_product_attention(vq, vk, vv, dropout_p=p)
    vl.manual_seed(21)
    keep = to_np(F.dropout(vl.ones(2, 2, 4, 6), p, training=True))
    assert set(np.unique(keep)) <= {np.float32(0), np.float32(1 / (1 - p) if p < 1 else 0)}
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    weights = torch.softmax(tq @ tk.transpose(-2, -1) / np.sqrt(8), -1)
    expected = (weights * torch.tensor(keep)) @ tv
    np.testing.assert_allclose(to_np(out), expected.detach().numpy(), atol=1e-5)
    out.sum().backward()
    expected.sum().backward()
    for a, b in zip((vq, vk, vv), (tq, tk, tv)):
        np.testing.assert_allclose(to_np(a.grad), b.grad.numpy(), atol=1e-5)


def test_errors_as_torch():
    q, k, v = (vl.tensor(a) for a in _qkv((2,), 4, 6))
    with pytest.raises(RuntimeError, match="should not be set when is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=vl.ones(4, 6, dtype=vl.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=vl.ones(4, 6, dtype=vl.int64))
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=vl.zeros(4, 6, dtype=vl.float64))
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    q6 = vl.tensor(_normal(1, 6, 4, 8))
    with pytest.raises(RuntimeError, match="must divide the number of heads"):
        F.scaled_dot_product_attention(q6, vl.zeros(1, 4, 5, 8), vl.zeros(1, 4, 5, 8), enable_gqa=True)


# ------------------------------------------------------------------------ MultiheadAttention as ViT uses it
def _vit_attention(dropout=0.0):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(16, 4, dropout=dropout, batch_first=True)
    vm = nn.MultiheadAttention(16, 4, dropout=dropout, batch_first=True)
    assert list(vm.state_dict()) == list(tm.state_dict())
    copy_torch_weights(vm, tm)
    return tm, vm


def test_mha_batch_first_need_weights_false_forward_and_backward():
    tm, vm = _vit_attention()
    x = _normal(3, 7, 16, seed=14)
    tx, vx = torch.tensor(x, requires_grad=True), vl.tensor(x, requires_grad=True)
    t_out, t_w = tm(tx, tx, tx, need_weights=False)
    v_out, v_w = vm(vx, vx, vx, need_weights=False)
    assert t_w is None and v_w is None
    np.testing.assert_allclose(to_np(v_out), t_out.detach().numpy(), atol=1e-5)
    w = np.random.default_rng(15).uniform(0.5, 1.5, size=x.shape).astype(np.float32)
    (t_out * torch.tensor(w)).sum().backward()
    (v_out * vl.tensor(w)).sum().backward()
    np.testing.assert_allclose(to_np(vx.grad), tx.grad.numpy(), atol=1e-5)
    tp = dict(tm.named_parameters())
    for name, p in vm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), tp[name].grad.numpy(), atol=1e-5, err_msg=name)


def test_mha_eval_equals_torch_fast_path():
    """In eval mode without grad PyTorch takes its fused native kernel (the 'fast path'); same numbers."""
    tm, vm = _vit_attention(dropout=0.1)
    tm.eval(), vm.eval()
    x = _normal(2, 9, 16, seed=16)
    with torch.inference_mode():
        fast = tm(*[torch.tensor(x)] * 3, need_weights=False)[0].numpy()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.inference_mode():
            slow = tm(*[torch.tensor(x)] * 3, need_weights=False)[0].numpy()
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    with vl.no_grad():
        ours = to_np(vm(*[vl.tensor(x)] * 3, need_weights=False)[0])
    np.testing.assert_allclose(ours, fast, atol=1e-5)
    np.testing.assert_allclose(ours, slow, atol=1e-5)


def test_mha_dropout_only_in_training():
    tm, vm = _vit_attention(dropout=0.5)
    x = vl.tensor(_normal(2, 5, 16, seed=17))
    vm.eval()
    with vl.no_grad():
        a, b = (to_np(vm(x, x, x, need_weights=False)[0]) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    vm.train()
    vl.manual_seed(3)
    c = to_np(vm(x, x, x, need_weights=False)[0])
    assert not np.allclose(c, a)
