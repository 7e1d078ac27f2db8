"""visionlite.ops FeaturePyramidNetwork (with its extra blocks), deform_conv2d / DeformConv2d and DropBlock
against torchvision.ops: TorchVision's random modules load strict with the same keys and give the same
outputs and gradients; deform_conv2d's gradients for input, offset, mask, weight and bias match to 1e-4
and float64 finite differences; DropBlock's block mask equals TorchVision's pad + max-pool construction."""
from collections import OrderedDict

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.nn_check import copy_torch_weights, to_np
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require
from visionlite import nn, ops
from visionlite.ops.drop_block import _grow_blocks
from visionlite.ops.feature_pyramid_network import ExtraFPNBlock, LastLevelMaxPool, LastLevelP6P7

torch = require("torch")
tv_ops = require("torchvision.ops")
tv_fpn = require("torchvision.ops.feature_pyramid_network")
F_t = torch.nn.functional


def _x(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _perturb(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                shift = 1.0 if name.endswith("running_var") else 0.0
                t.copy_(torch.randn(t.shape, generator=g) * 0.3 + shift)
                if name.endswith("running_var"):
                    t.abs_()


# ---------------------------------------------------------------------------------------------- FPN
FPN_CASES = {
    "plain": (None, None),
    "maxpool": ("maxpool", None),
    "p6p7_from_p5": ("p6p7_p5", None),
    "p6p7_from_c5_bn": ("p6p7_c5", "bn"),
}


def _extra(kind, lib_fpn, in_last, out):
    if kind == "maxpool":
        return lib_fpn.LastLevelMaxPool()
    if kind == "p6p7_p5":
        return lib_fpn.LastLevelP6P7(out, out)
    if kind == "p6p7_c5":
        return lib_fpn.LastLevelP6P7(in_last, out)
    return None


@pytest.mark.parametrize("case", list(FPN_CASES))
def test_fpn_matches_torchvision(case):
    extra, norm = FPN_CASES[case]
    in_list, out = [6, 10, 12], 8
    import visionlite.ops.feature_pyramid_network as vl_fpn

    tm = tv_ops.FeaturePyramidNetwork(in_list, out, extra_blocks=_extra(extra, tv_fpn, in_list[-1], out),
                                      norm_layer=torch.nn.BatchNorm2d if norm else None).eval()
    vm = ops.FeaturePyramidNetwork(in_list, out, extra_blocks=_extra(extra, vl_fpn, in_list[-1], out),
                                   norm_layer=nn.BatchNorm2d if norm else None).eval()
    _perturb(tm)
    assert list(vm.state_dict()) == list(tm.state_dict())
    assert "inner_blocks.0.0.weight" in vm.state_dict() and "layer_blocks.2.0.weight" in vm.state_dict()
    copy_torch_weights(vm, tm, strict=True)
    shapes = [(2, 6, 17, 15), (2, 10, 9, 8), (2, 12, 5, 4)]  # odd sizes: nearest upsampling to a given size
    arrays = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    tin = OrderedDict((f"f{i}", torch.tensor(a, requires_grad=True)) for i, a in enumerate(arrays))
    vin = OrderedDict((f"f{i}", vl.tensor(a, requires_grad=True)) for i, a in enumerate(arrays))
    tout, vout = tm(tin), vm(vin)
    assert list(vout) == list(tout)
    total_t, total_v = 0, 0
    for k in tout:
        np.testing.assert_allclose(to_np(vout[k]), to_np(tout[k]), atol=1e-5, rtol=1e-4, err_msg=k)
        w = _x(*tout[k].shape, seed=7)
        total_t = total_t + (tout[k] * torch.tensor(w)).sum()
        total_v = total_v + (vout[k] * vl.tensor(w)).sum()
    total_t.backward()
    total_v.backward()
    for k in tin:
        np.testing.assert_allclose(to_np(vin[k].grad), to_np(tin[k].grad), atol=1e-4, rtol=1e-4)
    tp = dict(tm.named_parameters())
    for name, p in vm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), to_np(tp[name].grad), atol=1e-4, rtol=1e-3, err_msg=name)


