"""Detection building blocks equal TorchVision's on the same inputs: BoxCoder (encode/decode with weights and
the size clamp), BoxLinearCoder, Matcher (thresholds, low-quality matches, ties), SSDMatcher, the sampler's
counts, AnchorGenerator and DefaultBoxGenerator, and GeneralizedRCNNTransform (normalise, resize, pad,
targets, postprocess); the detection weights enums' registry entries."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.models.detection import _utils as du
from visionlite.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from visionlite.models.detection.image_list import ImageList
from visionlite.models.detection.transform import GeneralizedRCNNTransform

torch = require("torch")
tdu = require("torchvision.models.detection._utils")
tanchor = require("torchvision.models.detection.anchor_utils")
ttransform = require("torchvision.models.detection.transform")
timage_list = require("torchvision.models.detection.image_list")


def _boxes(rng, n, size=200.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def _close(ours, theirs, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(ours.numpy()), theirs.detach().numpy(), atol=atol, rtol=rtol)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_box_coder_encode_decode(weights):
    rng = np.random.default_rng(0)
    ref, prop = [_boxes(rng, 7), _boxes(rng, 5)], [_boxes(rng, 7), _boxes(rng, 5)]
    ours, theirs = du.BoxCoder(weights), tdu.BoxCoder(weights)
    enc = ours.encode([vl.tensor(b) for b in ref], [vl.tensor(b) for b in prop])
    tenc = theirs.encode([torch.tensor(b) for b in ref], [torch.tensor(b) for b in prop])
    assert len(enc) == len(tenc) == 2
    for a, b in zip(enc, tenc):
        _close(a, b)
    codes = rng.normal(0, 2, (12, 8)).astype(np.float32)
    codes[0, 2] = 9.0  # above the clamp log(1000/16)
    dec = ours.decode(vl.tensor(codes), [vl.tensor(b) for b in prop])
    tdec = theirs.decode(torch.tensor(codes), [torch.tensor(b) for b in prop])
    assert tuple(dec.shape) == tuple(tdec.shape) == (12, 2, 4)
    _close(dec, tdec, atol=1e-3, rtol=1e-5)


def test_box_linear_coder():
    rng = np.random.default_rng(1)
    a, b = _boxes(rng, 6), _boxes(rng, 6)
    for norm in (True, False):
        ours, theirs = du.BoxLinearCoder(norm), tdu.BoxLinearCoder(norm)
        _close(ours.encode(vl.tensor(a), vl.tensor(b)), theirs.encode(torch.tensor(a), torch.tensor(b)))
        _close(ours.decode(vl.tensor(b), vl.tensor(a)), theirs.decode(torch.tensor(b), torch.tensor(a)),
               atol=1e-4)


@pytest.mark.parametrize("low_quality", [False, True])
def test_matcher(low_quality):
    rng = np.random.default_rng(2)
    q = rng.uniform(0, 1, (4, 50)).astype(np.float32) ** 3
    q[1, 7] = q[1, 9] = q[1].max() + 0.0  # a tie for the best of ground truth 1
    ours = du.Matcher(0.7, 0.3, allow_low_quality_matches=low_quality)(vl.tensor(q))
    theirs = tdu.Matcher(0.7, 0.3, allow_low_quality_matches=low_quality)(torch.tensor(q))
    assert ours.dtype == vl.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours = du.SSDMatcher(0.5)(vl.tensor(q))
    np.testing.assert_array_equal(ours.numpy(), tdu.SSDMatcher(0.5)(torch.tensor(q)).numpy())
    with pytest.raises(ValueError, match="No ground-truth boxes"):
        du.Matcher(0.7, 0.3)(vl.zeros((0, 5)))


def test_sampler_counts():
    labels = vl.tensor([1] * 10 + [0] * 100 + [-1] * 20)
    pos, neg = du.BalancedPositiveNegativeSampler(64, 0.25)([labels])
    assert pos[0].dtype == vl.uint8 and tuple(pos[0].shape) == (130,)
    p, n = pos[0].numpy().astype(bool), neg[0].numpy().astype(bool)
    assert p.sum() == 10 and n.sum() == 54
    assert p[:10].all() and n[10:110].sum() == 54 and not (p | n)[110:].any()


def test_box_loss_matches():
    rng = np.random.default_rng(3)
    anchors, gt = _boxes(rng, 9), _boxes(rng, 9)
    reg = rng.normal(0, 0.3, (9, 4)).astype(np.float32)
    coder, tcoder = du.BoxCoder((1.0, 1.0, 1.0, 1.0)), tdu.BoxCoder((1.0, 1.0, 1.0, 1.0))
    for kind in ("l1", "smooth_l1", "giou", "diou", "ciou"):
        ours = du._box_loss(kind, coder, vl.tensor(anchors), vl.tensor(gt), vl.tensor(reg))
        theirs = tdu._box_loss(kind, tcoder, torch.tensor(anchors), torch.tensor(gt), torch.tensor(reg))
        np.testing.assert_allclose(float(ours.item()), float(theirs.item()), rtol=1e-4)


def _image_list(h, w, sizes, mod):
    return mod.ImageList(mod_zeros(mod, (len(sizes), 3, h, w)), sizes)


def mod_zeros(mod, shape):
    return vl.zeros(shape) if mod is not timage_list else torch.zeros(shape)


def test_anchor_generator():
    sizes, ratios = ((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5
    ours, theirs = AnchorGenerator(sizes, ratios), tanchor.AnchorGenerator(sizes, ratios)
    assert ours.num_anchors_per_location() == theirs.num_anchors_per_location()
    shapes = [(50, 76), (25, 38), (13, 19), (7, 10), (4, 5)]
    feats = [vl.zeros((2, 4, h, w)) for h, w in shapes]
    tfeats = [torch.zeros((2, 4, h, w)) for h, w in shapes]
    a = ours(ImageList(vl.zeros((2, 3, 800, 1216)), [(800, 1200), (790, 1216)]), feats)
    b = theirs(timage_list.ImageList(torch.zeros((2, 3, 800, 1216)), [(800, 1200), (790, 1216)]), tfeats)
    assert len(a) == len(b) == 2
    assert a[0].dtype == vl.float32
    _close(a[1], b[1], atol=0, rtol=0)


def test_default_box_generator():
    ratios = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
    kw = dict(scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps=[8, 16, 32, 64, 100, 300])
    ours, theirs = DefaultBoxGenerator(ratios, **kw), tanchor.DefaultBoxGenerator(ratios, **kw)
    assert repr(ours) == repr(theirs)
    shapes = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    a = ours(ImageList(vl.zeros((1, 3, 300, 300)), [(300, 300)]), [vl.zeros((1, 2, h, w)) for h, w in shapes])
    b = theirs(timage_list.ImageList(torch.zeros((1, 3, 300, 300)), [(300, 300)]),
               [torch.zeros((1, 2, h, w)) for h, w in shapes])
    _close(a[0], b[0], atol=1e-4)
    a = DefaultBoxGenerator([[2, 3]] * 3, min_ratio=0.2, max_ratio=0.95, clip=False)
    b = tanchor.DefaultBoxGenerator([[2, 3]] * 3, min_ratio=0.2, max_ratio=0.95, clip=False)
    shapes = [(20, 20), (10, 10), (5, 5)]
    _close(a(ImageList(vl.zeros((1, 3, 320, 320)), [(320, 320)]),
             [vl.zeros((1, 2, h, w)) for h, w in shapes])[0],
           b(timage_list.ImageList(torch.zeros((1, 3, 320, 320)), [(320, 320)]),
             [torch.zeros((1, 2, h, w)) for h, w in shapes])[0], atol=1e-4)


@pytest.mark.parametrize("kwargs", [dict(min_size=320, max_size=512), dict(min_size=(300, 320), max_size=400),
                                    dict(min_size=320, max_size=512, fixed_size=(320, 320))])
def test_generalized_rcnn_transform(kwargs):
    rng = np.random.default_rng(4)
    imgs = [rng.uniform(0, 1, (3, 97, 143)).astype(np.float32),
            rng.uniform(0, 1, (3, 120, 80)).astype(np.float32)]
    boxes = [_boxes(rng, 3, 80.0), _boxes(rng, 2, 80.0)]
    masks = [(rng.uniform(0, 1, (3, 97, 143)) > 0.5).astype(np.uint8),
             (rng.uniform(0, 1, (2, 120, 80)) > 0.5).astype(np.uint8)]
    kps = [rng.uniform(0, 80, (3, 17, 3)).astype(np.float32),
           rng.uniform(0, 80, (2, 17, 3)).astype(np.float32)]
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    ours = GeneralizedRCNNTransform(image_mean=mean, image_std=std, **kwargs).eval()
    theirs = ttransform.GeneralizedRCNNTransform(image_mean=mean, image_std=std, **kwargs).eval()
    assert repr(ours) == repr(theirs)
    targets = [dict(boxes=vl.tensor(b), masks=vl.tensor(m), keypoints=vl.tensor(k))
               for b, m, k in zip(boxes, masks, kps)]
    ttargets = [dict(boxes=torch.tensor(b), masks=torch.tensor(m), keypoints=torch.tensor(k))
                for b, m, k in zip(boxes, masks, kps)]
    il, t = ours([vl.tensor(i) for i in imgs], targets)
    til, tt = theirs([torch.tensor(i) for i in imgs], ttargets)
    assert il.image_sizes == [tuple(s) for s in til.image_sizes]
    assert tuple(il.tensors.shape) == tuple(til.tensors.shape)
    _close(il.tensors, til.tensors, atol=1e-4)  # float32 bilinear weights round differently
    assert targets[0]["boxes"] is not t[0]["boxes"]  # the caller's dicts are left alone
    for a, b in zip(t, tt):
        _close(a["boxes"], b["boxes"])
        _close(a["keypoints"], b["keypoints"])
        assert a["masks"].dtype == vl.uint8
        np.testing.assert_array_equal(a["masks"].numpy(), b["masks"].numpy())
    dets = [dict(boxes=vl.tensor(b), keypoints=vl.tensor(k)) for b, k in zip(boxes, kps)]
    tdets = [dict(boxes=torch.tensor(b), keypoints=torch.tensor(k)) for b, k in zip(boxes, kps)]
    orig = [(97, 143), (120, 80)]
    out = ours.postprocess(dets, il.image_sizes, orig)
    tout = theirs.postprocess(tdets, til.image_sizes, orig)
    for a, b in zip(out, tout):
        _close(a["boxes"], b["boxes"])
        _close(a["keypoints"], b["keypoints"])


def test_transform_errors_and_skip_resize():
    t = GeneralizedRCNNTransform(320, 512, [0.0] * 3, [1.0] * 3)
    with pytest.raises(TypeError, match="floating"):
        t([vl.zeros((3, 10, 10), dtype=vl.uint8)])
    with pytest.raises(ValueError, match="3d tensors"):
        t([vl.zeros((1, 3, 10, 10))])
    t = GeneralizedRCNNTransform(320, 512, [0.0] * 3, [1.0] * 3, _skip_resize=True).train()
    il, _ = t([vl.zeros((3, 40, 50))], [dict(boxes=vl.tensor([[0.0, 0.0, 5.0, 5.0]]))])
    assert il.image_sizes == [(40, 50)] and tuple(il.tensors.shape) == (1, 3, 64, 64)


troi = require("torchvision.models.detection.roi_heads")
trpn = require("torchvision.models.detection.rpn")


def test_paste_masks_in_image():
    from visionlite.models.detection.roi_heads import paste_masks_in_image

    rng = np.random.default_rng(5)
    masks = rng.uniform(0, 1, (4, 1, 28, 28)).astype(np.float32)
    boxes = np.array([[10.3, 5.2, 60.8, 40.1], [-5.0, -3.0, 20.0, 30.0], [70.0, 50.0, 99.0, 79.5],
                      [30.0, 30.0, 31.0, 31.0]], np.float32)
    ours = paste_masks_in_image(vl.tensor(masks), vl.tensor(boxes), (80, 100))
    theirs = troi.paste_masks_in_image(torch.tensor(masks), torch.tensor(boxes), (80, 100))
    _close(ours, theirs, atol=1e-5)
    empty = paste_masks_in_image(vl.zeros((0, 1, 28, 28)), vl.zeros((0, 4)), (80, 100))
    assert tuple(empty.shape) == (0, 1, 80, 100)


def test_heatmaps_to_keypoints_and_losses():
    from visionlite.models.detection import roi_heads as vroi

    rng = np.random.default_rng(6)
    maps = rng.normal(0, 1, (3, 17, 56, 56)).astype(np.float32)
    rois = np.array([[10.0, 20.0, 70.5, 90.2], [0.0, 0.0, 30.0, 12.0], [5.0, 5.0, 5.5, 6.0]], np.float32)
    kp, sc = vroi.heatmaps_to_keypoints(vl.tensor(maps), vl.tensor(rois))
    tkp, tsc = troi.heatmaps_to_keypoints(torch.tensor(maps), torch.tensor(rois))
    _close(kp, tkp, atol=1e-4)
    _close(sc, tsc, atol=1e-4)
    gt = np.stack([rng.uniform(0, 80, (3, 17)), rng.uniform(0, 90, (3, 17)), rng.integers(0, 3, (3, 17))],
                  -1).astype(np.float32)
    logits = rng.normal(0, 1, (3, 17, 56, 56)).astype(np.float32)
    idx = np.array([0, 2, 1])
    ours = vroi.keypointrcnn_loss(vl.tensor(logits), [vl.tensor(rois)], [vl.tensor(gt)], [vl.tensor(idx)])
    theirs = troi.keypointrcnn_loss(torch.tensor(logits), [torch.tensor(rois)], [torch.tensor(gt)],
                                    [torch.tensor(idx)])
    np.testing.assert_allclose(float(ours.item()), float(theirs), rtol=1e-5)
    gt_masks = (rng.uniform(0, 1, (2, 100, 90)) > 0.5).astype(np.uint8)
    mlogits = rng.normal(0, 1, (3, 4, 28, 28)).astype(np.float32)
    labels, midx = np.array([1, 3]), np.array([0, 1, 1])
    ours = vroi.maskrcnn_loss(vl.tensor(mlogits), [vl.tensor(rois)], [vl.tensor(gt_masks)],
                              [vl.tensor(labels)], [vl.tensor(midx)])
    theirs = troi.maskrcnn_loss(torch.tensor(mlogits), [torch.tensor(rois)], [torch.tensor(gt_masks)],
                                [torch.tensor(labels)], [torch.tensor(midx)])
    np.testing.assert_allclose(float(ours.item()), float(theirs), rtol=1e-5)


def test_concat_box_prediction_layers():
    from visionlite.models.detection.rpn import concat_box_prediction_layers

    rng = np.random.default_rng(7)
    cls = [rng.normal(0, 1, (2, 3 * 5, h, w)).astype(np.float32) for h, w in ((6, 7), (3, 4))]
    reg = [rng.normal(0, 1, (2, 3 * 4, h, w)).astype(np.float32) for h, w in ((6, 7), (3, 4))]
    a, b = concat_box_prediction_layers([vl.tensor(c) for c in cls], [vl.tensor(r) for r in reg])
    ta, tb = trpn.concat_box_prediction_layers([torch.tensor(c) for c in cls], [torch.tensor(r) for r in reg])
    _close(a, ta, atol=0, rtol=0)
    _close(b, tb, atol=0, rtol=0)
