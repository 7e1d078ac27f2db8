"""Joint transforms: boxes and masks must stay on the pixels they describe after every geometric
transform, box arithmetic must agree with TorchVision's v2 kernels, and degenerate boxes are dropped."""
import numpy as np
import pytest
from PIL import Image as PILImage

import visionlite as vl
from tests.helpers.refs import require
from visionlite.transforms import InterpolationMode as IM
from visionlite.transforms import v2 as V
from visionlite.transforms.v2 import tv_tensors as tvt

H, W = 120, 160
RECT = (40, 30, 100, 80)  # x1, y1, x2, y2 of the drawn rectangle


def _sample(as_pil=False, fmt="XYXY"):
    img = np.zeros((3, H, W), np.uint8)
    x1, y1, x2, y2 = RECT
    img[:, y1:y2, x1:x2] = 255
    mask = np.zeros((2, H, W), np.uint8)
    mask[0, y1:y2, x1:x2] = 1
    mask[1, 5:15, 5:25] = 1
    xyxy = np.array([RECT, (5, 5, 25, 15)], dtype=np.float32)
    boxes = tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=(H, W))
    if fmt != "XYXY":
        boxes = V.ConvertBoundingBoxFormat(fmt)(boxes)
    image = PILImage.fromarray(img.transpose(1, 2, 0)) if as_pil else vl.tensor(img)
    return {"image": image, "boxes": boxes, "masks": tvt.Mask(mask), "labels": vl.tensor([7, 9])}


def _pixels(image):
    arr = np.asarray(image)[..., 0] if isinstance(image, PILImage.Image) else image.numpy()[0]
    return arr


def _extent(arr):
    ys, xs = np.nonzero(arr)
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None


def _xyxy(boxes):
    return V.ConvertBoundingBoxFormat("XYXY")(boxes).numpy()


TRANSFORMS = [
    ("hflip", lambda: V.RandomHorizontalFlip(p=1.0), 0),
    ("vflip", lambda: V.RandomVerticalFlip(p=1.0), 0),
    ("resize", lambda: V.Resize(90, interpolation=IM.NEAREST_EXACT), 1),
    ("resize_hw", lambda: V.Resize((200, 100), interpolation=IM.NEAREST_EXACT), 1),
    ("center_crop", lambda: V.CenterCrop(100), 0),
    ("center_crop_pad", lambda: V.CenterCrop((150, 200)), 0),
    ("random_crop", lambda: V.RandomCrop(110, padding=8), 0),
    ("random_crop_pad_if_needed", lambda: V.RandomCrop((140, 100), pad_if_needed=True), 0),
    ("pad", lambda: V.Pad([3, 4, 5, 6]), 0),
    ("random_resized_crop", lambda: V.RandomResizedCrop(96, (0.6, 1.0), interpolation=IM.NEAREST_EXACT), 1),
    ("affine", lambda: V.RandomAffine(25, translate=(0.1, 0.1), scale=(0.8, 1.1)), 1.5),
    ("affine_shear", lambda: V.RandomAffine(0, shear=(5, 15)), 1.5),
    ("rotation_expand", lambda: V.RandomRotation(40, expand=True), 1.5),
    ("rotation_center", lambda: V.RandomRotation(30, center=(50, 40)), 1.5),
]


@pytest.mark.parametrize("make,tol", [pytest.param(m, t, id=n) for n, m, t in TRANSFORMS])
@pytest.mark.parametrize("as_pil", [False, True], ids=["tensor", "pil"])
@pytest.mark.parametrize("fmt", ["XYXY", "CXCYWH"])
def test_boxes_and_masks_follow_the_pixels(make, tol, as_pil, fmt):
    for seed in range(3):
        vl.manual_seed(seed)
        out = make()(_sample(as_pil, fmt))
        img, boxes, masks = out["image"], out["boxes"], out["masks"]
        assert isinstance(boxes, tvt.BoundingBoxes) and isinstance(masks, tvt.Mask)
        assert boxes.format == tvt.BoundingBoxFormat[fmt]
        h, w = _pixels(img).shape
        assert boxes.canvas_size == (h, w) and tuple(masks.shape[-2:]) == (h, w)
        assert out["labels"].tolist() == [7, 9]
        extent = _extent(_pixels(img))
        box = _xyxy(boxes)[0]
        if extent is None:  # the rectangle left the picture: its box must have collapsed too
            assert box[2] - box[0] < 1 + tol or box[3] - box[1] < 1 + tol
            continue
        np.testing.assert_allclose(box, extent, atol=tol + 1e-4)
        # the mask went through the same geometry, sampled with nearest: it covers the same pixels
        same = (masks.numpy()[0] > 0) == (_pixels(img) > 127)
        assert same.mean() > 0.995