def test_fpn_init_version1_keys_and_errors():
    vm = ops.FeaturePyramidNetwork([4, 8], 6, extra_blocks=LastLevelMaxPool())
    w = vm.inner_blocks[0][0].weight
    assert float(vm.inner_blocks[0][0].bias.abs().sum()) == 0.0
    bound = np.sqrt(6 / ((1 + 1) * 4))  # kaiming_uniform_(a=1) over fan_in = 4
    assert float(w.abs().max()) <= bound
    old = {k.replace(".0.weight", ".weight").replace(".0.bias", ".bias"): v
           for k, v in vm.state_dict().items()}
    assert "inner_blocks.0.weight" in old
    fresh = ops.FeaturePyramidNetwork([4, 8], 6, extra_blocks=LastLevelMaxPool())
    fresh.load_state_dict(old, strict=True)  # a plain dict has no version: version-1 keys are renamed
    np.testing.assert_array_equal(to_np(fresh.inner_blocks[0][0].weight), to_np(w))
    with pytest.raises(ValueError, match="in_channels=0"):
        ops.FeaturePyramidNetwork([0, 4], 6)
    with pytest.raises(TypeError, match="ExtraFPNBlock"):
        ops.FeaturePyramidNetwork([4], 6, extra_blocks=nn.ReLU())
    assert issubclass(LastLevelP6P7, ExtraFPNBlock)
    assert LastLevelP6P7(6, 6).use_P5 and not LastLevelP6P7(8, 6).use_P5


# ------------------------------------------------------------------------------------- deform_conv2d
DEFORM_CASES = {
    "v2_groups": dict(c=4, o=6, k=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(1, 2), groups=2, og=2,
                      mask=True),
    "v1_plain": dict(c=3, o=5, k=(3, 3), stride=1, padding=1, dilation=1, groups=1, og=1, mask=False),
    "depthwise_og4": dict(c=8, o=8, k=(2, 3), stride=2, padding=(0, 1), dilation=1, groups=8, og=4,
                          mask=True),
}


