"""visionlite.ops building blocks against torchvision.ops: same constructor arguments, state-dict keys,
forward and backward (weights copied from TorchVision's module)."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import compare_modules, copy_torch_weights, to_np
from tests.helpers.refs import require
from visionlite import nn, ops

torch = require("torch")
tv_ops = require("torchvision.ops")
tnn = torch.nn


def _perturb_bn(torch_module, seed=0):
    """Random running statistics and affine parameters, so eval mode is not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in torch_module.modules():
            if isinstance(m, (tnn.BatchNorm2d, tv_ops.FrozenBatchNorm2d)):
                n = m.running_mean.numel()
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)


def _pair(tmod, vmod, seed=0):
    _perturb_bn(tmod, seed)
    assert list(vmod.state_dict()) == list(tmod.state_dict())
    copy_torch_weights(vmod, tmod, strict=True)
    return tmod, vmod


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CONV_CASES = {
    "default": dict(),
    "stride2_k5": dict(kernel_size=5, stride=2),
    "depthwise_silu": dict(groups=8, activation_layer="SiLU"),
    "dilated": dict(dilation=2),
    "tuple_kernel": dict(kernel_size=(3, 5), dilation=(1, 2)),
    "no_norm_has_bias": dict(norm_layer=None),
    "no_activation": dict(activation_layer=None),
    "bias_forced": dict(bias=True),
    "explicit_padding": dict(padding=0, kernel_size=1),
    "inplace_none_hardswish": dict(inplace=None, activation_layer="Hardswish"),
}


def _resolve(kwargs, lib):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("activation_layer"), str):
        kwargs["activation_layer"] = getattr(lib, kwargs["activation_layer"])
    return kwargs


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_norm_activation_matches_torchvision(case, mode):
    kw = CONV_CASES[case]
    torch.manual_seed(0)
    tmod = tv_ops.Conv2dNormActivation(8, 8, **_resolve(kw, tnn))
    vmod = ops.Conv2dNormActivation(8, 8, **_resolve(kw, nn))
    _pair(tmod, vmod)
    assert vmod.out_channels == tmod.out_channels == 8
    assert [type(m).__name__ for m in vmod] == [type(m).__name__ for m in tmod]
    assert vmod[0].padding == tmod[0].padding
    getattr(tmod, mode)()
    getattr(vmod, mode)()
    compare_modules(vmod, tmod, [_x(2, 8, 9, 11)])


def test_conv3d_norm_activation():
    tmod = tv_ops.Conv3dNormActivation(3, 4, kernel_size=3)
    vmod = ops.Conv3dNormActivation(3, 4, kernel_size=3)
    _pair(tmod, vmod)
    compare_modules(vmod.eval(), tmod.eval(), [_x(1, 3, 4, 5, 6)])


@pytest.mark.parametrize("activation,scale", [("ReLU", "Sigmoid"), ("SiLU", "Hardsigmoid")])
def test_squeeze_excitation_matches_torchvision(activation, scale):
    torch.manual_seed(1)
    tmod = tv_ops.SqueezeExcitation(16, 4, getattr(tnn, activation), getattr(tnn, scale))
    vmod = ops.SqueezeExcitation(16, 4, getattr(nn, activation), getattr(nn, scale))
    _pair(tmod, vmod)
    compare_modules(vmod, tmod, [_x(2, 16, 5, 7)])


@pytest.mark.parametrize("kw", [
    dict(hidden_channels=[32, 16]),
    dict(hidden_channels=[24, 24, 6], activation_layer="GELU", bias=False),
    dict(hidden_channels=[12, 5], norm_layer="LayerNorm", inplace=False),
    dict(hidden_channels=[7]),
], ids=["relu", "gelu_nobias", "layernorm", "single"])
def test_mlp_matches_torchvision(kw):
    torch.manual_seed(2)
    tkw, vkw = _resolve(kw, tnn), _resolve(kw, nn)
    if "norm_layer" in kw:
        tkw["norm_layer"], vkw["norm_layer"] = getattr(tnn, kw["norm_layer"]), getattr(nn, kw["norm_layer"])
    tmod = tv_ops.MLP(10, **tkw)
    vmod = ops.MLP(10, **vkw)
    _pair(tmod, vmod)
    assert [type(m).__name__ for m in vmod] == [type(m).__name__ for m in tmod]
    compare_modules(vmod, tmod, [_x(3, 4, 10)])


def test_mlp_dropout_in_eval_is_identity_and_active_in_train():
    torch.manual_seed(3)
    tmod = tv_ops.MLP(6, [8, 4], dropout=0.5).eval()
    vmod = ops.MLP(6, [8, 4], dropout=0.5).eval()
    _pair(tmod, vmod)
    compare_modules(vmod, tmod, [_x(5, 6)])
    vmod.train()
    x = vl.tensor(_x(64, 6))
    hidden = nn.Sequential(*list(vmod)[:-1])(x)
    out, dropped = to_np(hidden), to_np(vmod[-1](hidden))
    assert np.all((dropped == 0) | np.isclose(dropped, 2 * out, rtol=1e-6, atol=1e-7))
    assert 0.3 < np.mean(dropped == 0) < 0.7


def test_permute_matches_torchvision():
    x = _x(2, 3, 4, 5)
    t = tv_ops.Permute([0, 2, 3, 1])(torch.tensor(x))
    v = ops.Permute([0, 2, 3, 1])(vl.tensor(x))
    assert tuple(v.shape) == tuple(t.shape)
    np.testing.assert_array_equal(to_np(v), t.numpy())
    compare_modules(ops.Permute([3, 1, 0, 2]), tv_ops.Permute([3, 1, 0, 2]), [x])


