"""Few-channel stride-1 convolutions with the batch innermost (core/ops/conv_batch_inner.py): conv2d's
forward, input, weight and bias gradients equal PyTorch's in float64 and float32 for LeNet's layers,
rectangular, dilated, grouped, even and asymmetrically padded kernels, for chunks of unequal image counts
and one or two threads; the path is taken exactly where it applies."""

import numpy as np
import pytest

from tests.helpers.conv_paths import count_calls, helper_test_double_backward
from tests.test_conv_shallow import helper_test_conv, helper_test_one_gradient
from visionlite.core.ops import conv, conv_batch_inner

# (x shape, out channels, kernel, stride, padding, dilation, groups)
CASES = [
    ((8, 1, 28, 28), 6, 5, 1, 2, 1, 1),  # LeNet's first layer
    ((9, 6, 14, 14), 16, 5, 1, 0, 1, 1),  # LeNet's second, an odd batch
    ((6, 3, 12, 10), 8, 3, 1, 1, 1, 1),  # CIFAR-like stem on a rectangular image
    ((5, 4, 9, 11), 6, 3, 1, (2, 1), (2, 1), 1),  # per-axis padding and dilation
    ((7, 8, 8, 8), 8, 3, 1, 1, 1, 2),  # grouped
    ((6, 2, 7, 9), 3, (2, 4), 1, (1, 2), (2, 1), 1),  # even kernel
    ((4, 3, 6, 7), 5, 4, 1, "same", 1, 1),  # asymmetric padding (PyTorch pads the extra row/col below/right)
    ((4, 2, 5, 5), 3, 3, 1, 3, 1, 1),  # padding wider than the kernel reaches: outputs of zeros only
]


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls of the batch-innermost forward and backward."""
    return count_calls(monkeypatch, conv_batch_inner, ("forward", "backward"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv_matches_torch(case, dtype, counted, threads):
    helper_test_conv(*case, dtype)
    assert counted == ["forward", "backward"]


@pytest.mark.parametrize("images", [4, 6])
def test_chunks_of_unequal_image_counts(images, monkeypatch, threads, counted):
    # a buffer for `images` images: 11 images in chunks of 4, 4, 3 or 3, 3, 3, 2 or 6, 5 (chunks a
    # multiple of the threads), each chunk size with its own padded block
    height = 9 + images  # a geometry of its own per case (plans are kept with the geometry)
    per_image = 3 * 3 * 3 * height * 7 * 8
    monkeypatch.setattr(conv_batch_inner, "_CHUNK_BYTES", per_image * images + 8)
    helper_test_conv((11, 3, height, 7), 5, 3, 1, (1, 1), 1, 1, np.float64)
    assert counted == ["forward", "backward"]


def test_weight_gradient_only_and_input_gradient_only(counted):
    helper_test_one_gradient((6, 3, 12, 12), (8, 3, 5, 5))
    assert counted == ["forward", "backward"] * 2


@pytest.mark.parametrize("shape,stride,expected", [
    ((8, 6, 14, 14), 1, True),
    ((4, 3, 32, 32), 1, True),
    ((3, 6, 14, 14), 1, False),  # fewer images than a chunk's minimum: row-columns
    ((8, 6, 14, 14), 2, False),  # strided: a tap's run would be one pixel wide
    ((8, 3, 224, 224), 1, False),  # one image's columns exceed the buffer: bands of rows
])
def test_path_choice(shape, stride, expected):
    x = np.zeros(shape, dtype=np.float32)
    w_shape = (4, shape[1], 3, 3)
    geom = conv.ConvGeometry(shape[0], shape[1], shape[2:], w_shape, 1, (stride,) * 2, (1, 1, 1, 1), (1, 1))
    assert conv_batch_inner.usable(x, geom) is expected


def test_double_backward_through_a_batch_inner_layer(counted):
    helper_test_double_backward((5, 3, 7, 7), (4, 3, 3, 3), padding=1)
    assert "forward" in counted