def _deform_inputs(c, o, k, stride, padding, dilation, groups, og, mask, seed=0, dtype=np.float32, hw=(7, 8)):
    s, p, d = [(v, v) if isinstance(v, int) else v for v in (stride, padding, dilation)]
    ho = (hw[0] + 2 * p[0] - (d[0] * (k[0] - 1) + 1)) // s[0] + 1
    wo = (hw[1] + 2 * p[1] - (d[1] * (k[1] - 1) + 1)) // s[1] + 1
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((2, c) + hw), rng.normal(0, 1.5, (2, 2 * og * k[0] * k[1], ho, wo)),
              rng.standard_normal((o, c // groups) + k), rng.standard_normal(o)]
    if mask:
        arrays.append(rng.random((2, og * k[0] * k[1], ho, wo)))
    return [a.astype(dtype) for a in arrays]


@pytest.mark.parametrize("case", list(DEFORM_CASES))
def test_deform_conv2d_matches_torchvision(case):
    kw = DEFORM_CASES[case]
    arrays = _deform_inputs(**kw)
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    vt = [vl.tensor(a, requires_grad=True) for a in arrays]
    conv = dict(stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"])
    want = tv_ops.deform_conv2d(tt[0], tt[1], tt[2], tt[3], mask=tt[4] if kw["mask"] else None, **conv)
    got = ops.deform_conv2d(vt[0], vt[1], vt[2], vt[3], mask=vt[4] if kw["mask"] else None, **conv)
    np.testing.assert_allclose(to_np(got), to_np(want), atol=1e-5, rtol=1e-4)
    w = _x(*want.shape, seed=3)
    (want * torch.tensor(w)).sum().backward()
    (got * vl.tensor(w)).sum().backward()
    for name, a, b in zip(["input", "offset", "weight", "bias", "mask"], vt, tt):
        np.testing.assert_allclose(to_np(a.grad), to_np(b.grad), atol=1e-4, rtol=1e-4, err_msg=name)


def test_deform_conv2d_module_and_errors():
    tm = tv_ops.DeformConv2d(4, 6, (3, 2), stride=(1, 2), padding=1, groups=2, bias=False)
    vm = ops.DeformConv2d(4, 6, (3, 2), stride=(1, 2), padding=1, groups=2, bias=False)
    assert repr(vm) == repr(tm)
    assert list(vm.state_dict()) == list(tm.state_dict())
    copy_torch_weights(vm, tm, strict=True)
    x, off = _x(1, 4, 6, 6), _x(1, 12, 6, 4, seed=1)
    want = tm(torch.tensor(x), torch.tensor(off))
    np.testing.assert_allclose(to_np(vm(vl.tensor(x), vl.tensor(off))), to_np(want), atol=1e-5)
    assert repr(ops.DeformConv2d(3, 3, 3)) == repr(tv_ops.DeformConv2d(3, 3, 3))
    with pytest.raises(RuntimeError, match="offset tensor at dimension 1 is not valid"):
        ops.deform_conv2d(vl.tensor(x), vl.zeros(1, 5, 6, 4), vm.weight)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        ops.DeformConv2d(3, 4, 3, groups=2)


def test_deform_conv2d_gradcheck():
    arrays = _deform_inputs(c=2, o=2, k=(2, 2), stride=1, padding=1, dilation=1, groups=1, og=2, mask=True,
                            seed=5, dtype=np.float64, hw=(3, 3))
    arrays[1] = arrays[1] * 0.7 + 0.13  # keep samples off integer coordinates (the bilinear kinks)
    gradcheck(lambda x, off, w, b, m: ops.deform_conv2d(x, off, w, b, padding=1, mask=m), arrays, atol=1e-5)


# ----------------------------------------------------------------------------------------- DropBlock
@pytest.mark.parametrize("block_size,shape", [(3, (2, 3, 9, 11)), (5, (1, 2, 7, 8)), (1, (1, 1, 4, 4)),
                                              (3, (2, 2, 5, 6, 7)), (5, (1, 1, 6, 5, 9))])
def test_drop_block_mask_matches_torchvision_construction(block_size, shape):
    h = block_size // 2
    rng = np.random.default_rng(block_size)
    centres = (rng.random(shape[:2] + tuple(s - block_size + 1 for s in shape[2:])) < 0.2).astype(np.float32)
    t = F_t.pad(torch.tensor(centres), [h] * (2 * (len(shape) - 2)), value=0)
    pool = F_t.max_pool2d if len(shape) == 4 else F_t.max_pool3d
    want = pool(t, stride=1, kernel_size=block_size, padding=h).numpy()
    np.testing.assert_array_equal(_grow_blocks(centres, block_size), want)


@pytest.mark.parametrize("fn,shape", [("drop_block2d", (4, 8, 24, 24)), ("drop_block3d", (2, 4, 10, 12, 12))])
def test_drop_block_statistics_and_grad(fn, shape):
    vl.manual_seed(0)
    x = vl.ones(*shape, requires_grad=True)
    out = getattr(ops, fn)(x, 0.2, 3)
    arr = to_np(out)
    kept = arr > 0
    assert 0.7 < kept.mean() < 0.9  # about 1 - p of the elements survive
    np.testing.assert_allclose(arr[kept], arr.size / (1e-6 + kept.sum()), rtol=1e-5)  # one rescale factor
    out.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), arr, rtol=1e-6)
    assert getattr(ops, fn)(x, 0.2, 3, training=False) is x
    with pytest.raises(ValueError, match="block size should be odd"):
        getattr(ops, fn)(x, 0.2, 4)
    with pytest.raises(ValueError, match="drop probability"):
        getattr(ops, fn)(x, 1.5, 3)


def test_drop_block_modules():
    for name in ("DropBlock2d", "DropBlock3d"):
        want = repr(getattr(tv_ops, name)(0.1, 5, inplace=True))
        assert repr(getattr(ops, name)(0.1, 5, inplace=True)) == want
    m = ops.DropBlock2d(0.5, 3).eval()
    x = vl.ones(1, 1, 5, 5)
    assert m(x) is x
    y = vl.ones(1, 2, 8, 8)
    ops.DropBlock2d(0.3, 3, inplace=True).train()(y)
    assert float(y.min()) == 0.0


def test_ops_namespace_covers_torchvision():
    ours = set(dir(ops))
    missing = [n for n in dir(tv_ops) if not n.startswith("_") and n not in ours]
    assert missing == [], missing


def test_misc_extras():
    import visionlite.ops.misc as vm

    tm = require("torchvision.ops.misc")
    assert vm.interpolate is vl.nn.functional.interpolate
    with pytest.warns(UserWarning, match="Don't use ConvNormActivation directly"):
        m = vm.ConvNormActivation(3, 4, kernel_size=(3, 5), dilation=2)
    with pytest.warns(UserWarning):
        t = tm.ConvNormActivation(3, 4, kernel_size=(3, 5), dilation=2)
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    missing = [n for n in dir(tm) if not n.startswith("_") and n[0].isupper() and not hasattr(vm, n)]
    assert set(missing) <= {"Callable", "Optional", "Sequence", "Tensor", "Union"}, missing
