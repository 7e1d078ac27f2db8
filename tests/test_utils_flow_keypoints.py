"""utils.flow_to_image and draw_keypoints with (N, K, 3) key points, against torchvision.utils."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.utils as U

torch = pytest.importorskip("torch")
TU = pytest.importorskip("torchvision.utils")


@pytest.mark.parametrize("shape", [(2, 30, 41), (3, 2, 17, 23), (1, 2, 1, 1)])
def test_flow_to_image_equals_torchvision(shape):
    rng = np.random.default_rng(sum(shape))
    flow = (rng.standard_normal(shape) * 5).astype(np.float32)
    flow.reshape(-1)[:3] = 0.0  # zero vectors sit at the wheel's start
    got = U.flow_to_image(vl.tensor(flow))
    expected = TU.flow_to_image(torch.from_numpy(flow))
    assert got.dtype == vl.uint8
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_flow_to_image_rejects_bad_input():
    with pytest.raises(ValueError, match="torch.float"):
        U.flow_to_image(vl.zeros(2, 3, 3, dtype=vl.float64))
    with pytest.raises(ValueError, match="shape"):
        U.flow_to_image(vl.zeros(3, 4, 4))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_draw_keypoints_with_visibility_column(dtype):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (3, 40, 50), dtype=np.uint8)
    if dtype == "float32":
        img = img.astype(np.float32) / 255
    kpts = np.array([[[5, 6, 1], [20, 30, 0], [40, 10, 2]],
                     [[10, 35, 2], [45, 5, 1], [25, 20, 0]]], np.float32)
    connectivity = [(0, 1), (1, 2), (0, 2)]
    for visibility in (None, kpts[..., 2] > 0):
        kw = dict(connectivity=connectivity, colors="red", radius=3, width=2)
        t_vis = None if visibility is None else torch.from_numpy(visibility)
        v_vis = None if visibility is None else vl.tensor(visibility)
        got = U.draw_keypoints(vl.tensor(img), vl.tensor(kpts), visibility=v_vis, **kw)
        expected = TU.draw_keypoints(torch.from_numpy(img), torch.from_numpy(kpts), visibility=t_vis, **kw)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    assert U.draw_keypoints(vl.tensor(img), vl.tensor(kpts[..., :2])).shape == (3, 40, 50)