def test_box_arithmetic_matches_torchvision_v2():
    torch = require("torch")
    TF2 = require("torchvision.transforms.v2.functional")
    from torchvision import tv_tensors as TVT

    xyxy = np.array([[10, 20, 60, 70], [100, 5, 150, 40], [0, 0, 159, 119]], dtype=np.float32)
    ours = tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=(H, W))
    theirs = TVT.BoundingBoxes(torch.from_numpy(xyxy), format="XYXY", canvas_size=(H, W))
    ops = [
        (V.RandomHorizontalFlip(1.0), lambda b: TF2.horizontal_flip(b)),
        (V.RandomVerticalFlip(1.0), lambda b: TF2.vertical_flip(b)),
        (V.Resize((90, 200)), lambda b: TF2.resize(b, [90, 200])),
        (V.Pad([3, 4, 5, 6]), lambda b: TF2.pad(b, [3, 4, 5, 6])),
        (V.CenterCrop((100, 120)), lambda b: TF2.center_crop(b, [100, 120])),
    ]
    for t, f in ops:
        a, b = t(ours), f(theirs)
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)
        assert a.canvas_size == tuple(b.canvas_size)
    t = V.RandomAffine(30, translate=(0.1, 0.2), scale=(0.7, 1.3), shear=(-8, 8))
    vl.manual_seed(5)
    a = t(ours)
    vl.manual_seed(5)
    v1 = t._v1
    angle, translate, scale, shear = v1.get_params(v1.degrees, v1.translate, v1.scale, v1.shear, [W, H])
    b = TF2.affine(theirs, angle=angle, translate=list(translate), scale=scale, shear=list(shear))
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-3)


def test_formats_round_trip():
    xyxy = np.array([[10, 20, 60, 70], [1, 2, 3, 9]], dtype=np.float32)
    b = tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=(H, W))
    xywh = V.ConvertBoundingBoxFormat("XYWH")(b)
    np.testing.assert_array_equal(xywh.numpy(), [[10, 20, 50, 50], [1, 2, 2, 7]])
    cxcywh = V.ConvertBoundingBoxFormat(tvt.BoundingBoxFormat.CXCYWH)(xywh)
    np.testing.assert_array_equal(cxcywh.numpy(), [[35, 45, 50, 50], [2, 5.5, 2, 7]])
    np.testing.assert_array_equal(V.ConvertBoundingBoxFormat("XYXY")(cxcywh).numpy(), xyxy)


def test_sanitize_drops_degenerate_boxes_with_labels_and_masks():
    sample = _sample()
    vl.manual_seed(0)
    # a crop that keeps the big rectangle and cuts the small box away
    out = V.Compose([V.CenterCrop(60), V.SanitizeBoundingBoxes()])(sample)
    assert out["labels"].tolist() == [7]
    assert out["boxes"].shape == (1, 4) and out["masks"].shape == (1, 60, 60)
    boxes = tvt.BoundingBoxes([[0, 0, 0.5, 3], [1, 1, 5, 5], [2, 2, 9, 2.5]], format="XYXY",
                              canvas_size=(10, 10))
    target = {"boxes": boxes, "labels": vl.tensor([1, 2, 3])}
    out = V.SanitizeBoundingBoxes(min_size=1)((vl.zeros(3, 10, 10), target))
    assert out[1]["labels"].tolist() == [2]
    with pytest.raises(ValueError, match="labels"):
        V.SanitizeBoundingBoxes()({"boxes": boxes, "labels": vl.tensor([1, 2])})


def test_clamp_and_pass_through():
    boxes = tvt.BoundingBoxes([[-5, -3, 170, 50]], format="XYXY", canvas_size=(H, W))
    np.testing.assert_array_equal(V.ClampBoundingBoxes()(boxes).numpy(), [[0, 0, 160, 50]])
    sample = (vl.zeros(3, H, W), {"boxes": boxes, "name": "x.jpg", "id": 3})
    out = V.RandomHorizontalFlip(1.0)(sample)
    assert out[1]["name"] == "x.jpg" and out[1]["id"] == 3 and isinstance(out, tuple)


def test_seeded_pipeline_repeats_and_types():
    pipe = V.Compose([V.RandomResizedCrop(64), V.RandomHorizontalFlip(), V.RandomAffine(10), V.ToImage(),
                      V.ToDtype(vl.float32, scale=True), V.Normalize([0.5] * 3, [0.5] * 3)])
    vl.manual_seed(3)
    a = pipe(_sample(as_pil=True))
    vl.manual_seed(3)
    b = pipe(_sample(as_pil=True))
    assert isinstance(a["image"], tvt.Image) and a["image"].dtype == vl.float32
    np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    np.testing.assert_array_equal(a["boxes"].numpy(), b["boxes"].numpy())
    assert a["masks"].dtype == vl.uint8


