"""Key-point and box bookkeeping transforms: ``SanitizeKeyPoints``, ``ClampKeyPoints``,
``SetClampingMode``."""
from visionlite.core.tensor import Tensor

from . import _keypoints as K
from ._transform import Transform, _flatten
from .functional import clamp_keypoints
from .tv_tensors import KeyPoints, wrap

__all__ = ["SanitizeKeyPoints", "ClampKeyPoints", "SetClampingMode"]


class ClampKeyPoints(Transform):
    """Clamp key points to ``[0, width - 1] x [0, height - 1]``."""

    def _one(self, x, kind, params):
        return clamp_keypoints(x) if kind == "keypoints" else x

    def __repr__(self):
        return "ClampKeyPoints()"


class SetClampingMode(Transform):
    """Set ``clamping_mode`` ("soft", "hard" or None) on the sample's ``BoundingBoxes``."""

    def __init__(self, clamping_mode):
        super().__init__()
        if clamping_mode not in (None, "soft", "hard"):
            raise ValueError(f"clamping_mode must be soft, hard or None, got {clamping_mode}")
        self.clamping_mode = clamping_mode

    def _one(self, x, kind, params):
        if kind != "boxes":
            return x
        out = wrap(x._data.copy(), like=x)
        out.clamping_mode = self.clamping_mode
        return out

    def __repr__(self):
        return f"SetClampingMode(clamping_mode={self.clamping_mode})"


class SanitizeKeyPoints(Transform):
    """Drop key points (or whole ``N,K,2`` groups) outside the canvas, with the matching rows of the labels
    that ``labels_getter`` finds (None: no labels; "default": the ``"labels"`` entry of a dict)."""

    def __init__(self, labels_getter=None):
        super().__init__()
        self.labels_getter = labels_getter

    def _labels(self, sample):
        if self.labels_getter is None:
            return None
        if callable(self.labels_getter):
            found = self.labels_getter(sample)
        else:
            from ._transforms import SanitizeBoundingBoxes

            found = SanitizeBoundingBoxes(labels_getter="default")._labels(sample) or None
        if found is None:
            return None
        found = found if isinstance(found, (tuple, list)) else (found,)
        for entry in found:
            if not isinstance(entry, Tensor):
                raise ValueError(f"The labels in the input to forward() must be a tensor or None, got "
                                 f"{type(entry)} instead.")
        return tuple(found)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        labels = self._labels(sample)
        leaves = []
        rebuild = _flatten(sample, leaves)
        points = next((x for x in leaves if isinstance(x, KeyPoints)), None)
        if points is None:
            raise ValueError("No keypoints were found in the sample")
        valid = K.valid_mask(points._data, points.canvas_size)
        for lab in labels or ():
            if lab.shape[0] != len(valid):
                raise ValueError(f"Number of kepyoints (shape={tuple(points.shape)}) must match the "
                                 "number of "
                                 f"labels. Found labels with shape={tuple(lab.shape)}).")
        out = []
        for x in leaves:
            if labels is not None and any(x is lab for lab in labels):
                kept = x._data[valid]
                out.append(Tensor._wrap(kept) if type(x) is Tensor else wrap(kept, like=x))
            elif isinstance(x, KeyPoints):
                out.append(wrap(x._data[valid], like=x))
            else:
                out.append(x)
        return rebuild(iter(out))

    def __repr__(self):
        return f"SanitizeKeyPoints(labels_getter={self.labels_getter})"

