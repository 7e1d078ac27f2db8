"""Faster, Mask and Keypoint R-CNN equal TorchVision's: TorchVision's random models (BatchNorm statistics and
affine perturbed, the classifier biased so that confident detections exist) go through a real ``torch.save``
file into the visionlite builders with ``strict=True``; eval outputs on a real photo match box for box (same
labels, IoU >= 0.98, scores to 1e-3; masks and keypoints close); train-mode losses have TorchVision's keys
and values (every proposal and anchor sampled, so the random sampler cannot make them differ), are finite
and reach every trainable parameter; the weights enums equal TorchVision's entry by entry."""
import inspect
import os

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as vm
from visionlite.models import detection as vdet

torch = require("torch")
tvdet = require("torchvision.models.detection")
tvops = require("torchvision.ops")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
FAST = ["fasterrcnn_mobilenet_v3_large_320_fpn"]
SLOW = ["fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
        "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2", "keypointrcnn_resnet50_fpn"]
# Mask and Keypoint R-CNN in the default suite: their classes on the MobileNetV3-FPN backbone with slim heads
SMALL = ["mask", "keypoint"]
# small images, and few detections per image: the mask and keypoint heads run once per detection
SIZE = dict(min_size=192, max_size=256, box_detections_per_img=12)
# every anchor and every proposal is sampled, so the losses do not depend on the random sampler
ALL_SAMPLED = dict(rpn_batch_size_per_image=1_000_000, rpn_positive_fraction=0.5,
                   box_batch_size_per_image=1_000_000, box_positive_fraction=0.5,
                   rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=100)


