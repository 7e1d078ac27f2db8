"""visionlite.ops box operations and detection losses against torchvision.ops on the same random boxes:
NMS indices exactly (overlapping clusters, tied scores, duplicates), values to 1e-5, gradients of the
differentiable ones against PyTorch and float64 finite differences."""
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


def _boxes(n, seed=0, size=100.0, min_wh=1.0, max_wh=40.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(min_wh, max_wh, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(dtype)


def _clustered(n, seed=0):
    """Boxes jittered around a few centres: many pairs overlap near any threshold."""
    rng = np.random.default_rng(seed)
    centres = _boxes(8, seed + 1)
    b = centres[rng.integers(0, 8, n)] + rng.normal(0, 2.0, (n, 4)).astype(np.float32)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.5)
    return b.astype(np.float32)


def _vt(a, device):
    return vl.tensor(a, device=device)


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, vl.Tensor) else t.detach().numpy()


# ------------------------------------------------------------------------------------------------ nms
@pytest.mark.parametrize("n,thr,seed", [(0, 0.5, 0), (1, 0.5, 0), (50, 0.3, 1), (300, 0.5, 2), (300, 0.7, 3),
                                        (3000, 0.5, 4)])
def test_nms_matches_torchvision(n, thr, seed, device):
    b = _clustered(n, seed)
    s = np.random.default_rng(seed + 10).random(n).astype(np.float32)
    want = tv_ops.nms(torch.tensor(b), torch.tensor(s), thr).numpy()
    got = ops.nms(_vt(b, device), _vt(s, device), thr)
    assert got.dtype == vl.int64
    np.testing.assert_array_equal(_np(got), want)


@pytest.mark.parametrize("layout", ["one_cluster", "spread_out"])
def test_nms_dense_and_sparse_overlap(layout, device):
    # One cluster: most pairs overlap (the full IoU block); spread out: few do (only those pairs finished).
    rng = np.random.default_rng(8)
    n = 1200
    if layout == "one_cluster":
        b = np.array([[40, 40, 80, 90]], np.float32) + rng.normal(0, 6, (n, 4)).astype(np.float32)
    else:
        b = _boxes(n, 8, size=2000.0, min_wh=5.0, max_wh=60.0)
    s = rng.random(n).astype(np.float32)
    for thr in (-0.5, 0.2, 0.6):
        want = tv_ops.nms(torch.tensor(b), torch.tensor(s), thr).numpy()
        np.testing.assert_array_equal(_np(ops.nms(_vt(b, device), _vt(s, device), thr)), want)


def test_unstable_sort_order_matches_torch():
    from visionlite.ops._torch_sort import unstable_descending_order

    rng = np.random.default_rng(40)
    for n, levels in [(1, 1), (15, 2), (17, 3), (300, 1), (2000, 7), (5000, 300)]:
        s = (rng.integers(0, levels, n) / levels).astype(np.float32)
        want = torch.tensor(s).sort(descending=True)[1].numpy()
        np.testing.assert_array_equal(unstable_descending_order(s.tolist()), want)


def test_nms_ties_and_duplicates(device):
    rng = np.random.default_rng(5)
    b = np.repeat(_clustered(60, 5), 3, axis=0)  # exact duplicates
    s = rng.integers(0, 5, len(b)).astype(np.float32)  # heavy score ties
    for thr in (0.0, 0.3, 0.5, 0.9, 1.0):
        want = tv_ops.nms(torch.tensor(b), torch.tensor(s), thr).numpy()
        np.testing.assert_array_equal(_np(ops.nms(_vt(b, device), _vt(s, device), thr)), want)


def test_nms_threshold_at_exact_iou(device):
    # IoU of these two is exactly 1/3 in float32: the threshold compares in float64 as TorchVision.
    b = np.array([[0, 0, 2, 1], [1, 0, 3, 1], [0, 0, 1, 1]], np.float32)
    s = np.array([0.9, 0.8, 0.7], np.float32)
    for thr in (1 / 3, 0.3333333, 0.33333334, 0.5):
        want = tv_ops.nms(torch.tensor(b), torch.tensor(s), thr).numpy()
        np.testing.assert_array_equal(_np(ops.nms(_vt(b, device), _vt(s, device), thr)), want)


def test_nms_float64_and_bad_shapes(device):
    b = _clustered(200, 7).astype(np.float64)
    s = np.random.default_rng(7).random(200)
    want = tv_ops.nms(torch.tensor(b), torch.tensor(s), 0.4).numpy()
    np.testing.assert_array_equal(_np(ops.nms(_vt(b, device), _vt(s, device), 0.4)), want)
    with pytest.raises(RuntimeError, match="boxes should be a 2d tensor"):
        ops.nms(_vt(b[:, :3], device), _vt(s, device), 0.5)
    with pytest.raises(RuntimeError, match="same number of elements"):
        ops.nms(_vt(b, device), _vt(s[:5], device), 0.5)


