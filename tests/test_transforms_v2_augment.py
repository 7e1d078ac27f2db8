"""transforms.v2 photometric, detection and container transforms: photometric ones change only images;
the detection ones move boxes and masks with the pixels. Each is checked against TorchVision v2's own
``transform`` on the same drawn parameters, and its draw against TorchVision's ``make_params`` fed the
same random numbers."""
import numpy as np
import pytest
from PIL import Image as PILImage

import visionlite as vl
from tests.helpers.refs import require
from visionlite.transforms import InterpolationMode as IM
from visionlite.transforms import v2 as V
from visionlite.transforms.v2 import tv_tensors as tvt

torch = require("torch")
TV2 = require("torchvision.transforms.v2")
from torchvision import tv_tensors as TVT  # noqa: E402

H, W = 120, 160
RECT = (40, 30, 100, 80)  # x1, y1, x2, y2 of the drawn rectangle
SMALL = (5, 5, 25, 15)


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (3, H, W), dtype=np.uint8)  # dark texture, so colour ops have work to do
    x1, y1, x2, y2 = RECT
    img[:, y1:y2, x1:x2] = np.array((250, 180, 90) if seed % 2 else (200, 220, 240))[:, None, None]
    mask = np.zeros((2, H, W), np.uint8)
    mask[0, y1:y2, x1:x2] = 1
    mask[1, SMALL[1]:SMALL[3], SMALL[0]:SMALL[2]] = 1
    return img, np.array([RECT, SMALL], np.float32), mask


def _ours(img, xyxy, mask, as_pil=False):
    image = PILImage.fromarray(img.transpose(1, 2, 0)) if as_pil else tvt.Image(vl.tensor(img))
    return {"image": image, "boxes": tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=img.shape[-2:]),
            "masks": tvt.Mask(vl.tensor(mask)), "labels": vl.tensor([7, 9])}


def _theirs(img, xyxy, mask, as_pil=False):
    image = PILImage.fromarray(img.transpose(1, 2, 0)) if as_pil else TVT.Image(torch.from_numpy(img))
    return {"image": image, "boxes": TVT.BoundingBoxes(torch.from_numpy(xyxy), format="XYXY",
                                                       canvas_size=img.shape[-2:]),
            "masks": TVT.Mask(torch.from_numpy(mask)), "labels": torch.tensor([7, 9])}


def _np(x):
    if isinstance(x, PILImage.Image):
        return np.asarray(x).transpose(2, 0, 1)
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


class _Drawn(Exception):
    pass


def _run(t, sample, draw_only=False):
    """Run ``t`` and return (output, the params it drew); ``draw_only`` stops once they are drawn."""
    seen = []
    draw = t.make_params

    def recording(*args):
        seen.append(draw(*args))
        if draw_only:
            raise _Drawn
        return seen[-1]

    t.make_params = recording
    try:
        out = t(sample)
    except _Drawn:
        out = None
    return out, (seen[0] if seen else None)


def _theirs_applied(tv_transform, sample, params):
    """TorchVision v2's ``transform`` of each input of ``sample`` with the given params."""
    return {k: v if k == "labels" else tv_transform.transform(v, params) for k, v in sample.items()}


def _assert_same(ours, theirs, image_atol=0):
    a, b = _np(ours["image"]).astype(int), _np(theirs["image"]).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= image_atol
    np.testing.assert_allclose(ours["boxes"].numpy(), theirs["boxes"].numpy(), atol=1e-3)
    assert tuple(ours["boxes"].canvas_size) == tuple(theirs["boxes"].canvas_size)
    np.testing.assert_array_equal(ours["masks"].numpy(), theirs["masks"].numpy())
    assert ours["labels"].tolist() == [7, 9]


