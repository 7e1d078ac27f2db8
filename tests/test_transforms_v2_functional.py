"""transforms.v2.functional against torchvision.transforms.v2.functional: each dispatcher on each kind
(plain tensor, Image, PIL, Video, Mask, BoundingBoxes, KeyPoints) and the per-kind kernels, on the same
inputs, plus the uint8 antialiased resize bit for bit on real photos."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import visionlite as vl
from tests.helpers.refs import require
from visionlite.transforms.v2 import functional as F
from visionlite.transforms.v2 import tv_tensors as tvt

torch = require("torch")
TF = require("torchvision.transforms.v2.functional")
from torchvision import tv_tensors as TVT  # noqa: E402

ASSETS = Path(__file__).parent / "assets"
H, W = 48, 64


def _photo(name="astronaut.png", size=None):
    img = PILImage.open(ASSETS / name).convert("RGB")
    if size is not None:
        img = img.resize(size[::-1], PILImage.BILINEAR)
    return np.asarray(img).transpose(2, 0, 1).copy()


IMG = _photo("chelsea.png", (H, W))
BOXES = np.array([[5, 6, 30, 40], [20, 10, 60, 45], [0, 0, 8, 8]], np.float32)
MASK = np.zeros((H, W), np.uint8)
MASK[10:30, 12:40] = 1
MASK[35:45, 50:60] = 2
POINTS = np.array(
    [[[3.0, 4.0], [10.5, 20.25], [63.0, 47.0]], [[30.0, 30.0], [0.0, 0.0], [40.0, 5.0]]], np.float32
)


def ours(kind):
    return {
        "tensor": lambda: vl.tensor(IMG),
        "image": lambda: tvt.Image(vl.tensor(IMG)),
        "pil": lambda: PILImage.fromarray(IMG.transpose(1, 2, 0)),
        "video": lambda: tvt.Video(vl.tensor(np.stack([IMG, IMG[:, ::-1].copy()]))),
        "mask": lambda: tvt.Mask(vl.tensor(MASK)),
        "boxes": lambda: tvt.BoundingBoxes(vl.tensor(BOXES), format="XYXY", canvas_size=(H, W)),
        "keypoints": lambda: tvt.KeyPoints(vl.tensor(POINTS), canvas_size=(H, W)),
    }[kind]()


def theirs(kind):
    return {
        "tensor": lambda: torch.from_numpy(IMG.copy()),
        "image": lambda: TVT.Image(torch.from_numpy(IMG)),
        "pil": lambda: PILImage.fromarray(IMG.transpose(1, 2, 0)),
        "video": lambda: TVT.Video(torch.from_numpy(np.stack([IMG, IMG[:, ::-1].copy()]))),
        "mask": lambda: TVT.Mask(torch.from_numpy(MASK)),
        "boxes": lambda: TVT.BoundingBoxes(torch.from_numpy(BOXES), format="XYXY", canvas_size=(H, W)),
        "keypoints": lambda: TVT.KeyPoints(torch.from_numpy(POINTS), canvas_size=(H, W)),
    }[kind]()


def _np(x):
    if isinstance(x, PILImage.Image):
        return np.asarray(x)
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def check_same(a, b, atol=0.0):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            check_same(x, y, atol)
        return
    assert isinstance(a, PILImage.Image) == isinstance(b, PILImage.Image)
    for ours_cls, their_cls in (
        (tvt.Image, TVT.Image),
        (tvt.Video, TVT.Video),
        (tvt.Mask, TVT.Mask),
        (tvt.BoundingBoxes, TVT.BoundingBoxes),
        (tvt.KeyPoints, TVT.KeyPoints),
    ):
        assert isinstance(a, ours_cls) == isinstance(b, their_cls), (type(a), type(b))
    if isinstance(b, (TVT.BoundingBoxes, TVT.KeyPoints)):
        assert tuple(a.canvas_size) == tuple(b.canvas_size)
    x, y = _np(a), _np(b)
    assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
    np.testing.assert_allclose(x.astype(np.float64), y.astype(np.float64), atol=atol, rtol=0)


ALL = ["tensor", "image", "pil", "video", "mask", "boxes", "keypoints"]
PIXELS = ["tensor", "image", "pil", "video"]
# (name, args, kwargs, kinds, atol for uint8 pixels of tensor warps/colour maths)
CASES = [
    ("horizontal_flip", (), {}, ALL, 0),
    ("vertical_flip", (), {}, ALL, 0),
    ("hflip", (), {}, ALL, 0),
    ("resize", ([30, 41],), {}, ALL, 0),
    ("resize", (27,), {"antialias": True}, ALL, 0),
    ("resize", ([70, 50],), {"interpolation": "bicubic"}, ALL, 0),
    ("resize", ([20, 33],), {"interpolation": "nearest"}, ALL, 0),
    ("resize", (None,), {"max_size": 40}, ALL, 0),
    ("crop", (4, 6, 30, 40), {}, ALL, 0),
    ("crop", (-3, -2, 30, 70), {}, ALL, 0),
    ("center_crop", ([30, 40],), {}, ALL, 0),
    ("resized_crop", (4, 6, 30, 40, [20, 25]), {}, ALL, 0),
    ("pad", ([2, 3, 4, 5],), {}, ALL, 0),
    ("pad", ([3],), {"fill": 7}, PIXELS, 0),
    ("pad", ([2, 4],), {"padding_mode": "reflect"}, PIXELS + ["mask"], 0),
    ("affine", (), {"angle": 15.0, "translate": [3, -2], "scale": 1.1, "shear": [5.0, 2.0]}, ALL, 1e-3),
    ("rotate", (30.0,), {}, ALL, 1e-3),
    ("rotate", (-45.0,), {"expand": True}, ALL, 1e-3),
    (
        "rotate",
        (20.0,),
        {"interpolation": "bilinear", "center": [10, 12]},
        PIXELS + ["boxes", "keypoints"],
        1,
    ),
    (
        "perspective",
        ([[0, 0], [63, 0], [63, 47], [0, 47]], [[3, 2], [60, 5], [58, 44], [1, 40]]),
        {},
        ALL,
        1e-3,
    ),
    ("five_crop", ([20, 30],), {}, PIXELS, 0),
    ("ten_crop", ([20, 30],), {"vertical_flip": True}, PIXELS, 0),
    ("adjust_brightness", (1.3,), {}, PIXELS, 1),
    ("adjust_contrast", (0.6,), {}, PIXELS, 1),
    ("adjust_saturation", (1.7,), {}, PIXELS, 1),
    ("adjust_hue", (0.1,), {}, PIXELS, 1),
    ("adjust_gamma", (0.8, 1.1), {}, PIXELS, 1),
    ("adjust_sharpness", (2.0,), {}, PIXELS, 1),
    ("autocontrast", (), {}, PIXELS, 1),
    ("equalize", (), {}, PIXELS, 0),
    ("invert", (), {}, PIXELS, 0),
    ("posterize", (3,), {}, PIXELS, 0),
    ("solarize", (128,), {}, PIXELS, 0),
    ("rgb_to_grayscale", (), {"num_output_channels": 3}, ["tensor", "image", "pil"], 1),
    ("permute_channels", ([2, 0, 1],), {}, PIXELS, 0),
    ("gaussian_blur", ([5, 3], [1.2, 0.7]), {}, PIXELS, 1),
    ("erase", (3, 4, 10, 12, vl.tensor(7)), {}, ["tensor", "image", "video"], 0),
    ("jpeg", (60,), {}, ["tensor", "image", "pil", "video"], 0),
]


def _convert_args(args, kwargs):
    conv = [torch.from_numpy(a.numpy()) if isinstance(a, vl.Tensor) else a for a in args]
    return conv, dict(kwargs)


@pytest.mark.parametrize(
    "name,args,kwargs,kinds,atol", [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(CASES)]
)
def test_dispatcher_matches_torchvision(name, args, kwargs, kinds, atol):
    for kind in kinds:
        t_args, t_kwargs = _convert_args(args, kwargs)
        expected = getattr(TF, name)(theirs(kind), *t_args, **t_kwargs)
        got = getattr(F, name)(ours(kind), *args, **kwargs)
        tol = atol if kind in ("tensor", "image", "video") else 0
        if kind in ("boxes", "keypoints"):
            tol = 1e-3
        check_same(got, expected, tol)


def test_kinds_without_a_kernel_are_refused_as_torchvision_does():
    for kind in ("mask", "boxes", "keypoints"):
        with pytest.raises(TypeError):
            TF.adjust_brightness(theirs(kind), 2.0)
        with pytest.raises(TypeError, match="adjust_brightness"):
            F.adjust_brightness(ours(kind), 2.0)


def test_unknown_inputs_are_refused_with_the_function_name():
    with pytest.raises(TypeError, match="resize"):
        F.resize([1, 2, 3], [4, 4])


def test_per_kind_kernels_match_torchvision():
    t_boxes, t_pts = torch.from_numpy(BOXES), torch.from_numpy(POINTS)
    b, p = vl.tensor(BOXES), vl.tensor(POINTS)
    pairs = [
        (F.resize_bounding_boxes(b, (H, W), [24, 40]), TF.resize_bounding_boxes(t_boxes, (H, W), [24, 40])),
        (F.resize_keypoints(p, [24, 40], (H, W)), TF.resize_keypoints(t_pts, [24, 40], (H, W))),
        (
            F.crop_bounding_boxes(b, "XYXY", 3, 4, 20, 30),
            TF.crop_bounding_boxes(t_boxes, TVT.BoundingBoxFormat.XYXY, 3, 4, 20, 30),
        ),
        (F.crop_keypoints(p, 3, 4, 20, 30), TF.crop_keypoints(t_pts, 3, 4, 20, 30)),
        (F.pad_keypoints(p, (H, W), [1, 2, 3, 4]), TF.pad_keypoints(t_pts, (H, W), [1, 2, 3, 4])),
        (F.horizontal_flip_keypoints(p, (H, W)), TF.horizontal_flip_keypoints(t_pts, (H, W))),
        (
            F.vertical_flip_bounding_boxes(b, "XYXY", (H, W)),
            TF.vertical_flip_bounding_boxes(t_boxes, TVT.BoundingBoxFormat.XYXY, (H, W)),
        ),
        (
            F.rotate_keypoints(p, (H, W), 33.0, expand=True),
            TF.rotate_keypoints(t_pts, (H, W), 33.0, expand=True),
        ),
        (F.resize_image(vl.tensor(IMG), [20, 30]), TF.resize_image(torch.from_numpy(IMG), [20, 30])),
        (
            F.resize_mask(vl.tensor(MASK[None]), [20, 30]),
            TF.resize_mask(torch.from_numpy(MASK[None]), [20, 30]),
        ),
        (F.get_size_image(vl.tensor(IMG)), TF.get_size_image(torch.from_numpy(IMG))),
    ]
    for got, expected in pairs:
        if isinstance(expected, tuple) and len(expected) == 2 and isinstance(expected[1], tuple):
            check_same(got[0], expected[0], 1e-4)
            assert tuple(got[1]) == tuple(expected[1])
        elif isinstance(expected, list):
            assert list(got) == expected
        else:
            check_same(got, expected, 1e-4)


def test_meta_and_bookkeeping():
    video = ours("video")
    assert F.get_num_frames(video) == 2 and F.get_dimensions(video) == [3, H, W]
    assert F.get_size(ours("boxes")) == [H, W] and F.get_size(ours("keypoints")) == [H, W]
    assert F.get_size(ours("pil")) == TF.get_size(theirs("pil"))
    boxes = np.array([[-5, 3, 20, 80], [10, 10, 10.5, 30], [1, 1, 9, 9]], np.float32)
    got, keep = F.sanitize_bounding_boxes(vl.tensor(boxes), format="XYXY", canvas_size=(H, W))
    exp, exp_keep = TF.sanitize_bounding_boxes(
        torch.from_numpy(boxes), format=TVT.BoundingBoxFormat.XYXY, canvas_size=(H, W)
    )
    np.testing.assert_array_equal(got.numpy(), exp.numpy())
    np.testing.assert_array_equal(keep.numpy(), exp_keep.numpy())
    check_same(
        F.clamp_bounding_boxes(tvt.BoundingBoxes(boxes, format="XYXY", canvas_size=(H, W))),
        TF.clamp_bounding_boxes(TVT.BoundingBoxes(boxes, format="XYXY", canvas_size=(H, W))),
    )
    pts = np.array(
        [[[-1.0, 3.0], [5.0, 5.0]], [[3.0, 3.0], [4.0, 4.0]], [[70.0, 2.0], [1.0, 1.0]]], np.float32
    )
    got, keep = F.sanitize_keypoints(tvt.KeyPoints(pts, canvas_size=(H, W)))
    exp, exp_keep = TF.sanitize_keypoints(TVT.KeyPoints(torch.from_numpy(pts), canvas_size=(H, W)))
    check_same(got, exp)
    np.testing.assert_array_equal(keep.numpy(), exp_keep.numpy())
    check_same(
        F.clamp_keypoints(tvt.KeyPoints(pts, canvas_size=(H, W))),
        TF.clamp_keypoints(TVT.KeyPoints(torch.from_numpy(pts), canvas_size=(H, W))),
    )
    for new in ("XYWH", "CXCYWH"):
        check_same(
            F.convert_bounding_box_format(ours("boxes"), new_format=new),
            TF.convert_bounding_box_format(theirs("boxes"), new_format=TVT.BoundingBoxFormat[new]),
            1e-5,
        )


def test_dtype_and_conversions():
    check_same(
        F.to_dtype(ours("image"), vl.float32, scale=True),
        TF.to_dtype(theirs("image"), torch.float32, scale=True),
        1e-7,
    )
    check_same(F.to_dtype(ours("mask"), vl.int64), TF.to_dtype(theirs("mask"), torch.int64))
    check_same(
        F.convert_image_dtype(vl.tensor(IMG), vl.float64),
        TF.convert_image_dtype(torch.from_numpy(IMG), torch.float64),
        1e-12,
    )
    check_same(F.to_image(IMG.transpose(1, 2, 0).copy()), TF.to_image(IMG.transpose(1, 2, 0).copy()))
    check_same(F.to_image(ours("pil")), TF.to_image(theirs("pil")))
    x = F.to_dtype(ours("image"), vl.float32, scale=True)
    check_same(
        F.normalize(x, [0.4, 0.5, 0.6], [0.2, 0.3, 0.25]),
        TF.normalize(
            TF.to_dtype(theirs("image"), torch.float32, scale=True), [0.4, 0.5, 0.6], [0.2, 0.3, 0.25]
        ),
        1e-6,
    )
    video = vl.tensor(np.arange(7 * 1 * 2 * 2, dtype=np.uint8).reshape(7, 1, 2, 2))
    check_same(
        F.uniform_temporal_subsample(tvt.Video(video), 3),
        TF.uniform_temporal_subsample(TVT.Video(torch.from_numpy(video.numpy())), 3),
    )


def test_gaussian_noise_is_image_plus_scaled_normal_draws():
    x = F.to_dtype(ours("image"), vl.float32, scale=True)
    vl.manual_seed(5)
    out = F.gaussian_noise(x, mean=0.1, sigma=0.2, clip=False)
    vl.manual_seed(5)
    noise = vl.randn(*x.shape).numpy()
    expected = TF.gaussian_noise(torch.from_numpy(x.numpy()), mean=0.1, sigma=0.0, clip=False).numpy() + (
        noise * np.float32(0.2) + np.float32(0.1) - np.float32(0.1)
    )
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="float"):
        F.gaussian_noise(ours("image"))


def test_elastic_moves_pixels_boxes_and_points_as_torchvision():
    rng = np.random.default_rng(0)
    disp = (rng.standard_normal((1, H, W, 2)) * 0.02).astype(np.float32)
    for kind in ALL:
        got = F.elastic(ours(kind), vl.tensor(disp))
        exp = TF.elastic(theirs(kind), torch.from_numpy(disp))
        check_same(got, exp, 1 if kind in ("tensor", "image", "video") else 1e-3)


def test_register_kernel_for_a_custom_kind():
    class Heatmap(tvt.TVTensor):
        pass

    @F.register_kernel(F.horizontal_flip, Heatmap)
    def _flip(x):
        return "flipped"

    assert F.horizontal_flip(Heatmap(np.zeros((2, 2)))) == "flipped"


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png"])
def test_uint8_plain_resize_is_bit_exact_on_photos(name):
    img = _photo(name)
    for size in ([224, 224], [97, 150], [600, 700], [7, 900]):
        for mode in ("bilinear", "bicubic"):
            expected = TF.resize(
                torch.from_numpy(img), size, interpolation=TF.InterpolationMode(mode), antialias=False
            ).numpy()
            got = F.resize(vl.tensor(img), size, interpolation=mode, antialias=False).numpy()
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} {size} {mode}")


@pytest.mark.parametrize("name", ["astronaut.png", "chelsea.png", "coffee.png"])
def test_uint8_antialiased_resize_is_bit_exact_on_photos(name):
    img = _photo(name)
    t = torch.from_numpy(img)
    for size in ([224, 224], [97, 150], [300, 411], [700, 333], [41, 1000]):
        for mode in ("bilinear", "bicubic"):
            expected = TF.resize(t, size, interpolation=TF.InterpolationMode(mode), antialias=True).numpy()
            got = F.resize(vl.tensor(img), size, interpolation=mode, antialias=True).numpy()
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} {size} {mode}")


def test_uint8_resize_of_a_batch_and_of_one_channel():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 5, 37, 53), dtype=np.uint8)  # 5 channels: PyTorch's non-AVX layout
    for mode in ("bilinear", "bicubic"):
        expected = TF.resize(torch.from_numpy(x), [20, 90], interpolation=TF.InterpolationMode(mode)).numpy()
        np.testing.assert_array_equal(F.resize(vl.tensor(x), [20, 90], interpolation=mode).numpy(), expected)
        one = x[0, :1]
        expected = TF.resize(
            torch.from_numpy(one), [61, 17], interpolation=TF.InterpolationMode(mode)
        ).numpy()
        np.testing.assert_array_equal(
            F.resize(vl.tensor(one), [61, 17], interpolation=mode).numpy(), expected
        )
