"""Batch-mixing augmentations (``MixUp``, ``CutMix``) and ``JPEG`` compression, as in
``torchvision.transforms.v2``. MixUp and CutMix take a batch of images (``N,C,H,W``, float) and its labels
(``N`` class indices, or ``N,num_classes`` probabilities) and pair each sample with the previous one.
"""
import math

import numpy as np

from visionlite.core import random as _random
from visionlite.core.backend import array_module
from visionlite.core.tensor import Tensor

from .. import _random as R
from .._common import is_pil_image
from ._transform import Transform, _flatten, _kinds
from ._utils import query_size
from .functional import is_pure_tensor, jpeg
from .tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video, wrap

__all__ = ["MixUp", "CutMix", "JPEG"]


def _default_labels(inputs):
    """TorchVision's heuristic: the second item of a tuple, a tensor itself, or a dict's "labels" entry."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if is_pure_tensor(inputs):
        return inputs
    if not isinstance(inputs, dict):
        raise ValueError("When using the default labels_getter, the input passed to forward must be a "
                         "dictionary "
                         "or a two-tuple whose second item is a dictionary or a tensor, but got "
                         f"{inputs} instead.")
    key = next((k for k in inputs if isinstance(k, str) and k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in inputs if isinstance(k, str) and "label" in k.lower()), None)
    if key is None:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a callable as the "
                         "labels_getter parameter? If there are no labels in the sample by design, pass "
                         "labels_getter=None.")
    return inputs[key]


class _MixBase(Transform):
    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        super().__init__()
        self.alpha = float(alpha)
        self.num_classes = num_classes
        if labels_getter == "default":
            labels_getter = _default_labels
        elif not callable(labels_getter):
            raise ValueError(f"labels_getter should either be 'default' or a callable, got {labels_getter!r}")
        self._labels_getter = labels_getter

    def _beta(self):
        return float(_random.default_generator.numpy_generator().beta(self.alpha, self.alpha))

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        if any(is_pil_image(x) or isinstance(x, (BoundingBoxes, Mask, KeyPoints)) for x in leaves):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding boxes, "
                             "keypoints and "
                             "masks.")
        labels = self._labels_getter(sample)
        if not isinstance(labels, Tensor):
            raise ValueError(f"The labels must be a tensor, but got {type(labels)} instead.")
        if labels.ndim not in (1, 2):
            raise ValueError("labels should be index based with shape (batch_size,) or probability "
                             "based with "
                             "shape (batch_size, num_classes), but got a tensor of shape "
                             f"{tuple(labels.shape)} "
                             "instead.")
        if labels.ndim == 2 and self.num_classes is not None and labels.shape[-1] != self.num_classes:
            raise ValueError("When passing 2D labels, the number of elements in last dimension must match "
                             f"num_classes: {labels.shape[-1]} != {self.num_classes}. You can Leave "
                             "num_classes "
                             "to None.")
        if labels.ndim == 1 and self.num_classes is None:
            raise ValueError("num_classes must be passed if the labels are index-based (1D)")
        kinds = _kinds([x for x in leaves if x is not labels])
        pixels = [x for x, k in zip([x for x in leaves if x is not labels], kinds) if k in ("image", "video")]
        params = {"labels": labels, "batch_size": labels.shape[0], **self.draw(pixels)}
        out = []
        for x in leaves:
            if x is labels:
                out.append(self._mix_labels(x, params))
            elif any(x is p for p in pixels):
                self._check_batch(x, params["batch_size"])
                mixed = Tensor._wrap(self.mix(x._data, params))
                out.append(wrap(mixed, like=x) if isinstance(x, (Image, Video)) else mixed)
            else:
                out.append(x)
        return rebuild(iter(out))

    def _check_batch(self, x, batch_size):
        expected = 5 if isinstance(x, Video) else 4
        if x.ndim != expected:
            raise ValueError(f"Expected a batched input with {expected} dims, but got {x.ndim} "
                             "dimensions instead.")
        if x.shape[0] != batch_size:
            raise ValueError("The batch size of the image or video does not match the batch size of the "
                             "labels: "
                             f"{x.shape[0]} != {batch_size}.")

    def _mix_labels(self, labels, params):
        y = labels._data
        xp = array_module(y)
        if y.ndim == 1:
            y = (y[:, None] == xp.arange(self.num_classes)[None, :]).astype(np.int64)
        if y.dtype.kind != "f":
            y = y.astype(np.float32)
        return Tensor._wrap(self._blend(y, params["lam_labels"]))

    @staticmethod
    def _blend(x, lam):
        xp = array_module(x)
        if x.dtype.kind != "f":
            raise RuntimeError(f"MixUp/CutMix blend float tensors; got {x.dtype}: convert the images first "
                               "(ToDtype(float32, scale=True))")
        t = x.dtype.type
        return xp.roll(x, 1, axis=0) * t(1.0 - lam) + x * t(lam)


class MixUp(_MixBase):
    """MixUp (Zhang et al., 2018): ``lam * x + (1 - lam) * x.roll(1, 0)`` for images and one-hot labels,
    ``lam`` drawn from Beta(``alpha``, ``alpha``)."""

    def draw(self, pixels):
        lam = self._beta()
        return {"lam": lam, "lam_labels": lam}

    def mix(self, x, params):
        return self._blend(x, params["lam"])

    def __repr__(self):
        return f"MixUp(alpha={self.alpha}, num_classes={self.num_classes})"


class CutMix(_MixBase):
    """CutMix (Yun et al., 2019): paste a box of the previous sample into each image; labels mix by the
    pasted area."""

    def draw(self, pixels):
        lam = self._beta()
        h, w = query_size(pixels)
        r_x, r_y = R.randint(0, w), R.randint(0, h)
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * w), int(r * h)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, w), min(r_y + r_h_half, h)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (w * h))
        return {"box": (x1, y1, x2, y2), "lam_adjusted": lam_adjusted, "lam_labels": lam_adjusted}

    def mix(self, x, params):
        x1, y1, x2, y2 = params["box"]
        xp = array_module(x)
        out = x.copy()
        out[..., y1:y2, x1:x2] = xp.roll(x, 1, axis=0)[..., y1:y2, x1:x2]
        return out

    def __repr__(self):
        return f"CutMix(alpha={self.alpha}, num_classes={self.num_classes})"


class JPEG(Transform):
    """JPEG-compress and decompress images at a ``quality`` (an int, or a (min, max) range drawn from)."""

    def __init__(self, quality):
        super().__init__()
        if isinstance(quality, bool):
            raise TypeError("quality can't be bool")
        if isinstance(quality, int):
            quality = [quality, quality]
        elif not isinstance(quality, (tuple, list)) or len(quality) != 2:
            raise ValueError("quality should be a sequence of length 2.")
        if not (isinstance(quality[0], int) and isinstance(quality[1], int) and 1 <= quality[0] <= quality[1]
                <= 100):
            raise ValueError(f"quality must be an integer from 1 to 100, got quality ={quality}")
        self.quality = list(quality)

    def make_params(self, leaves, kinds, canvas_size):
        return {"quality": R.randint(self.quality[0], self.quality[1] + 1)}

    def image(self, img, params):
        return jpeg(img, params["quality"])

    def mask(self, mask, params):
        return mask

    def __repr__(self):
        return f"JPEG(quality={self.quality})"