# ------------------------------------------------------------------------------------ photometric
PHOTOMETRIC = [
    ("color_jitter", lambda: V.ColorJitter(0.4, 0.4, 0.4, 0.1), lambda: TV2.ColorJitter(),
     lambda p: dict(fn_idx=torch.tensor(p["order"]), brightness_factor=p["factors"][0],
                    contrast_factor=p["factors"][1], saturation_factor=p["factors"][2],
                    hue_factor=p["factors"][3])),
    ("photometric_distort", lambda: V.RandomPhotometricDistort(p=0.7), lambda: TV2.RandomPhotometricDistort(),
     lambda p: dict(brightness_factor=p["factors"][0], contrast_factor=p["factors"][1],
                    saturation_factor=p["factors"][2], hue_factor=p["factors"][3],
                    contrast_before=p["contrast_before"],
                    channel_permutation=None if p["permutation"] is None
                    else torch.tensor(p["permutation"]))),
    ("grayscale", lambda: V.Grayscale(3), lambda: TV2.Grayscale(3), lambda p: {}),
    ("random_grayscale", lambda: V.RandomGrayscale(p=1.0), lambda: TV2.RandomGrayscale(),
     lambda p: dict(num_input_channels=3)),
    ("gaussian_blur", lambda: V.GaussianBlur(5, (0.5, 2.0)), lambda: TV2.GaussianBlur(5),
     lambda p: dict(sigma=p["sigma"])),
]


@pytest.mark.parametrize("ours,theirs,convert", [pytest.param(*c[1:], id=c[0]) for c in PHOTOMETRIC])
@pytest.mark.parametrize("as_pil", [False, True], ids=["tensor", "pil"])
def test_photometric_transforms_change_only_images(ours, theirs, convert, as_pil):
    arrays = _arrays(1)
    for seed in range(4):
        vl.manual_seed(seed)
        out, params = _run(ours(), _ours(*arrays, as_pil=as_pil))
        expected = _theirs_applied(theirs(), _theirs(*arrays, as_pil=as_pil), convert(dict(params)))
        # boxes and masks are untouched; images agree with TorchVision's kernels (within the one level
        # its float32 colour arithmetic can differ by, and the blur's rounding order)
        _assert_same(out, expected, image_atol=0 if as_pil else 1)
        np.testing.assert_array_equal(out["boxes"].numpy(), arrays[1])
        np.testing.assert_array_equal(out["masks"].numpy(), arrays[2])


@pytest.mark.parametrize("as_pil", [False, True], ids=["tensor", "pil"])
def test_random_erasing_erases_images_only(as_pil):
    arrays = _arrays()
    for value in (0, "random", (10, 20, 30)):
        vl.manual_seed(1)
        with pytest.warns(UserWarning, match="passing through"):
            out, params = _run(V.RandomErasing(p=1.0, value=value), _ours(*arrays, as_pil=as_pil))
        i, j, h, w, v = params["region"]
        tv_params = dict(i=i, j=j, h=h, w=w, v=torch.from_numpy(v.numpy()))
        theirs = TV2.RandomErasing()
        with pytest.warns(UserWarning, match="passing through"):
            expected = _theirs_applied(theirs, _theirs(*arrays, as_pil=as_pil), tv_params)
        _assert_same(out, expected)
        assert (_np(out["image"]) != arrays[0]).any()


# --------------------------------------------------------------------------------------- geometry
def _tv_boxes_params(p):
    return dict(top=p["top"], left=p["left"], height=p["height"], width=p["width"],
                is_within_crop_area=torch.from_numpy(p["within"])) if "top" in p else {}


GEOMETRY = [
    ("zoom_out", lambda: V.RandomZoomOut(p=1.0), lambda: TV2.RandomZoomOut(), lambda p: p),
    ("zoom_out_fill", lambda: V.RandomZoomOut({tvt.Image: (123, 117, 104), "others": 0}, (1.2, 2.0), p=1.0),
     lambda: TV2.RandomZoomOut({TVT.Image: (123, 117, 104), PILImage.Image: (123, 117, 104), "others": 0}),
     lambda p: p),
    ("iou_crop", lambda: V.RandomIoUCrop(), lambda: TV2.RandomIoUCrop(), _tv_boxes_params),
    ("shortest_size", lambda: V.RandomShortestSize([64, 96, 200], 250, IM.NEAREST),
     lambda: TV2.RandomShortestSize([1], interpolation=IM.NEAREST.value), lambda p: dict(size=p["size"])),
    ("scale_jitter", lambda: V.ScaleJitter((100, 80), interpolation=IM.NEAREST),
     lambda: TV2.ScaleJitter((1, 1), interpolation=IM.NEAREST.value), lambda p: dict(size=p["size"])),
    ("perspective", lambda: V.RandomPerspective(0.4, p=1.0, interpolation=IM.NEAREST),
     lambda: TV2.RandomPerspective(interpolation=IM.NEAREST.value),
     lambda p: dict(coefficients=vl.transforms.functional._get_perspective_coeffs(p["start"], p["end"]))),
]


