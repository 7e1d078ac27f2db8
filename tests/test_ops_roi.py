"""visionlite.ops RoI pooling against torchvision.ops on the same random features and boxes: roi_align
(aligned or not, fixed and adaptive sampling, scales), roi_pool, ps_roi_align, ps_roi_pool and
MultiScaleRoIAlign; outputs to 1e-5 and input gradients to 1e-4, plus float64 finite differences."""
from collections import OrderedDict

import numpy as np
import pytest

import visionlite as vl
from tests.helpers import op_check
from tests.helpers.op_check import gradcheck
from tests.helpers.refs import require
from visionlite import ops

torch = require("torch")
tv_ops = require("torchvision.ops")


@pytest.fixture(autouse=True)
def _run_on(device):
    op_check.current["device"] = device
    yield
    op_check.current["device"] = "cpu"


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, vl.Tensor) else t.detach().numpy()


def _rois(k, n_img=2, lo=-4.0, hi=20.0, max_wh=14.0, seed=0, dtype=np.float32):
    """Boxes partly outside the map, some tiny or degenerate, with their image index first."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(lo, hi, (k, 2))
    wh = rng.uniform(0, max_wh, (k, 2))
    wh[: k // 8] = rng.uniform(0, 0.6, (k // 8, 2))  # sub-pixel boxes
    b = np.concatenate([xy, xy + wh], 1)
    return np.concatenate([rng.integers(0, n_img, (k, 1)), b], 1).astype(dtype)


def _feat(shape, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _compare(tv_fn, vl_fn, x, boxes, device, atol=1e-5, grad_atol=1e-4):
    """Same op on both libraries; output and the input gradient of a weighted sum."""
    tx = torch.tensor(x, requires_grad=True)
    vx = vl.tensor(x, device=device, requires_grad=True)
    tb = [torch.tensor(b) for b in boxes] if isinstance(boxes, list) else torch.tensor(boxes)
    if isinstance(boxes, list):
        vb = [vl.tensor(b, device=device) for b in boxes]
    else:
        vb = vl.tensor(boxes, device=device)
    want = tv_fn(tx, tb)
    got = vl_fn(vx, vb)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(_np(got), _np(want), atol=atol, rtol=1e-5, err_msg="forward")
    w = np.random.default_rng(2).uniform(0.5, 1.5, tuple(want.shape)).astype(x.dtype)
    (want * torch.tensor(w)).sum().backward()
    (got * vl.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(_np(vx.grad), tx.grad.numpy(), atol=grad_atol, rtol=1e-4, err_msg="input grad")


ALIGN_CASES = [
    dict(output_size=(3, 4), spatial_scale=1.0, sampling_ratio=2, aligned=False),
    dict(output_size=5, spatial_scale=0.5, sampling_ratio=-1, aligned=False),
    dict(output_size=(2, 3), spatial_scale=0.75, sampling_ratio=0, aligned=True),
    dict(output_size=(4, 2), spatial_scale=1.0, sampling_ratio=3, aligned=True),
]


@pytest.mark.parametrize("kw", ALIGN_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_roi_align(kw, device):
    x, rois = _feat((2, 6, 13, 17)), _rois(40)
    _compare(lambda a, b: tv_ops.roi_align(a, b, **kw), lambda a, b: ops.roi_align(a, b, **kw),
             x, rois, device)


def test_roi_align_list_boxes_and_module(device):
    x = _feat((3, 4, 11, 9))
    boxes = [_rois(7, seed=s)[:, 1:] for s in range(3)]
    boxes[1] = boxes[1][:0]  # an image without boxes
    _compare(lambda a, b: tv_ops.RoIAlign(3, 0.5, -1)(a, b), lambda a, b: ops.RoIAlign(3, 0.5, -1)(a, b),
             x, boxes, device)
    assert repr(ops.RoIAlign((3, 3), 0.25, 2, True)) == repr(tv_ops.RoIAlign((3, 3), 0.25, 2, True))


def test_roi_align_large_boxes_adaptive_many_groups(device):
    # Boxes of very different sizes: many adaptive sampling grids, one group each.
    x = _feat((1, 3, 40, 50))
    rois = _rois(60, n_img=1, lo=-10, hi=45, max_wh=60, seed=3)
    _compare(lambda a, b: tv_ops.roi_align(a, b, 7, 1.0, -1, True),
             lambda a, b: ops.roi_align(a, b, 7, 1.0, -1, True), x, rois, device)


def test_roi_align_gradcheck():
    rois = vl.tensor(_rois(5, n_img=1, hi=6, max_wh=5, seed=4, dtype=np.float64))
    x = _feat((1, 2, 6, 7), dtype=np.float64)
    gradcheck(lambda a: ops.roi_align(a, rois, (2, 2), 1.0, 2, True), [x])
    gradcheck(lambda a: ops.roi_align(a, rois, 2, 0.8, -1, False), [x])


def test_roi_align_errors():
    with pytest.raises(AssertionError, match=r"Tensor\[K, 5\]"):
        ops.roi_align(vl.zeros(1, 2, 4, 4), vl.zeros(3, 4), 2)
    with pytest.raises(AssertionError, match=r"List\[Tensor\[L, 4\]\]"):
        ops.roi_align(vl.zeros(1, 2, 4, 4), [vl.zeros(3, 5)], 2)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.3])
def test_roi_pool(scale, device):
    x, rois = _feat((2, 5, 13, 17)), _rois(40)
    _compare(lambda a, b: tv_ops.roi_pool(a, b, (3, 4), scale),
             lambda a, b: ops.roi_pool(a, b, (3, 4), scale), x, rois, device)
    assert repr(ops.RoIPool(3, scale)) == repr(tv_ops.RoIPool(3, scale))


def test_roi_pool_ties_go_to_first_max(device):
    x = np.zeros((1, 2, 6, 6), np.float32)  # every window ties: gradient goes to each window's first cell
    rois = np.array([[0, 0, 0, 5, 5], [0, 1.4, 0.6, 4.5, 3.5]], np.float32)
    _compare(lambda a, b: tv_ops.roi_pool(a, b, 2), lambda a, b: ops.roi_pool(a, b, 2), x, rois, device)


@pytest.mark.parametrize("scale,sr", [(1.0, -1), (0.5, 2), (0.3, 0)])
def test_ps_roi_align(scale, sr, device):
    x, rois = _feat((2, 12, 13, 17)), _rois(40, seed=5)
    _compare(lambda a, b: tv_ops.ps_roi_align(a, b, (2, 3), scale, sr),
             lambda a, b: ops.ps_roi_align(a, b, (2, 3), scale, sr), x, rois, device)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.3])
def test_ps_roi_pool(scale, device):
    x, rois = _feat((2, 18, 13, 17)), _rois(40, seed=6)
    _compare(lambda a, b: tv_ops.PSRoIPool(3, scale)(a, b), lambda a, b: ops.PSRoIPool(3, scale)(a, b),
             x, rois, device)


def test_ps_ops_channel_check_and_gradcheck():
    with pytest.raises(RuntimeError, match="multiple of pooling height"):
        ops.ps_roi_align(vl.zeros(1, 5, 4, 4), vl.zeros(1, 5), 2)
    rois = vl.tensor(_rois(4, n_img=1, hi=6, max_wh=5, seed=7, dtype=np.float64))
    x = _feat((1, 8, 6, 7), dtype=np.float64)
    gradcheck(lambda a: ops.ps_roi_align(a, rois, 2, 1.0, 2), [x])


def test_multiscale_roi_align(device):
    rng = np.random.default_rng(8)
    feats = OrderedDict((k, _feat((2, 4, 256 // s, 192 // s), seed=i)) for i, (k, s) in
                        enumerate([("feat1", 4), ("feat2", 8), ("feat3", 16), ("pool", 32)]))
    boxes = []
    for n in (30, 20):
        xy = rng.uniform(0, 150, (n, 2))
        wh = np.exp(rng.uniform(np.log(8), np.log(600), (n, 2)))  # spans every level
        boxes.append(np.concatenate([xy, xy + wh], 1).astype(np.float32))
    shapes = [(256, 192), (240, 180)]
    names = ["feat1", "feat2", "feat3"]
    tm = tv_ops.MultiScaleRoIAlign(names, 5, 2)
    vm = ops.MultiScaleRoIAlign(names, 5, 2)
    tx = {k: torch.tensor(v, requires_grad=True) for k, v in feats.items()}
    vx = {k: vl.tensor(v, device=device, requires_grad=True) for k, v in feats.items()}
    want = tm(tx, [torch.tensor(b) for b in boxes], shapes)
    got = vm(vx, [vl.tensor(b, device=device) for b in boxes], shapes)
    np.testing.assert_allclose(_np(got), _np(want), atol=1e-5)
    assert vm.scales == tm.scales
    assert (vm.map_levels.k_min, vm.map_levels.k_max) == (tm.map_levels.k_min, tm.map_levels.k_max)
    levels = tm.map_levels([torch.tensor(b) for b in boxes]).numpy()
    np.testing.assert_array_equal(_np(vm.map_levels([vl.tensor(b) for b in boxes])), levels)
    assert len(set(levels.tolist())) == 3
    want.sum().backward()
    got.sum().backward()
    for k in names:
        np.testing.assert_allclose(_np(vx[k].grad), tx[k].grad.numpy(), atol=1e-4)
    assert repr(vm) == repr(tm)
    # One level: plain roi_align at that scale.
    vboxes = [vl.tensor(b, device=device) for b in boxes]
    single = ops.MultiScaleRoIAlign(["feat2"], (3, 2), -1)(vx, vboxes, shapes)
    ref = tv_ops.MultiScaleRoIAlign(["feat2"], (3, 2), -1)(tx, [torch.tensor(b) for b in boxes], shapes)
    np.testing.assert_allclose(_np(single), _np(ref), atol=1e-5)


def test_roi_pool_gradchecks():
    # Boxes well inside the map (ps_roi_pool's backward windows differ from its forward's at the border).
    rois = vl.tensor(np.array([[0, 1.2, 0.7, 5.4, 4.1], [0, 2.0, 1.0, 4.0, 5.0]]))
    x = _feat((1, 8, 8, 9), dtype=np.float64)
    gradcheck(lambda a: ops.roi_pool(a, rois, 2, 1.0), [x])
    gradcheck(lambda a: ops.ps_roi_pool(a, rois, 2, 1.0), [x])


@pytest.mark.parametrize("name", ["roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool"])
def test_no_boxes(name, device):
    # Detection heads meet images without proposals: an empty output and a zero gradient.
    x = _feat((2, 8, 6, 7))
    for boxes in (np.zeros((0, 5), np.float32), [np.zeros((0, 4), np.float32)] * 2):
        _compare(lambda a, b: getattr(tv_ops, name)(a, b, 2), lambda a, b: getattr(ops, name)(a, b, 2),
                 x, boxes, device)


def test_degenerate_boxes_adaptive(device):
    x = _feat((1, 8, 6, 7))
    rois = np.array([[0, 2, 2, 2, 5], [0, 3, 1, 3, 1], [0, 1, 1, 4, 1]], np.float32)  # zero width/height
    for tv_fn, vl_fn in [(lambda a, b: tv_ops.roi_align(a, b, 2, 1.0, -1, True),
                          lambda a, b: ops.roi_align(a, b, 2, 1.0, -1, True)),
                         (lambda a, b: tv_ops.roi_align(a, b, 2, 1.0, -1, False),
                          lambda a, b: ops.roi_align(a, b, 2, 1.0, -1, False))]:
        _compare(tv_fn, vl_fn, x, rois, device)
    want = tv_ops.ps_roi_align(torch.tensor(x), torch.tensor(rois), 2, 1.0, -1).numpy()
    got = _np(ops.ps_roi_align(vl.tensor(x, device=device), vl.tensor(rois, device=device), 2, 1.0, -1))
    np.testing.assert_allclose(got, want, atol=1e-6)  # NaN where TorchVision divides by a zero count


def test_multiscale_roi_align_canonical_kwargs():
    feats = OrderedDict((k, _feat((1, 3, 128 // s, 96 // s), seed=i)) for i, (k, s) in
                        enumerate([("p2", 4), ("p3", 8), ("p4", 16), ("p5", 32)]))
    rng = np.random.default_rng(9)
    xy = rng.uniform(0, 80, (40, 2))
    wh = np.exp(rng.uniform(np.log(4), np.log(200), (40, 2)))
    boxes = [np.concatenate([xy, xy + wh], 1).astype(np.float32)]
    kw = dict(canonical_scale=96, canonical_level=3)
    tm = tv_ops.MultiScaleRoIAlign(list(feats), (4, 3), -1, **kw)
    vm = ops.MultiScaleRoIAlign(list(feats), (4, 3), -1, **kw)
    want = tm({k: torch.tensor(v) for k, v in feats.items()}, [torch.tensor(b) for b in boxes], [(128, 96)])
    got = vm({k: vl.tensor(v) for k, v in feats.items()}, [vl.tensor(b) for b in boxes], [(128, 96)])
    np.testing.assert_allclose(_np(got), _np(want), atol=1e-5)
    assert (vm.map_levels.s0, vm.map_levels.lvl0) == (96, 3)