@pytest.mark.parametrize("n", [0, 200, 1500])
def test_batched_nms(n, device):
    b = _clustered(n, 11)
    rng = np.random.default_rng(12)
    # Tied scores: below 1000 boxes one NMS over shifted boxes (a stable order); above, one NMS per class,
    # whose result TorchVision orders with PyTorch's unstable sort (replayed).
    s = (rng.integers(0, 20, n) / 20).astype(np.float32)
    idx = rng.integers(0, 4, n)
    want = tv_ops.batched_nms(torch.tensor(b), torch.tensor(s), torch.tensor(idx), 0.5).numpy()
    got = ops.batched_nms(_vt(b, device), _vt(s, device), _vt(idx, device), 0.5)
    np.testing.assert_array_equal(_np(got), want)


# ------------------------------------------------------------------------------------ pairwise IoU
PAIRWISE = ["box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou"]


@pytest.mark.parametrize("name", PAIRWISE)
def test_pairwise_iou_values_and_grads(name, device):
    b1, b2 = _boxes(7, 1), _boxes(5, 2)
    t1, t2 = torch.tensor(b1, requires_grad=True), torch.tensor(b2, requires_grad=True)
    v1, v2 = _vt(b1, device).requires_grad_(), _vt(b2, device).requires_grad_()
    want = getattr(tv_ops, name)(t1, t2)
    got = getattr(ops, name)(v1, v2)
    np.testing.assert_allclose(_np(got), want.detach().numpy(), atol=1e-5, rtol=1e-5)
    w = np.random.default_rng(3).random(tuple(want.shape)).astype(np.float32)
    (want * torch.tensor(w)).sum().backward()
    (got * _vt(w, device)).sum().backward()
    np.testing.assert_allclose(_np(v1.grad), t1.grad.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(_np(v2.grad), t2.grad.numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["box_iou", "generalized_box_iou", "distance_box_iou"])
def test_pairwise_iou_gradcheck(name):
    gradcheck(getattr(ops, name), [_boxes(3, 4, dtype=np.float64), _boxes(2, 5, dtype=np.float64)])


@pytest.mark.parametrize("fmt", ["xyxy", "xywh", "cxcywh"])
def test_box_iou_formats_and_batch_dims(fmt, device):
    b1, b2 = _boxes(12, 6).reshape(2, 6, 4), _boxes(8, 7).reshape(2, 4, 4)
    want = tv_ops.box_iou(torch.tensor(b1), torch.tensor(b2), fmt=fmt).numpy()
    np.testing.assert_allclose(_np(ops.box_iou(_vt(b1, device), _vt(b2, device), fmt=fmt)), want, atol=1e-6)
    want = tv_ops.box_area(torch.tensor(b1), fmt=fmt).numpy()
    np.testing.assert_allclose(_np(ops.box_area(_vt(b1, device), fmt=fmt)), want, rtol=1e-6)


def test_box_area_integer_upcast(device):
    b = np.array([[0, 0, 200, 200], [10, 10, 12, 30]], np.int16)
    want = tv_ops.box_area(torch.tensor(b))
    got = ops.box_area(_vt(b, device))
    assert str(got.dtype) == str(want.dtype).replace("torch", "visionlite")
    np.testing.assert_array_equal(_np(got), want.numpy())


@pytest.mark.parametrize("pair", [("xyxy", "xywh"), ("xyxy", "cxcywh"), ("xywh", "xyxy"), ("cxcywh", "xyxy"),
                                  ("xywh", "cxcywh"), ("cxcywh", "xywh"), ("xyxy", "xyxy")])
def test_box_convert(pair, device):
    b = _boxes(10, 8).reshape(2, 5, 4)
    want = tv_ops.box_convert(torch.tensor(b), *pair).numpy()
    np.testing.assert_allclose(_np(ops.box_convert(_vt(b, device), *pair)), want, atol=1e-6)


ROTATED_PAIRS = [("cxcywhr", "xywhr"), ("xywhr", "cxcywhr"), ("cxcywhr", "xyxyxyxy"), ("xyxyxyxy", "cxcywhr"),
                 ("xywhr", "xyxyxyxy"), ("xyxyxyxy", "xywhr"), ("xywhr", "xywhr")]


@pytest.mark.parametrize("pair", ROTATED_PAIRS)
@pytest.mark.parametrize("integer", [False, True])
def test_box_convert_rotated(pair, integer, device):
    rng = np.random.default_rng(3)
    if pair[0] == "xyxyxyxy":  # a real rotated rectangle's corners
        b = tv_ops.box_convert(torch.tensor(np.concatenate([rng.uniform(10, 90, (6, 2)), rng.uniform(
            5, 40, (6, 2)), rng.uniform(-180, 180, (6, 1))], 1)), "cxcywhr", "xyxyxyxy").numpy()
    else:
        b = np.concatenate([rng.uniform(10, 90, (6, 2)), rng.uniform(5, 40, (6, 2)),
                            rng.uniform(-180, 180, (6, 1))], 1)
    b = (np.round(b * 10).astype(np.int64) if integer else b.astype(np.float32)).reshape(2, 3, -1)
    want = tv_ops.box_convert(torch.tensor(b), *pair)
    got = ops.box_convert(_vt(b, device), *pair)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(got), want.numpy(), atol=1e-3 if not integer else 1, rtol=1e-5)