@pytest.mark.parametrize("ours,theirs,convert", [pytest.param(*c[1:], id=c[0]) for c in GEOMETRY])
def test_detection_transforms_match_torchvision_kernels(ours, theirs, convert):
    arrays = _arrays()
    for seed in range(5):
        vl.manual_seed(seed)
        out, params = _run(ours(), _ours(*arrays))
        params = {k: v for k, v in params.items() if k not in ("pil_image", "out_size", "fill")}
        expected = _theirs_applied(theirs(), _theirs(*arrays), convert(params))
        _assert_same(out, expected)


def _extent(arr):
    ys, xs = np.nonzero(arr)
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None


@pytest.mark.parametrize("make,tol", [
    (lambda: V.RandomZoomOut(p=1.0), 0),
    (lambda: V.RandomIoUCrop(), 0),
    (lambda: V.RandomShortestSize([60, 90, 240], interpolation=IM.NEAREST_EXACT), 1),
    (lambda: V.ScaleJitter((200, 150), interpolation=IM.NEAREST_EXACT), 1),
    (lambda: V.RandomPerspective(0.5, p=1.0, interpolation=IM.NEAREST), 1.5),
], ids=["zoom_out", "iou_crop", "shortest_size", "scale_jitter", "perspective"])
@pytest.mark.parametrize("as_pil", [False, True], ids=["tensor", "pil"])
def test_boxes_still_bound_the_rectangle(make, tol, as_pil):
    img = np.zeros((3, H, W), np.uint8)
    x1, y1, x2, y2 = RECT
    img[:, y1:y2, x1:x2] = 255
    _, xyxy, mask = _arrays()
    for seed in range(6):
        vl.manual_seed(seed)
        out = make()(_ours(img, xyxy, mask, as_pil))
        pixels = _np(out["image"])[0]
        assert tuple(out["boxes"].canvas_size) == pixels.shape == tuple(out["masks"].shape[-2:])
        box, extent = out["boxes"].numpy()[0], _extent(pixels > 127)
        if extent is None or not box.any():  # cropped away (or marked for removal by RandomIoUCrop)
            continue
        np.testing.assert_allclose(box, extent, atol=tol + 1e-4)
        assert ((out["masks"].numpy()[0] > 0) == (pixels > 127)).mean() > 0.995


# ------------------------------------------------------------------------------------------ draws
class _Stream:
    """One list of uniform numbers fed to both libraries' random calls."""

    def __init__(self, seed, first=()):
        self.values = list(first) + list(np.random.default_rng(seed).random(4000).astype(np.float32))

    def next(self):
        return float(self.values.pop(0))

    def randint(self, low, high):
        return low + int(self.next() * (high - low))


@pytest.fixture
def same_draws(monkeypatch):
    """Make visionlite's and torch's random calls read the same stream (reset per call)."""
    from visionlite.transforms import _random as R

    def install(seed, first=()):
        ours, theirs = _Stream(seed, first), _Stream(seed, first)
        monkeypatch.setattr(R, "rand", ours.next)
        monkeypatch.setattr(R, "randint", ours.randint)

        def rand(*size, **kwargs):
            n = int(np.prod(size[0] if size and isinstance(size[0], (tuple, list)) else size or (1,)))
            return torch.tensor([theirs.next() for _ in range(n)], dtype=torch.float32)

        def randint(*args, size=(), low=0, high=None, **kwargs):
            bounds = [a for a in args if not isinstance(a, (tuple, list))]  # a positional size is skipped
            if high is None:
                low, high = (low, bounds[0]) if len(bounds) == 1 else bounds[:2]
            return torch.tensor(theirs.randint(int(low), int(high)))

        monkeypatch.setattr(torch, "rand", rand)
        monkeypatch.setattr(torch, "randint", randint)

    return install


