"""RetinaNet (v1, v2), FCOS, SSD300-VGG16 and SSDlite320-MobileNetV3 equal TorchVision's.

TorchVision's random models (norm statistics and affines perturbed, prediction layers rescaled and the
classifier biased so that confident detections exist) go through a real ``torch.save`` file into the
visionlite builders with ``strict=True``. On a real photo the eval detections match box for box (same label,
IoU >= 0.98, score within 1e-3); in train mode the loss dicts equal TorchVision's for the same targets and
backpropagate to every trainable parameter; the weights enums equal TorchVision's entry by entry.
"""
import os

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite.models import detection as vdet

torch = require("torch")
tdet = require("torchvision.models.detection")
tv_boxes = require("torchvision.ops.boxes")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")

# name -> builder kwargs that keep the test fast: smaller inputs where the model resizes freely, and the 21
# classes of Pascal VOC (the SSDs keep TorchVision's default of 91).
_FPN_SMALL = {"min_size": 192, "max_size": 288, "num_classes": 21}
SMALL = {
    "retinanet_resnet50_fpn": _FPN_SMALL,
    "retinanet_resnet50_fpn_v2": _FPN_SMALL,
    "fcos_resnet50_fpn": _FPN_SMALL,
    "ssd300_vgg16": {},
    "ssdlite320_mobilenet_v3_large": {},
}
FAST = ["retinanet_resnet50_fpn", "fcos_resnet50_fpn", "ssdlite320_mobilenet_v3_large"]
SLOW = ["retinanet_resnet50_fpn_v2", "ssd300_vgg16"]
ALL = FAST + SLOW
PARAMS = FAST + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW]
# Training parity: one ResNet-50 FPN family (FCOS, whose targets are the most involved) and SSDlite run in the
# default suite; RetinaNet's twin of the same test is slow (the suite's time budget).
TRAIN_PARAMS = ["fcos_resnet50_fpn", "ssdlite320_mobilenet_v3_large"] + [
    pytest.param(n, marks=pytest.mark.slow) for n in ["retinanet_resnet50_fpn", *SLOW]]