def test_box_convert_errors_and_tv_tensor():
    with pytest.raises(ValueError, match="Unsupported Bounding Box Conversions"):
        ops.box_convert(vl.zeros(2, 4), "xyxy", "nope")
    with pytest.raises(NotImplementedError, match="Unsupported Bounding Box Conversions"):
        ops.box_convert(vl.zeros(2, 4), "xyxy", "xywhr")
    from visionlite import tv_tensors

    b = tv_tensors.BoundingBoxes(vl.tensor(_boxes(3, 9)), format="XYXY", canvas_size=(200, 200))
    want = tv_ops.box_convert(torch.tensor(_boxes(3, 9)), "xyxy", "cxcywh").numpy()
    np.testing.assert_allclose(_np(ops.box_convert(b, "xyxy", "cxcywh")), want, atol=1e-6)


def test_clip_remove_small(device):
    b = _boxes(40, 9, size=120.0, min_wh=0.0, max_wh=30.0) - 10
    want = tv_ops.clip_boxes_to_image(torch.tensor(b), (90, 100)).numpy()
    np.testing.assert_array_equal(_np(ops.clip_boxes_to_image(_vt(b, device), (90, 100))), want)
    want = tv_ops.remove_small_boxes(torch.tensor(b), 12.0).numpy()
    got = ops.remove_small_boxes(_vt(b, device), 12.0)
    assert got.dtype == vl.int64
    np.testing.assert_array_equal(_np(got), want)


def test_masks_to_boxes(device):
    rng = np.random.default_rng(10)
    m = np.zeros((5, 17, 23), np.uint8)
    for i in range(4):
        y0, x0 = rng.integers(0, 12, 2)
        m[i, y0:y0 + rng.integers(1, 6), x0:x0 + rng.integers(1, 10)] = 1
    m[3, 16, 22] = 1  # a stray corner pixel
    want = tv_ops.masks_to_boxes(torch.tensor(m)).numpy()  # mask 4 is empty: zeros
    got = ops.masks_to_boxes(_vt(m, device))
    assert got.dtype == vl.float32
    np.testing.assert_array_equal(_np(got), want)
    assert tuple(ops.masks_to_boxes(vl.zeros(0, 5, 5)).shape) == (0, 4)


# ------------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", ["generalized_box_iou_loss", "distance_box_iou_loss",
                                  "complete_box_iou_loss"])