@pytest.mark.parametrize("ours,theirs,key", [
    (lambda: V.RandomZoomOut(side_range=(1.0, 3.7), p=1.0),
     lambda: TV2.RandomZoomOut(side_range=(1.0, 3.7), p=1.0), "padding"),
    (lambda: V.ScaleJitter((333, 250), (0.1, 2.3)), lambda: TV2.ScaleJitter((333, 250), (0.1, 2.3)), "size"),
    (lambda: V.RandomShortestSize([50, 77, 301], 350), lambda: TV2.RandomShortestSize([50, 77, 301], 350),
     "size"),
    (lambda: V.RandomIoUCrop(), lambda: TV2.RandomIoUCrop(), None),
    (lambda: V.RandomPerspective(0.6, p=1.0), lambda: TV2.RandomPerspective(0.6, p=1.0), None),
], ids=["zoom_out", "scale_jitter", "shortest_size", "iou_crop", "perspective"])
def test_draws_match_torchvision_on_the_same_random_numbers(same_draws, ours, theirs, key):
    arrays = _arrays()
    for seed in range(60):
        same_draws(seed)
        t = ours()
        _, params = _run(t, _ours(*arrays), draw_only=True)
        _, expected = _run(theirs(), _theirs(*arrays), draw_only=True)
        if isinstance(t, V.RandomIoUCrop):
            assert ("top" in params) == bool(expected)
            if expected:
                assert [params[k] for k in ("top", "left", "height", "width")] == \
                       [expected[k] for k in ("top", "left", "height", "width")]
                np.testing.assert_array_equal(params["within"], expected["is_within_crop_area"].numpy())
        elif isinstance(t, V.RandomPerspective):
            np.testing.assert_allclose(vl.transforms.functional._get_perspective_coeffs(params["start"],
                                                                                        params["end"]),
                                       expected["coefficients"], rtol=1e-6, atol=1e-9)
        else:
            assert list(params[key]) == list(expected[key])


@pytest.mark.parametrize("ours,theirs,first,key", [
    (lambda: V.RandomZoomOut(side_range=(1.0, 3.7), p=1.0),
     lambda: TV2.RandomZoomOut(side_range=(1.0, 3.7), p=1.0), [0.5, 0.8356481194496155], "padding"),
    (lambda: V.ScaleJitter((333, 250), (0.1, 2.3)), lambda: TV2.ScaleJitter((333, 250), (0.1, 2.3)),
     [0.4841659963130951], "size"),
], ids=["zoom_out", "scale_jitter"])
def test_sizes_come_from_float32_arithmetic(same_draws, ours, theirs, first, key):
    # draws where 160 * r truncates differently in float32 (TorchVision's random tensors) and float64
    same_draws(0, first)
    params = _run(ours(), _ours(*_arrays()), draw_only=True)[1]
    expected = _run(theirs(), _theirs(*_arrays()), draw_only=True)[1]
    assert list(params[key]) == list(expected[key])


# ---------------------------------------------------------------------------------- pipeline, misc
def test_detection_pipeline_runs_as_written_for_torchvision():
    img, xyxy, mask = _arrays()
    pipeline = V.Compose([
        V.ToImage(),
        V.RandomPhotometricDistort(p=1),
        V.RandomZoomOut(fill={tvt.Image: (123, 117, 104), "others": 0}),
        V.RandomIoUCrop(),
        V.RandomHorizontalFlip(p=1),
        V.SanitizeBoundingBoxes(),
        V.ToDtype(vl.float32, scale=True),
    ])
    kept = 0
    for seed in range(12):
        vl.manual_seed(seed)
        target = {"boxes": tvt.BoundingBoxes(xyxy, format="XYXY", canvas_size=(H, W)),
                  "masks": tvt.Mask(vl.tensor(mask)), "labels": vl.tensor([7, 9])}
        image, target = pipeline(vl.tensor(img), target)
        assert isinstance(image, tvt.Image) and image.dtype == vl.float32 and float(image.max()) <= 1.0
        h, w = image.shape[-2:]
        boxes, masks = target["boxes"].numpy(), target["masks"].numpy()
        assert target["boxes"].canvas_size == (h, w) and masks.shape[1:] == (h, w)
        assert len(boxes) == len(masks) == len(target["labels"]) >= 1
        for box, m in zip(boxes, masks):  # each kept box still bounds its (flipped, zoomed, cropped) mask
            np.testing.assert_allclose(box, _extent(m), atol=1e-4)
        kept += len(boxes)
    assert kept > 12


