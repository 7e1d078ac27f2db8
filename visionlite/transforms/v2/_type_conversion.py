"""v2 type conversions kept for v1 pipelines: ``PILToTensor``, ``ToPILImage``, ``ToTensor`` and
``ConvertImageDtype``; boxes, masks, labels and other leaves pass through."""
import warnings

import numpy as np

from visionlite.core import dtypes as _dt

from .. import functional as F
from .._common import is_pil_image
from ._transform import Transform, _flatten, _kinds
from .tv_tensors import Image, Video, wrap

__all__ = ["PILToTensor", "ToPILImage", "ToTensor", "ConvertImageDtype"]


class _PerLeaf(Transform):
    """Apply ``convert`` to the leaves ``wanted`` accepts (given the leaf and its kind)."""

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        kinds = _kinds(leaves)
        return rebuild(self.convert(x) if self.wanted(x, k) else x for x, k in zip(leaves, kinds))

    def __repr__(self):
        return f"{type(self).__name__}()"


class PILToTensor(_PerLeaf):
    """PIL images -> ``C,H,W`` Tensors of their own dtype (no scaling)."""

    def wanted(self, x, kind):
        return is_pil_image(x)

    def convert(self, x):
        return F.pil_to_tensor(x)


class ToTensor(_PerLeaf):
    """PIL images and ``H,W,C`` numpy arrays -> float ``C,H,W`` Tensors in [0, 1] (uint8 scaled);
    deprecated in TorchVision v2, with the same warning here."""

    def __init__(self):
        warnings.warn("The transform `ToTensor()` is deprecated and will be removed in a future release. "
                      "Instead, please use `v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, "
                      "scale=True)])`.Output is equivalent up to float precision.", stacklevel=2)
        super().__init__()

    def wanted(self, x, kind):
        return is_pil_image(x) or isinstance(x, np.ndarray)

    def convert(self, x):
        return F.to_tensor(x)


class ToPILImage(_PerLeaf):
    """Tensor images and numpy arrays -> PIL images (``mode`` as ``functional.to_pil_image``)."""

    def __init__(self, mode=None):
        super().__init__()
        self.mode = mode

    def wanted(self, x, kind):
        return (kind == "image" and not is_pil_image(x)) or isinstance(x, np.ndarray)

    def convert(self, x):
        return F.to_pil_image(x, mode=self.mode)

    def __repr__(self):
        return f"ToPILImage(mode={self.mode})"


class ConvertImageDtype(_PerLeaf):
    """Tensor images and videos -> ``dtype``, values rescaled (``ToDtype(dtype, scale=True)``)."""

    def __init__(self, dtype=None):
        super().__init__()
        import visionlite as vl

        self.dtype = _dt.get_dtype(vl.float32 if dtype is None else dtype)

    def wanted(self, x, kind):
        return kind in ("image", "video") and not is_pil_image(x)

    def convert(self, x):
        out = F.convert_image_dtype(x.detach() if hasattr(x, "detach") else x, self.dtype)
        return wrap(out, like=x) if isinstance(x, (Image, Video)) else out

    def __repr__(self):
        return f"ConvertImageDtype(dtype={self.dtype})"