def test_box_losses(name, reduction, device):
    b1, b2 = _boxes(9, 13), _boxes(9, 14)
    b2[:3] = b1[:3] + 0.5  # overlapping pairs next to disjoint ones
    t1, t2 = torch.tensor(b1, requires_grad=True), torch.tensor(b2, requires_grad=True)
    v1, v2 = _vt(b1, device).requires_grad_(), _vt(b2, device).requires_grad_()
    want = getattr(tv_ops, name)(t1, t2, reduction=reduction, eps=1e-6)
    got = getattr(ops, name)(v1, v2, reduction=reduction, eps=1e-6)
    np.testing.assert_allclose(_np(got), want.detach().numpy(), atol=1e-5, rtol=1e-5)
    want.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(_np(v1.grad), t1.grad.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(_np(v2.grad), t2.grad.numpy(), atol=1e-5, rtol=1e-4)


def test_box_loss_empty_mean_and_bad_reduction():
    e = vl.zeros(0, 4, requires_grad=True)
    out = ops.generalized_box_iou_loss(e, e, reduction="mean")
    assert out.item() == 0.0
    with pytest.raises(ValueError, match="Invalid Value for arg 'reduction'"):
        ops.distance_box_iou_loss(vl.zeros(1, 4), vl.zeros(1, 4), reduction="avg")


@pytest.mark.parametrize("kw", [dict(), dict(alpha=-1, gamma=0.5, reduction="mean"),
                                dict(alpha=0.7, reduction="sum")])
def test_sigmoid_focal_loss(kw, device):
    rng = np.random.default_rng(15)
    x = rng.normal(0, 2, (6, 5)).astype(np.float32)
    y = (rng.random((6, 5)) > 0.7).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    vx = _vt(x, device).requires_grad_()
    want = tv_ops.sigmoid_focal_loss(tx, torch.tensor(y), **kw)
    got = ops.sigmoid_focal_loss(vx, _vt(y, device), **kw)
    np.testing.assert_allclose(_np(got), want.detach().numpy(), atol=1e-6, rtol=1e-5)
    want.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(_np(vx.grad), tx.grad.numpy(), atol=1e-6, rtol=1e-4)
    with pytest.raises(ValueError, match="Invalid alpha value"):
        ops.sigmoid_focal_loss(vx, _vt(y, device), alpha=2)


def test_losses_gradcheck():
    b1, b2 = _boxes(3, 16, dtype=np.float64), _boxes(3, 17, dtype=np.float64)
    b2[0] = b1[0] + 0.3
    # (CIoU's alpha carries no gradient by design, so finite differences only check GIoU and DIoU.)
    gradcheck(lambda a, b: ops.generalized_box_iou_loss(a, b), [b1, b2], atol=1e-5)
    gradcheck(lambda a, b: ops.distance_box_iou_loss(a, b), [b1, b2], atol=1e-5)
    gradcheck(lambda a: ops.sigmoid_focal_loss(a, vl.tensor(np.array([1.0, 0.0, 1.0]), dtype=vl.float64)),
              [np.array([0.3, -1.2, 2.0])])


@pytest.mark.parametrize("fmt", ["cxcywhr", "xywhr", "xyxyxyxy"])
def test_box_iou_rotated(fmt, device):
    rng = np.random.default_rng(21)

    def rotated(n):
        return np.concatenate([rng.uniform(0, 50, (n, 2)), rng.uniform(5, 30, (n, 2)),
                               rng.uniform(-180, 180, (n, 1))], 1).astype(np.float32)

    a, b = rotated(30), rotated(20)
    b[:4] = a[:4]  # identical
    b[4:8] = a[4:8] + np.array([1, 0.5, 0, 0, 10], np.float32)  # shifted and turned
    b[8], b[9] = a[8], a[9]
    b[8, 4] += 90  # a quarter turn: a w x h box against an h x w box
    b[9, 4] += 180  # a half turn: the same rectangle
    ta = tv_ops.box_convert(torch.tensor(a), "cxcywhr", fmt)
    tb = tv_ops.box_convert(torch.tensor(b), "cxcywhr", fmt)
    want = tv_ops.box_iou(ta, tb, fmt=fmt).numpy()
    got = ops.box_iou(_vt(ta.numpy(), device), _vt(tb.numpy(), device), fmt=fmt)
    assert (want > 0).sum() > 50
    np.testing.assert_allclose(_np(got), want, atol=1e-5)


def test_utils_roi_format_and_split_normalization_params():
    from visionlite import nn
    from visionlite.ops import _utils

    tv_utils = require("torchvision.ops._utils")
    boxes = [_boxes(3, 30), _boxes(0, 31), _boxes(2, 32)]
    want = tv_utils.convert_boxes_to_roi_format([torch.tensor(b) for b in boxes]).numpy()
    got = _utils.convert_boxes_to_roi_format([vl.tensor(b) for b in boxes])
    np.testing.assert_array_equal(_np(got), want)
    one = vl.tensor(boxes[0])
    assert _utils._cat([one]) is one

    def build(lib):
        return lib.Sequential(lib.Conv2d(3, 4, 3), lib.BatchNorm2d(4), lib.Sequential(lib.GroupNorm(2, 4)),
                              lib.Flatten(), lib.LayerNorm(4), lib.Linear(4, 2))

    norm, other = _utils.split_normalization_params(build(nn))
    t_norm, t_other = tv_utils.split_normalization_params(build(torch.nn))
    assert [tuple(p.shape) for p in norm] == [tuple(p.shape) for p in t_norm]
    assert [tuple(p.shape) for p in other] == [tuple(p.shape) for p in t_other]
    with pytest.raises(ValueError, match="is not a subclass of nn.Module"):
        _utils.split_normalization_params(build(nn), [int])
