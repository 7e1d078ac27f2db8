"""visionlite.utils against torchvision.utils: grids, saved files and drawings must have equal pixels."""
import pathlib

import numpy as np
import pytest
from PIL import Image

import visionlite as vl
from tests.helpers.refs import require
from visionlite.utils import (
    draw_bounding_boxes,
    draw_keypoints,
    draw_segmentation_masks,
    make_grid,
    save_image,
)

torch = require("torch")
tvu = require("torchvision.utils")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ASSETS = pathlib.Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def img():
    pil = Image.open(ASSETS / "chelsea.png").convert("RGB").resize((120, 80))
    return np.asarray(pil).transpose(2, 0, 1).copy()


def _both(arr):
    return vl.tensor(arr), torch.from_numpy(arr.copy())


@pytest.mark.parametrize("kwargs", [dict(), dict(nrow=3, padding=4, pad_value=0.5),
                                    dict(normalize=True), dict(normalize=True, scale_each=True),
                                    dict(normalize=True, value_range=(0.2, 0.8), nrow=2)])
def test_make_grid(kwargs):
    batch = np.random.default_rng(0).uniform(-1, 2, (7, 3, 10, 12)).astype(np.float32)
    ours, theirs = _both(batch)
    np.testing.assert_allclose(make_grid(ours, **kwargs).numpy(), tvu.make_grid(theirs, **kwargs).numpy(),
                               rtol=1e-6, atol=1e-6)
    single = batch[:1, :1]
    np.testing.assert_array_equal(make_grid(vl.tensor(single)).numpy(),
                                  tvu.make_grid(torch.from_numpy(single)).numpy())
    lst = [vl.tensor(b) for b in batch[:3]]
    np.testing.assert_allclose(make_grid(lst, **kwargs).numpy(),
                               tvu.make_grid([torch.from_numpy(b) for b in batch[:3]], **kwargs).numpy(),
                               atol=1e-6)


def test_save_image(tmp_path):
    batch = np.random.default_rng(1).uniform(0, 1, (5, 3, 9, 11)).astype(np.float32)
    ours, theirs = _both(batch)
    save_image(ours, tmp_path / "a.png", nrow=2)
    tvu.save_image(theirs, tmp_path / "b.png", nrow=2)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")),
                                  np.asarray(Image.open(tmp_path / "b.png")))


BOXES = np.array([[5, 6, 60, 50], [30, 20, 110, 75.7], [0, 0, 10, 10]], dtype=np.float32)


@pytest.mark.parametrize("kwargs", [dict(), dict(labels=["cat", "ear", "x"], width=3, colors="red"),
                                    dict(fill=True, colors=[(255, 0, 0), "blue", "#00ff00"]),
                                    dict(labels=["a", "b", "c"], fill_labels=True, label_colors="white")])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_draw_bounding_boxes(kwargs, dtype, img):
    x = img if dtype == "uint8" else (img / 255).astype(np.float32)
    ours, theirs = _both(x)
    out = draw_bounding_boxes(ours, vl.tensor(BOXES), **kwargs)
    ref = tvu.draw_bounding_boxes(theirs, torch.from_numpy(BOXES), **kwargs)
    assert out.dtype == ours.dtype
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-7)


def test_draw_rotated_boxes_and_grayscale(img):
    corners = np.array([[10, 10, 50, 20, 40, 60, 5, 50]], dtype=np.float32)
    ours, theirs = _both(img)
    np.testing.assert_array_equal(draw_bounding_boxes(ours, vl.tensor(corners), width=2).numpy(),
                                  tvu.draw_bounding_boxes(theirs, torch.from_numpy(corners), width=2).numpy())
    gray_ours, gray_theirs = _both(img[:1])
    np.testing.assert_array_equal(draw_bounding_boxes(gray_ours, vl.tensor(BOXES)).numpy(),
                                  tvu.draw_bounding_boxes(gray_theirs, torch.from_numpy(BOXES)).numpy())


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("colors", [None, ["red", (0, 255, 255)], "yellow"])
def test_draw_segmentation_masks(dtype, colors, img):
    x = img if dtype == "uint8" else (img / 255).astype(np.float32)
    masks = np.zeros((2, 80, 120), dtype=bool)
    masks[0, 10:50, 20:70] = True
    masks[1, 30:70, 60:110] = True
    ours, theirs = _both(x)
    out = draw_segmentation_masks(ours, vl.tensor(masks), alpha=0.6, colors=colors)
    ref = tvu.draw_segmentation_masks(theirs, torch.from_numpy(masks), alpha=0.6, colors=colors)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-6)
    single = draw_segmentation_masks(ours, vl.tensor(masks[0]))
    ref = tvu.draw_segmentation_masks(theirs, torch.from_numpy(masks[0]))
    np.testing.assert_allclose(single.numpy(), ref.numpy(), atol=1e-6)


def test_draw_keypoints(img):
    kp = np.array([[[10, 12], [50, 40], [100, 70]], [[20, 60], [70, 10], [5, 5]]], dtype=np.float32)
    vis = np.array([[True, True, False], [True, True, True]])
    ours, theirs = _both(img)
    kwargs = dict(connectivity=[(0, 1), (1, 2)], colors="blue", radius=3, width=2)
    out = draw_keypoints(ours, vl.tensor(kp), visibility=vl.tensor(vis), **kwargs)
    ref = tvu.draw_keypoints(theirs, torch.from_numpy(kp), visibility=torch.from_numpy(vis), **kwargs)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    f_ours, f_theirs = _both((img / 255).astype(np.float32))
    np.testing.assert_allclose(draw_keypoints(f_ours, vl.tensor(kp)).numpy(),
                               tvu.draw_keypoints(f_theirs, torch.from_numpy(kp)).numpy(), atol=1e-7)


def test_bad_input(img):
    with pytest.raises(ValueError, match="batches"):
        draw_bounding_boxes(vl.tensor(img[None]), vl.tensor(BOXES))
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        draw_bounding_boxes(vl.tensor(img), vl.tensor(BOXES[:, [2, 3, 0, 1]]))
    with pytest.raises(ValueError, match="labels"):
        draw_bounding_boxes(vl.tensor(img), vl.tensor(BOXES), labels=["a"])
    with pytest.raises(ValueError, match="dtype bool"):
        draw_segmentation_masks(vl.tensor(img), vl.zeros(80, 120))
    with pytest.raises(ValueError, match="same height and width"):
        draw_segmentation_masks(vl.tensor(img), vl.zeros(5, 5, dtype=vl.bool))
    with pytest.raises(ValueError, match="RGB triplet"):
        draw_bounding_boxes(vl.tensor(img), vl.tensor(BOXES), colors=(1, 2))
    with pytest.raises(TypeError, match="list of tensors"):
        make_grid([np.zeros((3, 4, 4))])


def test_box_format_error_names_a_real_converter(img):
    import importlib
    import re

    with pytest.raises(ValueError) as info:
        draw_bounding_boxes(vl.tensor(img), vl.tensor(BOXES[:, [2, 3, 0, 1]]))
    names = re.findall(r"visionlite(?:\.\w+)+", str(info.value))
    assert names, str(info.value)
    for name in names:  # every dotted name the message suggests must exist
        module, attr = name.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), attr), name