def _photo(name="astronaut.png", size=(200, 160)):
    img = Image.open(os.path.join(ASSETS, name)).convert("RGB").resize(size, Image.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _perturb(model, seed=0):
    """BatchNorm statistics and affine away from identities; the box classifier biased towards two classes
    (and the keypoint/mask logits left random) so that confident detections exist."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
    _calibrate(model, g)


def _calibrate(model, g):
    """Scale the RPN and box predictors to the random features' size (measured on the photo), so that
    objectness and class logits spread over a few units (no near-ties deciding NMS) and box deltas stay
    near 0.1 (sane boxes); the classifier's bias favours two classes, so confident detections exist."""
    seen = {}

    def record(key):
        def hook(module, inputs, output):
            seen.setdefault(key, output.std().item())  # the first (largest) level for the RPN
        return hook

    hooks = [model.rpn.head.conv.register_forward_hook(record("rpn")),
             model.roi_heads.box_head.register_forward_hook(record("box"))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model([torch.tensor(_photo())])
    for h in hooks:
        h.remove()
    model.train(was_training)

    def scale(layer, feature_std, target):
        fan_in = layer.weight[0].numel()
        std = target / (feature_std * fan_in ** 0.5)
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * std)
        layer.bias.zero_()

    with torch.no_grad():
        rpn, predictor = model.rpn.head, model.roi_heads.box_predictor
        scale(rpn.cls_logits, seen["rpn"], 2.0)
        scale(rpn.bbox_pred, seen["rpn"], 0.1)
        scale(predictor.cls_score, seen["box"], 1.5)
        scale(predictor.bbox_pred, seen["box"], 0.1)
        predictor.cls_score.bias[1] = 4.0
        if predictor.cls_score.bias.numel() > 3:
            predictor.cls_score.bias[3] = 3.0


def _small(lib, kind, **kwargs):
    """``kind`` (mask / keypoint) R-CNN of ``lib`` (torchvision's or visionlite's detection package) on a
    MobileNetV3-Large FPN, with slimmer heads."""
    mobilenet = (torch_mobilenet if lib is tvdet else vm.mobilenet_v3_large)(weights=None)
    backbone = lib.backbone_utils._mobilenet_extractor(mobilenet, True, 6)
    anchors = lib.anchor_utils.AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    if kind == "mask":
        m = lib.mask_rcnn
        return m.MaskRCNN(backbone, num_classes=5, rpn_anchor_generator=anchors,
                          mask_head=m.MaskRCNNHeads(256, (64, 256), 1), **kwargs)
    k = lib.keypoint_rcnn
    return k.KeypointRCNN(backbone, num_classes=2, rpn_anchor_generator=anchors,
                          keypoint_head=k.KeypointRCNNHeads(256, (64, 64)),
                          keypoint_predictor=k.KeypointRCNNPredictor(64, 17), **kwargs)


def torch_mobilenet(weights=None):
    return require("torchvision.models").mobilenet_v3_large(weights=weights)


def _pair(name, tmp_path, **kwargs):
    torch.manual_seed(0)
    if name in SMALL:
        theirs = _small(tvdet, name, **kwargs).eval()
    else:
        theirs = getattr(tvdet, name)(weights=None, weights_backbone=None, **kwargs).eval()
    _perturb(theirs)
    path = os.path.join(tmp_path, f"{name}.pth")
    torch.save(theirs.state_dict(), path)
    if name in SMALL:
        ours = _small(vdet, name, **kwargs).eval()
    else:
        ours = vm.get_model(name, weights=None, weights_backbone=None, **kwargs).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _match(ours, theirs, min_score=0.2):
    """Detections above ``min_score`` agree one to one: each of TorchVision's has its own visionlite twin with
    the same label, a score within 1e-3 and IoU >= 0.98 (near-equal scores may come in another order).
    Returns the matched indices (ours, theirs)."""
    t_idx = np.nonzero(theirs["scores"].numpy() > min_score)[0]
    o_scores = ours["scores"].numpy()
    o_idx = np.nonzero(o_scores > min_score)[0]
    assert len(o_idx) == len(t_idx) > 0, (len(o_idx), len(t_idx))
    iou = tvops.box_iou(torch.tensor(ours["boxes"].numpy()[o_idx]), theirs["boxes"][t_idx]).numpy()
    o_labels, t_labels = ours["labels"].numpy()[o_idx], theirs["labels"].numpy()[t_idx]
    t_scores = theirs["scores"].numpy()[t_idx]
    free = np.ones(len(o_idx), bool)
    pairs = []
    for j in range(len(t_idx)):
        ok = free & (o_labels == t_labels[j]) & (np.abs(o_scores[o_idx] - t_scores[j]) <= 1e-3)
        assert ok.any(), f"no visionlite detection matches TorchVision's #{j}"
        i = int(np.argmax(np.where(ok, iou[:, j], -1.0)))
        assert iou[i, j] >= 0.98, (j, iou[i, j])
        free[i] = False
        pairs.append((o_idx[i], t_idx[j]))
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _eval_compare(name, tmp_path, **extra):
    ours, theirs = _pair(name, tmp_path, **SIZE, **extra)
    images = [_photo(), _photo("coffee.png", (180, 150))]
    with vl.no_grad():
        out = ours([vl.tensor(i) for i in images])
    with torch.no_grad():
        ref = theirs([torch.tensor(i) for i in images])
    assert isinstance(out, list) and len(out) == 2
    for o, t in zip(out, ref):
        assert sorted(o) == sorted(t)
        assert o["boxes"].dtype == vl.float32 and o["labels"].dtype == vl.int64
        o_keep, t_keep = _match(o, t)
        if "masks" in t:
            om, tm = o["masks"].numpy()[o_keep], t["masks"].numpy()[t_keep]
            assert om.shape == tm.shape and om.shape[1:] == (1,) + images[0].shape[1:] or om.shape == tm.shape
            assert np.abs(om - tm).max() < 2e-2 and np.abs(om - tm).mean() < 1e-3
        if "keypoints" in t:
            ok, tk = o["keypoints"].numpy()[o_keep], t["keypoints"].numpy()[t_keep]
            # a keypoint is the argmax of an upsampled heatmap: allow a pixel where two maxima nearly tie
            close = np.abs(ok - tk).max(-1) <= 1.0
            assert close.mean() > 0.97, close.mean()
            np.testing.assert_allclose(o["keypoints_scores"].numpy()[o_keep][close],
                                       t["keypoints_scores"].numpy()[t_keep][close], atol=2e-3, rtol=1e-3)
    return ours, theirs


def _targets(with_masks=False, with_keypoints=False):
    boxes = [np.array([[20.0, 30.0, 120.0, 150.0], [60.0, 10.0, 190.0, 90.0]], np.float32),
             np.array([[10.0, 20.0, 100.0, 140.0]], np.float32)]
    labels = [np.array([1, 3]), np.array([1])]
    out_vl, out_t = [], []
    rng = np.random.default_rng(0)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        h, w = (160, 200) if i == 0 else (150, 180)
        t = {"boxes": b, "labels": lab.astype(np.int64)}
        if with_keypoints:
            t["labels"] = np.ones_like(t["labels"])
            t["keypoints"] = np.stack([np.stack([rng.uniform(bb[0], bb[2], 17), rng.uniform(bb[1], bb[3], 17),
                                                 rng.integers(0, 3, 17)], -1) for bb in b]).astype(np.float32)
        if with_masks:
            m = np.zeros((len(b), h, w), np.uint8)
            for k, bb in enumerate(b.astype(int)):
                m[k, bb[1]:bb[3], bb[0]:bb[2]] = 1
            t["masks"] = m
        out_vl.append({k: vl.tensor(v) for k, v in t.items()})
        out_t.append({k: torch.tensor(v) for k, v in t.items()})
    return out_vl, out_t


def _train_compare(name, tmp_path):
    ours, theirs = _pair(name, tmp_path, **SIZE, **ALL_SAMPLED)
    ours.train()
    theirs.train()
    images = [_photo(), _photo("coffee.png", (180, 150))]
    tv_targets = _targets(name.startswith("mask"), name.startswith("keypoint"))
    losses = ours([vl.tensor(i) for i in images], tv_targets[0])
    ref = theirs([torch.tensor(i) for i in images], tv_targets[1])
    assert sorted(losses) == sorted(ref)
    for key in ref:
        value = float(losses[key].item())
        assert np.isfinite(value), key
        np.testing.assert_allclose(value, float(ref[key].detach()), rtol=2e-3, atol=1e-5, err_msg=key)
    total = sum(losses.values())
    total.backward()
    missing = [n for n, p in ours.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing[:10]
    assert all(np.isfinite(p.grad.numpy()).all() for p in ours.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", FAST + SMALL + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW])
def test_eval_matches_torchvision(name, tmp_path):
    _eval_compare(name, tmp_path)


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SMALL + SLOW])
def test_train_losses_match_torchvision(name, tmp_path):
    _train_compare(name, tmp_path)


def test_weights_enums_equal_torchvision():
    names = FAST + SLOW
    for name in names:
        ours, theirs = vm.get_model_weights(name), tvdet.__dict__[name].__annotations__["weights"]
        theirs = [a for a in getattr(theirs, "__args__", (theirs,)) if a is not type(None)][0]
        assert ours.__name__ == theirs.__name__
        assert list(ours.__members__) == list(theirs.__members__)
        for member in theirs:
            mine = ours[member.name]
            assert mine.url == member.url
            meta = {k: v for k, v in mine.meta.items() if k != "_sha256_verified"}
            # _docs is stored dedented (scripts/copy_weight_docs.py)
            assert meta == {k: inspect.cleandoc(v) if k == "_docs" else v for k, v in member.meta.items()}
            assert mine.meta["_sha256_verified"] == "prefix"
            assert type(mine.transforms()).__name__ == type(member.transforms()).__name__ == "ObjectDetection"


def test_registry_and_lazy_package():
    names = vm.list_models(module=vdet)
    assert set(FAST + SLOW) <= set(names)
    assert vdet.FasterRCNN.__module__ == "visionlite.models.detection.faster_rcnn"
    assert vm.detection is vdet and "detection" in dir(vm)
    from visionlite.models.detection.faster_rcnn import FastRCNNPredictor

    assert FastRCNNPredictor(1024, 3).cls_score.in_features == 1024  # the fine-tuning tutorial's head swap
    from visionlite.models.detection import MaskRCNN, keypointrcnn_resnet50_fpn  # noqa: F401
    with pytest.raises(ValueError, match="num_classes"):
        vdet.fasterrcnn_mobilenet_v3_large_320_fpn(weights="DEFAULT", weights_backbone=None, num_classes=3)


def test_constructor_arguments_as_torchvision():
    import inspect

    from visionlite.models.detection.faster_rcnn import _POSITIONAL

    theirs = list(inspect.signature(tvdet.FasterRCNN.__init__).parameters)
    ours = list(inspect.signature(vdet.FasterRCNN.__init__).parameters)
    assert ours == theirs and tuple(theirs[3:-1]) == _POSITIONAL
    backbone = vdet.backbone_utils._mobilenet_extractor(vm.mobilenet_v3_large(weights=None), True, 6)
    anchors = vdet.anchor_utils.AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    # positionally, as TorchVision's signature allows: min_size, max_size, ..., rpn_anchor_generator
    model = vdet.MaskRCNN(backbone, 3, 256, 300, None, None, anchors)
    assert model.transform.min_size == (256,) and model.transform.max_size == 300
    assert model.roi_heads.has_mask() and model.rpn.anchor_generator is anchors
    model = vdet.KeypointRCNN(backbone, 2, None, 400, rpn_anchor_generator=anchors, num_keypoints=5)
    assert model.transform.min_size == (640, 672, 704, 736, 768, 800) and model.transform.max_size == 400
    assert model.roi_heads.keypoint_predictor.out_channels == 5
    with pytest.raises(ValueError, match="num_keypoints should be None"):
        vdet.KeypointRCNN(backbone, 2, rpn_anchor_generator=anchors, num_keypoints=5,
                          keypoint_predictor=vdet.keypoint_rcnn.KeypointRCNNPredictor(512, 5))
    with pytest.raises(TypeError, match="multiple values"):
        vdet.MaskRCNN(backbone, 3, 256, min_size=300)
