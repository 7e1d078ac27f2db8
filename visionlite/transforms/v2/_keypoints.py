"""Key-point geometry on raw ``N,2`` float64 (x, y) arrays, as TorchVision's v2 kernels move them: points
are pixel indices (a flip maps x to ``width - 1 - x``), they are not clamped by the geometric ops (use
``clamp`` or ``SanitizeKeyPoints``), and the functions return the new canvas size where it changes.
"""
import numpy as np

from .. import functional as F
from .._functional_tensor import affine_output_size


def hflip(points, canvas_size):
    return np.stack([canvas_size[1] - 1 - points[:, 0], points[:, 1]], axis=1)


def vflip(points, canvas_size):
    return np.stack([points[:, 0], canvas_size[0] - 1 - points[:, 1]], axis=1)


def resize(points, canvas_size, new_size):
    (h, w), (nh, nw) = canvas_size, new_size
    return points * np.array([nw / w, nh / h]), (int(nh), int(nw))


def crop(points, top, left, height, width):
    return points - np.array([left, top], dtype=np.float64), (int(height), int(width))


def pad(points, canvas_size, left, top, right, bottom):
    size = (canvas_size[0] + top + bottom, canvas_size[1] + left + right)
    return points + np.array([left, top], dtype=np.float64), size


def affine(points, canvas_size, angle, translate, scale, shear, center=None, expand=False):
    """Map by the forward affine of ``functional.affine``'s arguments (about ``center``, default the
    canvas centre); with ``expand`` (rotations) shift into the grown canvas, as TorchVision does."""
    h, w = canvas_size
    center = [w * 0.5, h * 0.5] if center is None else list(center)
    m = np.asarray(F._get_inverse_affine_matrix(center, angle, translate, scale, shear, inverted=False),
                   dtype=np.float64).reshape(2, 3)
    out = points @ m[:, :2].T + m[:, 2]
    if not expand:
        return out, canvas_size
    corners = np.array([[0.0, 0.0], [0.0, h], [w, h], [w, 0.0]])
    out = out - (corners @ m[:, :2].T + m[:, 2]).min(axis=0)
    inverse = F._get_inverse_affine_matrix(center, angle, translate, scale, shear)
    new_w, new_h = affine_output_size(inverse, w, h)
    return out, (new_h, new_w)


def perspective(points, coeffs):
    """Map by the inverse of the 8 ``coeffs`` (output -> input pixels) of ``functional.perspective``."""
    inverse = np.linalg.inv(np.array(list(coeffs) + [1.0], dtype=np.float64).reshape(3, 3))
    homog = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ inverse.T
    return homog[:, :2] / homog[:, 2:]


def elastic(points, canvas_size, displacement):
    """Move each point against the displacement at its (truncated, clamped) pixel, as TorchVision's
    ``elastic_keypoints``: a ``1,H,W,2`` displacement in [-1, 1] grid units."""
    h, w = canvas_size
    disp = np.asarray(displacement, dtype=np.float64).reshape(h, w, 2)
    ix = np.clip(points[:, 0].astype(np.int64), 0, w - 1)
    iy = np.clip(points[:, 1].astype(np.int64), 0, h - 1)
    # the identity grid at pixel centres, in [-1, 1] units, minus the displacement, back to pixels
    gx = (2 * ix + 1) / w - 1 - disp[iy, ix, 0]
    gy = (2 * iy + 1) / h - 1 - disp[iy, ix, 1]
    return np.stack([(gx + 1) * 0.5 * w - 0.5, (gy + 1) * 0.5 * h - 0.5], axis=1)


def clamp(points, canvas_size):
    h, w = canvas_size
    return np.stack([points[:, 0].clip(0, w - 1), points[:, 1].clip(0, h - 1)], axis=1)


def valid_mask(points, canvas_size):
    """Per point, or per group when ``points`` is ``N,K,2``: inside ``[0, w) x [0, h)``."""
    h, w = canvas_size
    x, y = points[..., 0], points[..., 1]
    valid = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return valid.reshape(valid.shape[0], -1).all(axis=1) if valid.ndim > 1 else valid