def test_bad_input():
    with pytest.raises(ValueError, match="not supported with bounding boxes"):
        V.Pad(4, padding_mode="reflect")(_sample())
    with pytest.raises(TypeError, match="need an image"):
        V.RandomHorizontalFlip()({"labels": [1, 2]})
    with pytest.raises(ValueError, match="shape \\(N, 4\\)"):
        tvt.BoundingBoxes(np.zeros((2, 3)), format="XYXY", canvas_size=(4, 4))
    with pytest.raises(ValueError, match="unknown bounding box format"):
        tvt.BoundingBoxes(np.zeros((2, 4)), format="XXYY", canvas_size=(4, 4))
    with pytest.raises(ValueError, match="larger than input image size"):
        V.RandomCrop(500)(_sample())


def _rect_image(h, w, rect):
    x1, y1, x2, y2 = rect
    img = np.zeros((1, h, w), np.uint8)
    img[0, y1:y2, x1:x2] = 255
    return img


@pytest.mark.parametrize("mode", [IM.NEAREST, IM.NEAREST_EXACT, IM.BILINEAR])
def test_mask_follows_a_tensor_image_resize(mode):
    # with a tensor image, a mask is resampled as TorchVision v2 does (NEAREST), unless the image itself
    # uses NEAREST_EXACT; under a nearest resize both then cover exactly the same pixels
    img = _rect_image(61, 83, (20, 10, 70, 40))
    out_img, out_mask = V.Resize((23, 29), interpolation=mode)(tvt.Image(vl.tensor(img)),
                                                                tvt.Mask(vl.tensor(img[0] > 0)))
    ref = vl.tensor(img[0] > 0).to(vl.uint8)[None]
    expected_mode = IM.NEAREST_EXACT if mode == IM.NEAREST_EXACT else IM.NEAREST
    expected = vl.transforms.functional.resize(ref, [23, 29], expected_mode).numpy()[0] > 0
    np.testing.assert_array_equal(out_mask.numpy() > 0, expected)
    if mode != IM.BILINEAR:
        np.testing.assert_array_equal(out_mask.numpy() > 0, out_img.numpy()[0] > 0)


def test_mask_resize_matches_torchvision_v2_for_tensor_images():
    torch = require("torch")
    TV2 = require("torchvision.transforms.v2")
    from torchvision import tv_tensors as TVT

    img = _rect_image(61, 83, (20, 10, 70, 40))
    mask = (np.arange(61 * 83).reshape(61, 83) % 7).astype(np.uint8)
    ours = V.Resize((23, 29))(tvt.Image(vl.tensor(img)), tvt.Mask(vl.tensor(mask)))[1]
    theirs = TV2.Resize((23, 29))(TVT.Image(torch.from_numpy(img)), TVT.Mask(torch.from_numpy(mask)))[1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("crop", [(80, 100), (61, 101), (70, 50), (64, 84)])
def test_center_crop_larger_than_image_keeps_boxes_on_the_pixels(crop):
    rect = (20, 10, 70, 40)
    img = _rect_image(61, 83, rect)
    boxes = tvt.BoundingBoxes([rect], format="XYXY", canvas_size=(61, 83))
    out_img, out_boxes = V.CenterCrop(crop)(tvt.Image(vl.tensor(img)), boxes)
    assert out_boxes.canvas_size == tuple(out_img.shape[-2:]) == crop
    np.testing.assert_array_equal(out_boxes.numpy()[0], _extent(out_img.numpy()[0]))


def test_fill_per_type_and_per_channel():
    torch = require("torch")
    TF2 = require("torchvision.transforms.v2.functional")

    sample = _sample()
    out = V.Pad(2, fill={tvt.Image: (10, 20, 30), tvt.Mask: 3})({"image": tvt.Image(sample["image"]),
                                                                  "masks": sample["masks"]})
    img = np.asarray(sample["image"].numpy())
    expected = TF2.pad(torch.from_numpy(img), [2], fill=[10, 20, 30]).numpy()
    np.testing.assert_array_equal(out["image"].numpy(), expected)
    assert (out["masks"].numpy()[:, 0] == 3).all() and (out["masks"].numpy()[:, 2:-2, 2:-2] < 3).all()
    # a single fill is the image's; masks are filled with 0 then
    out = V.RandomRotation((90, 90), fill=200)(sample)
    assert out["image"].numpy()[:, 0, 0].tolist() == [200] * 3
    assert out["masks"].numpy()[:, 0, 0].tolist() == [0, 0]
    out = V.RandomAffine((30, 30), fill={"others": 5})(dict(sample, image=tvt.Image(img)))
    assert out["image"].numpy()[:, 0, 0].tolist() == [5] * 3
    assert out["masks"].numpy()[:, 0, 0].tolist() == [5, 5]