def test_to_dtype_by_type_and_to_pure_tensor():
    img, xyxy, mask = _arrays()
    sample = _ours(img, xyxy, mask)
    out = V.ToDtype({tvt.Image: vl.float32, tvt.Mask: vl.int64, "others": None}, scale=True)(sample)
    assert out["image"].dtype == vl.float32 and out["masks"].dtype == vl.int64
    np.testing.assert_allclose(out["image"].numpy(), img / 255, atol=1e-6)
    assert out["boxes"].dtype == vl.float32 and out["labels"].dtype == vl.int64
    out = V.ToDtype(vl.float64)(sample)  # one dtype: images only
    assert out["image"].dtype == vl.float64 and out["masks"].dtype == vl.uint8
    pil = _ours(img, xyxy, mask, as_pil=True)
    assert V.ToDtype(vl.float32, scale=True)(pil)["image"] is pil["image"]
    with pytest.raises(ValueError, match="no dtype was given"):
        V.ToDtype({tvt.Image: vl.float32})(sample)
    pure = V.ToPureTensor()(sample)
    assert all(type(pure[k]) is vl.Tensor for k in ("image", "boxes", "masks"))


def test_containers_and_lambda():
    img, xyxy, mask = _arrays()
    flip = V.RandomHorizontalFlip(p=1.0)
    applied = 0
    for seed in range(10):
        vl.manual_seed(seed)
        out = V.RandomApply([flip], p=0.5)(_ours(img, xyxy, mask))
        applied += int(out["boxes"].numpy()[0, 0] != RECT[0])
    assert 0 < applied < 10
    vl.manual_seed(0)
    out = V.RandomChoice([V.RandomVerticalFlip(1.0), flip], p=[0, 3])(_ours(img, xyxy, mask))
    np.testing.assert_array_equal(_np(out["image"]), img[..., ::-1])
    out = V.RandomOrder([flip, V.RandomVerticalFlip(1.0)])(_ours(img, xyxy, mask))
    np.testing.assert_array_equal(_np(out["image"]), img[..., ::-1, ::-1])
    np.testing.assert_array_equal(out["masks"].numpy(), mask[..., ::-1, ::-1])
    out = V.Lambda(lambda m: m * 2, tvt.Mask)(_ours(img, xyxy, mask))
    np.testing.assert_array_equal(out["masks"].numpy(), mask * 2)
    np.testing.assert_array_equal(_np(out["image"]), img)
    with pytest.raises(ValueError, match="Pass at least one transform"):
        V.RandomApply([])
    with pytest.raises(ValueError, match="Length of p"):
        V.RandomChoice([flip], p=[0.5, 0.5])


def test_bad_input():
    img, xyxy, mask = _arrays()
    with pytest.raises(TypeError, match="requires input sample to contain tensor or PIL images and bounding"):
        V.RandomIoUCrop()({"image": vl.tensor(img), "masks": tvt.Mask(vl.tensor(mask))})
    with pytest.raises(ValueError, match="Invalid side range"):
        V.RandomZoomOut(side_range=(0.5, 2.0))
    with pytest.raises(ValueError, match="distortion_scale"):
        V.RandomPerspective(1.5)
    with pytest.raises(ValueError, match="interval \\[0.0, 1.0\\]"):
        V.RandomGrayscale(p=2.0)
    with pytest.raises(TypeError, match="inappropriate fill"):
        V.RandomZoomOut(fill="white")
    with pytest.raises(ValueError, match="fill has 2 values but the image has 3 channels"):
        V.RandomZoomOut(fill=(1, 2), p=1.0)(vl.tensor(img))