def _photo(name="astronaut.png", size=None):
    """A real photo as a ``(3, H, W)`` float32 array in [0, 1], with a faint fixed dither (+-2/255): flat
    regions would otherwise give exactly tied scores, which NMS may break either way."""
    img = Image.open(os.path.join(ASSETS, name)).convert("RGB")
    if size is not None:
        img = img.resize(size, Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    dither = np.random.default_rng(len(name)).uniform(-2 / 255, 2 / 255, x.shape).astype(np.float32)
    return np.ascontiguousarray(np.clip(x + dither, 0.0, 1.0))


def _prediction_convs(head):
    """The last conv of each prediction branch of a classification or regression head."""
    if hasattr(head, "module_list"):  # SSD: one branch per feature map, its last conv
        return [[c for c in b.modules() if isinstance(c, torch.nn.Conv2d)][-1] for b in head.module_list]
    names = ("cls_logits", "bbox_reg", "bbox_ctrness")
    return [getattr(head, n) for n in names if isinstance(getattr(head, n, None), torch.nn.Conv2d)]


def _perturb(model, seed=1):
    """Norm layers away from identities, with a photo's statistics; prediction layers rescaled (measured on a
    photo) to logits of std 1 and box outputs of std 0.2; three classes biased up so that some detections are
    confident."""
    g = torch.Generator().manual_seed(seed)

    def rand(shape):
        return torch.rand(shape, generator=g)

    with torch.no_grad():
        batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                m.weight.copy_(rand(m.weight.shape) * 0.5 + 0.75)
                m.bias.copy_(rand(m.bias.shape) * 0.4 - 0.2)
        # Statistics of a real photo (a random network's init statistics would let the signal fade until
        # every location scores the same), then perturbed.
        images, _ = model.transform([torch.from_numpy(_photo(n)) for n in ("chelsea.png", "coffee.png")])
        for m in batch_norms:
            m.momentum, m.training = 1.0, True
        model.head(list(model.backbone(images.tensors).values()))
        for m in batch_norms:
            m.momentum, m.training = 0.1, False
            m.running_mean.add_(rand(m.running_mean.shape) * 0.2 - 0.1)
            m.running_var.mul_(rand(m.running_var.shape) * 0.4 + 0.8)
        cls_head, reg_head = model.head.classification_head, model.head.regression_head
        cls_convs, reg_convs = _prediction_convs(cls_head), _prediction_convs(reg_head)
        spread = {}

        def record(conv, _, out):
            centred = out - conv.bias.view(1, -1, 1, 1)
            spread[conv] = max(spread.get(conv, 0.0), float(centred.std()))

        handles = [c.register_forward_hook(record) for c in cls_convs + reg_convs]
        model([torch.from_numpy(_photo("astronaut.png", (288, 240)))])
        for h in handles:
            h.remove()
        num_classes = cls_head.num_columns if hasattr(cls_head, "num_columns") else cls_head.num_classes
        for conv in cls_convs:
            conv.weight.mul_(1.0 / spread[conv])
            bias = conv.bias.view(-1, num_classes)
            bias.copy_(rand(bias.shape) - 4.0)
            bias[:, [1, 7, 15]] += 3.0
        for conv in reg_convs:
            conv.weight.mul_(0.2 / spread[conv])
            conv.bias.copy_(rand(conv.bias.shape) * 0.2 - 0.1)
        if isinstance(model, tdet.FCOS):  # distances to the box sides, in anchor sizes: about 1-2
            reg_head.bbox_reg.bias.add_(1.5)


def _twins(name, tmp_path, **kwargs):
    """TorchVision's perturbed random ``name`` and visionlite's, loaded from its ``torch.save`` file."""
    kwargs = {"weights": None, "weights_backbone": None, **SMALL[name], **kwargs}
    torch.manual_seed(0)
    theirs = getattr(tdet, name)(**kwargs).eval()
    _perturb(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = getattr(vdet, name)(**kwargs).eval()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in theirs_sd.items():
        assert tuple(ours_sd[key].shape) == tuple(value.shape), key
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _twins(name, tmp_path_factory.mktemp(name))
        return cache[name]

    yield get
    cache.clear()


def _assert_same_detections(got, expected):
    """Box for box: each of TorchVision's detections has its own twin in ours (same label, IoU >= 0.98, score
    within 1e-3); equal scores may be ordered differently, so twins are paired greedily in score order."""
    e_boxes, e_scores, e_labels = (expected[k].numpy() for k in ("boxes", "scores", "labels"))
    g_boxes, g_scores, g_labels = (got[k].numpy() for k in ("boxes", "scores", "labels"))
    assert g_labels.dtype == np.int64 and g_boxes.dtype == np.float32 and g_scores.dtype == np.float32
    assert len(g_boxes) == len(e_boxes) and len(e_boxes) > 0
    assert e_scores.max() > 0.5  # some detections are confident: the comparison means something
    iou = np.nan_to_num(tv_boxes.box_iou(torch.from_numpy(e_boxes), torch.from_numpy(g_boxes)).numpy())
    free = np.ones(len(g_boxes), bool)
    for i in range(len(e_boxes)):
        # Boxes clipped to nothing (zero area) have no IoU: compare those by their corners.
        same_box = (iou[i] >= 0.98) | (np.abs(g_boxes - e_boxes[i]).max(axis=1) <= 1e-2)
        ok = free & (g_labels == e_labels[i]) & same_box & (np.abs(g_scores - e_scores[i]) <= 1e-3)
        assert ok.any(), f"detection {i} {e_boxes[i]} label {e_labels[i]} score {e_scores[i]} has no twin"
        candidates = np.flatnonzero(ok)
        free[candidates[np.argmax(iou[i, candidates])]] = False
    # The ranking agrees too: the scores, in order, are the same to 1e-3.
    np.testing.assert_allclose(g_scores, e_scores, atol=1e-3)


def _detect(ours, theirs, images):
    with torch.no_grad():
        expected = theirs([torch.from_numpy(x) for x in images])
    with vl.no_grad():
        got = ours([vl.tensor(x) for x in images])
    assert isinstance(got, list) and len(got) == len(images)
    return got, expected


@pytest.mark.parametrize("name", PARAMS)
def test_eval_detections_match_torchvision(name, twins):
    ours, theirs = twins(name)
    image = _photo("astronaut.png", (288, 240)) if name.startswith(("retina", "fcos")) else _photo()
    (got,), (expected,) = _detect(ours, theirs, [image])
    assert sorted(got) == ["boxes", "labels", "scores"]
    _assert_same_detections(got, expected)


def test_eval_batch_of_two_sizes(twins):
    # Two images of different sizes are batched (padded) together and mapped back to their own sizes.
    ours, theirs = twins("ssdlite320_mobilenet_v3_large")
    got, expected = _detect(ours, theirs, [_photo("chelsea.png"), _photo("coffee.png", (200, 150))])
    for g, e in zip(got, expected):
        _assert_same_detections(g, e)


def _targets(lib, images):
    """Two boxes in the first image, one in the second (given as fractions of the image's size)."""
    fractions = [[[0.23, 0.08, 0.78, 0.9], [0.04, 0.58, 0.35, 0.98]], [[0.12, 0.2, 0.58, 0.6]]]
    labels = [[1, 7], [15]]
    as_tensor = torch.tensor if lib == "torch" else vl.tensor
    targets = []
    for image, boxes, lab in zip(images, fractions, labels):
        h, w = image.shape[-2:]
        pixels = [[b[0] * w, b[1] * h, b[2] * w, b[3] * h] for b in boxes]
        targets.append({"boxes": as_tensor(pixels), "labels": as_tensor(lab)})
    return targets


@pytest.mark.parametrize("name", TRAIN_PARAMS)
def test_train_losses_match_torchvision_and_reach_every_parameter(name, twins):
    ours, theirs = twins(name)
    images = [_photo("astronaut.png", (256, 256)), _photo("chelsea.png", (240, 200))]
    sizes = {m: (m.transform.min_size, m.transform.max_size) for m in (ours, theirs)}
    if name.startswith(("retina", "fcos")):  # train on smaller inputs than the eval test
        images = [_photo("astronaut.png", (128, 128)), _photo("chelsea.png", (150, 125))]
        for m in sizes:
            m.transform.min_size, m.transform.max_size = (128,), 192
    theirs.train()
    ours.train()
    try:
        expected = theirs([torch.from_numpy(x) for x in images], _targets("torch", images))
        got = ours([vl.tensor(x) for x in images], _targets("vl", images))
        assert sorted(got) == sorted(expected)
        for key in expected:
            np.testing.assert_allclose(float(got[key]), expected[key].item(), rtol=1e-4, atol=1e-5,
                                       err_msg=key)
        sum(got.values()).backward()
        sum(expected.values()).backward()
    finally:
        for m, (min_size, max_size) in sizes.items():
            m.eval()
            m.transform.min_size, m.transform.max_size = min_size, max_size
    theirs_params = dict(theirs.named_parameters())
    trainable = [(n, p) for n, p in ours.named_parameters() if p.requires_grad]
    assert trainable and len(trainable) == sum(p.requires_grad for p in theirs_params.values())
    # A conv bias right before train-mode BatchNorm has a zero gradient up to rounding: compare such
    # near-zero gradients by size only.
    tiny = 1e-3 * np.median([float(theirs_params[n].grad.norm()) for n, _ in trainable])
    for pname, p in trainable:
        assert p.grad is not None, pname
        grad = p.grad.numpy()
        assert np.isfinite(grad).all(), pname
        ref = theirs_params[pname].grad.numpy().ravel()
        # Train-mode BatchNorm over a few values (the 1x1 maps) amplifies float32 rounding into the early
        # layers' gradients, so they are compared by direction and size rather than element by element.
        grad = grad.ravel().astype(np.float64)
        scale = max(np.linalg.norm(ref), 1e-12)
        cosine = float(grad @ ref) / (max(np.linalg.norm(grad), 1e-12) * scale)
        assert abs(np.linalg.norm(grad) - np.linalg.norm(ref)) <= 0.05 * scale + tiny, pname
        assert np.linalg.norm(ref) < tiny or cosine > 0.99, (pname, cosine)
    ours.zero_grad()
    theirs.zero_grad()


@pytest.mark.parametrize("name", ["retinanet_resnet50_fpn", "ssdlite320_mobilenet_v3_large",
                                  pytest.param("fcos_resnet50_fpn", marks=pytest.mark.slow)])
def test_train_losses_with_an_image_without_boxes(name, twins):
    ours, theirs = twins(name)
    images = [_photo("coffee.png", (120, 100)), _photo("chelsea.png", (110, 90))]
    empty = {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros((0,), np.int64)}
    one = {"boxes": np.array([[10.0, 10.0, 60.0, 70.0]], np.float32), "labels": np.array([2])}
    sizes = {m: (m.transform.min_size, m.transform.max_size) for m in (ours, theirs)}
    for m in sizes:
        m.train()
        if name.startswith(("retina", "fcos")):
            m.transform.min_size, m.transform.max_size = (96,), 128
    try:
        for targets in ([empty, one], [empty, empty]):
            with torch.no_grad():
                expected = theirs([torch.from_numpy(x) for x in images],
                                  [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
            with vl.no_grad():
                got = ours([vl.tensor(x) for x in images],
                           [{k: vl.tensor(v) for k, v in t.items()} for t in targets])
            assert sorted(got) == sorted(expected)
            for key in expected:
                np.testing.assert_allclose(float(got[key]), expected[key].item(), rtol=1e-4, atol=1e-6,
                                           err_msg=key)
    finally:
        for m, (min_size, max_size) in sizes.items():
            m.eval()
            m.transform.min_size, m.transform.max_size = min_size, max_size


def test_retinanet_loads_checkpoints_with_pre_v2_head_keys(twins, tmp_path):
    # Before TorchVision 0.13 each head tower was a flat Sequential of conv/ReLU (conv.0, conv.2, ...); a
    # checkpoint without version metadata is renamed on load, as TorchVision does.
    import re

    ours, theirs = twins("retinanet_resnet50_fpn")
    pattern = re.compile(r"^(head\.\w+_head\.conv\.)(\d)\.0\.")
    old = {pattern.sub(lambda m: f"{m.group(1)}{2 * int(m.group(2))}.", k): v
           for k, v in theirs.state_dict().items()}
    assert "head.classification_head.conv.6.weight" in old
    torch.save(old, tmp_path / "v1.pth")
    ours.load_state_dict(vl.load(tmp_path / "v1.pth"), strict=True)
    np.testing.assert_array_equal(ours.head.regression_head.conv[3][0].weight.detach().numpy(),
                                  theirs.head.regression_head.conv[3][0].weight.detach().numpy())


def test_train_mode_needs_targets_and_valid_boxes(twins):
    ours, _ = twins("ssdlite320_mobilenet_v3_large")
    ours.train()
    try:
        with pytest.raises(ValueError, match="targets should not be none"):
            ours([vl.tensor(_photo())])
        with pytest.raises(ValueError, match="positive height and width"):
            ours([vl.tensor(_photo())], [{"boxes": vl.tensor([[10.0, 10.0, 10.0, 50.0]]),
                                          "labels": vl.tensor([1])}])
    finally:
        ours.eval()


@pytest.mark.parametrize("name", ALL)
def test_weights_enums_equal_torchvision(name):
    from torchvision.models import get_model_weights as tv_weights

    from visionlite.models import get_model_weights

    ours, theirs = get_model_weights(name), tv_weights(name)
    assert ours.__name__ == theirs.__name__
    assert [m.name for m in ours] == [m.name for m in theirs]
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for a, b in zip(ours, theirs):
        assert a.url == b.url
        meta_a = {k: v for k, v in a.meta.items() if k not in ("_sha256_verified",)}
        meta_b = {k: v for k, v in b.meta.items() if k != "_docs"}
        meta_a.pop("_docs", None)
        assert meta_a == meta_b
        assert type(a.transforms()).__name__ == type(b.transforms()).__name__


def test_builder_arguments_as_torchvision():
    model = vdet.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=5,
                                        score_thresh=0.3, nms_thresh=0.4, detections_per_img=7,
                                        topk_candidates=11, min_size=300, max_size=400)
    assert model.head.classification_head.num_classes == 5
    assert (model.score_thresh, model.nms_thresh, model.detections_per_img, model.topk_candidates) == \
        (0.3, 0.4, 7, 11)
    assert model.transform.min_size == (300,) and model.transform.max_size == 400
    with pytest.raises(TypeError, match="pretrained"):
        vdet.fcos_resnet50_fpn(pretrained=True)
    with pytest.raises(ValueError, match="num_classes"):
        vdet.ssd300_vgg16(weights="DEFAULT", num_classes=3)


@pytest.mark.parametrize("trainable", [0, 2, 5])
def test_frozen_backbone_layers_as_torchvision(trainable):
    import types

    from torchvision.models import mobilenet_v3_large
    from torchvision.models.vgg import cfgs, make_layers

    from visionlite.models import mobilenet_v3_large as vl_mobilenet
    from visionlite.models import vgg as vl_vgg
    from visionlite.models.detection import ssd, ssdlite

    def trainable_names(extractor):
        return [n for n, p in extractor.named_parameters() if p.requires_grad]

    # The extractors read only VGG's ``features``: skip building its 120M-parameter classifier.
    ours_vgg = types.SimpleNamespace(features=vl_vgg.make_layers(vl_vgg.cfgs["D"]))
    theirs_vgg = types.SimpleNamespace(features=make_layers(cfgs["D"]))
    assert trainable_names(ssd._vgg_extractor(ours_vgg, False, trainable)) == \
        trainable_names(tdet.ssd._vgg_extractor(theirs_vgg, False, trainable))
    norm = torch.nn.BatchNorm2d
    assert trainable_names(ssdlite._mobilenet_extractor(vl_mobilenet(), trainable, vl.nn.BatchNorm2d)) == \
        trainable_names(tdet.ssdlite._mobilenet_extractor(mobilenet_v3_large(), trainable, norm))
