"""ConvGeometry.split (the zero-padded input as phase planes) against a reference built with numpy.pad
and strided slices: batch 1 and several images, big images (per-image copies, borders zeroed) and
small ones (one zeroed array), strides 1-3, uneven padding; merge takes the planes back."""

import numpy as np
import pytest

from visionlite.core.ops import conv


def reference_planes(x, geom):
    top, bottom, left, right = geom.pad
    padded = np.pad(x, ((0, 0), (0, 0), (top, max(bottom, 0) + 8), (left, max(right, 0) + 8)))
    sh, sw = geom.stride
    out = np.zeros((sh * sw, geom.c, geom.n, geom.hq, geom.wq), x.dtype)
    for a in range(sh):
        for b in range(sw):
            phase = padded[:, :, a::sh, b::sw][:, :, :geom.hq, :geom.wq]
            out[a * sw + b, :, :, :phase.shape[2], :phase.shape[3]] = phase.transpose(1, 0, 2, 3)
    return out.reshape(sh * sw, geom.c, -1)


@pytest.mark.parametrize("shape,stride,pad", [
    ((1, 96, 30, 30), (2, 2), (1, 1, 1, 1)),  # batch 1
    ((1, 3, 160, 170), (2, 2), (3, 3, 3, 3)),  # an RGB stem
    ((1, 70, 31, 33), (1, 1), (0, 2, 1, 0)),  # uneven padding, stride 1
    ((3, 80, 29, 29), (3, 2), (1, 2, 2, 1)),  # several big images: one at a time
    ((2, 4, 9, 8), (2, 2), (1, 1, 1, 1)),  # small images: one zeroed array
])
def test_split_matches_padded_slices(shape, stride, pad, threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    geom = conv.ConvGeometry(shape[0], shape[1], shape[2:], (4, shape[1], 3, 3), 1, stride, pad, (1, 1))
    planes = geom.split(x)
    np.testing.assert_array_equal(planes, reference_planes(x, geom))
    np.testing.assert_array_equal(geom.merge(planes, x.dtype), x)