def test_frozen_batchnorm_loads_batchnorm_checkpoint_and_matches():
    bn = tnn.BatchNorm2d(6)
    _perturb_bn(bn, seed=4)
    sd = bn.state_dict()
    assert "num_batches_tracked" in sd
    tmod = tv_ops.FrozenBatchNorm2d(6, eps=1e-3)
    vmod = ops.FrozenBatchNorm2d(6, eps=1e-3)
    tmod.load_state_dict(sd)
    vmod.load_state_dict({k: vl.tensor(v.numpy()) for k, v in sd.items()}, strict=True)
    assert list(vmod.state_dict()) == list(tmod.state_dict())
    assert list(vmod.parameters()) == []
    assert repr(vmod) == repr(tmod)
    compare_modules(vmod, tmod, [_x(2, 6, 3, 4)])
    # the buffers stay frozen in training mode too
    vmod.train()
    before = to_np(vmod.running_mean).copy()
    vmod(vl.tensor(_x(2, 6, 3, 4)))
    np.testing.assert_array_equal(to_np(vmod.running_mean), before)


def test_stochastic_depth_identity_cases():
    x = vl.tensor(_x(4, 3, 2, 2))
    for p, training in [(0.0, True), (0.7, False), (1.0, False)]:
        assert vl.ops.stochastic_depth(x, p, "row", training) is x
    np.testing.assert_array_equal(to_np(ops.stochastic_depth(x, 1.0, "row")), np.zeros(x.shape, np.float32))
    m = ops.StochasticDepth(0.3, "batch").eval()
    assert m(x) is x
    assert repr(m) == repr(tv_ops.StochasticDepth(0.3, "batch"))


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_masks_scale_and_rate(mode):
    vl.manual_seed(0)
    p = 0.25
    x = np.abs(_x(400, 3, 2)) + 0.1
    xt = vl.tensor(x, requires_grad=True)
    out = ops.stochastic_depth(xt, p, mode)
    out.sum().backward()
    y, g = to_np(out), to_np(xt.grad)
    rows = y.reshape(400, -1)
    kept = np.all(rows != 0, axis=1)
    assert np.all(kept | np.all(rows == 0, axis=1))  # a whole row is kept or dropped
    np.testing.assert_allclose(rows[kept], (x.reshape(400, -1) / (1 - p))[kept], rtol=1e-6)
    np.testing.assert_allclose(g, np.where(y != 0, 1 / (1 - p), 0), rtol=1e-6)
    if mode == "row":
        assert 0.65 < kept.mean() < 0.85
    else:
        assert kept.all() or not kept.any()
        rates = [bool(to_np(ops.stochastic_depth(vl.ones(2, 2), p, "batch"))[0, 0]) for _ in range(400)]
        assert 0.65 < np.mean(rates) < 0.85


@pytest.mark.parametrize("p,mode", [(-0.1, "row"), (1.5, "batch"), (0.5, "rows")])
def test_stochastic_depth_errors_match_torchvision(p, mode):
    with pytest.raises(ValueError) as theirs:
        tv_ops.stochastic_depth(torch.ones(2, 2), p, mode)
    with pytest.raises(ValueError) as ours:
        ops.stochastic_depth(vl.ones(2, 2), p, mode)
    assert str(ours.value) == str(theirs.value)


def test_ops_is_lazy_and_distinct_from_core_ops():
    import subprocess
    import sys

    code = ("import sys, visionlite as vl; assert 'visionlite.ops' not in sys.modules; "
            "assert vl.ops.Conv2dNormActivation.__module__ == 'visionlite.ops.misc'; "
            "assert 'ops' not in vl.__all__")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_blocks_on_device_match_cpu(device):
    # Every block on ``device`` gives the CPU result (stochastic depth: the same seeded draws).
    torch.manual_seed(5)
    blocks = [ops.Conv2dNormActivation(6, 6, groups=3, activation_layer=nn.SiLU),
              ops.SqueezeExcitation(6, 2), ops.FrozenBatchNorm2d(6), ops.Permute([0, 2, 3, 1]),
              ops.MLP(7, [8, 4], norm_layer=nn.LayerNorm, dropout=0.0)]
    tv_twins = [tv_ops.Conv2dNormActivation(6, 6, groups=3, activation_layer=tnn.SiLU),
                tv_ops.SqueezeExcitation(6, 2), tv_ops.FrozenBatchNorm2d(6), tv_ops.Permute([0, 2, 3, 1]),
                tv_ops.MLP(7, [8, 4], norm_layer=tnn.LayerNorm, dropout=0.0)]
    inputs = [_x(2, 6, 5, 4)] * 4 + [_x(3, 7)]
    for block, twin, x in zip(blocks, tv_twins, inputs):
        _pair(twin, block)
        block.eval()
        expected = to_np(block(vl.tensor(x)))
        got = to_np(block.to(device)(vl.tensor(x, device=device)))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=type(block).__name__)
    x = vl.tensor(_x(64, 3), device=device)
    vl.manual_seed(0)
    out = ops.stochastic_depth(x, 0.5, "row")
    assert out.device == x.device
    rows = to_np(out)
    kept = np.all(rows != 0, axis=1)
    np.testing.assert_allclose(rows[kept], 2 * to_np(x)[kept], rtol=1e-6)
    assert 0 < kept.sum() < 64
