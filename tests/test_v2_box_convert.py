"""v2 convert_bounding_box_format equals TorchVision's kernels bit for bit, integer dtypes included
(floor-divided centres, float32 detour from CXCYWH with truncation)."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.transforms.v2 import functional as VF

torch = require("torch")
TF = require("torchvision.transforms.v2.functional")

FORMATS = ["XYXY", "XYWH", "CXCYWH"]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("old", FORMATS)
@pytest.mark.parametrize("new", FORMATS)
def test_convert_bounding_box_format_matches_torchvision(dtype, old, new):
    rng = np.random.default_rng(0)
    boxes = rng.integers(0, 61, (40, 4)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        boxes += rng.random((40, 4)).astype(dtype)
    ref = TF.convert_bounding_box_format(torch.from_numpy(boxes.copy()), old_format=old, new_format=new)
    ref = ref.numpy()
    ours = VF.convert_bounding_box_format(vl.tensor(boxes), old_format=old, new_format=new).numpy()
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


def test_convert_transform_on_integer_boxes_odd_sizes():
    boxes = np.array([[1, 2, 4, 7], [0, 0, 3, 3], [5, 5, 6, 10]], dtype=np.int64)
    tv = require("torchvision")
    ref = tv.transforms.v2.ConvertBoundingBoxFormat("CXCYWH")(
        tv.tv_tensors.BoundingBoxes(torch.from_numpy(boxes), format="XYXY", canvas_size=(12, 12)))
    ours = vl.transforms.v2.ConvertBoundingBoxFormat("CXCYWH")(
        vl.tv_tensors.BoundingBoxes(vl.tensor(boxes), format="XYXY", canvas_size=(12, 12)))
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    assert str(ours.format).split(".")[-1] == str(ref.format).split(".")[-1]
