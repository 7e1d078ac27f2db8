"""Conversions and per-value transforms: ``ToImage``, ``ToDtype``, ``ToPureTensor``, ``Normalize`` and
``Lambda``, with TorchVision v2's rules for which kinds of input each touches."""
import warnings

from visionlite.core import dtypes as _dt
from visionlite.core.tensor import Tensor

from .. import functional as F
from .._common import is_pil_image
from ._transform import Transform, _flatten, _ImageOnly
from .tv_tensors import BoundingBoxes, Image, Mask, as_image, wrap

__all__ = ["ToImage", "ToDtype", "ToPureTensor", "Normalize", "Lambda"]


class ToImage(Transform):
    """PIL images and plain tensors -> ``Image`` tensors (uint8 stays uint8)."""

    def image(self, img, params):
        return Image(img) if is_pil_image(img) else as_image(img._data)

    def _one(self, x, kind, params):
        if kind == "image":
            return self.image(x, params)
        return x


class ToDtype(Transform):
    """Change dtypes; ``scale=True`` rescales image values as ``convert_image_dtype`` does.

    ``dtype`` is one dtype (then only tensor images change; PIL images, masks and boxes pass through) or a
    dict by input type, e.g. ``{Image: visionlite.float32, Mask: visionlite.int64, "others": None}``
    (None: leave as is)."""

    def __init__(self, dtype, scale=False):
        super().__init__()
        if isinstance(dtype, dict):
            self.dtype = {k: None if v is None else _dt.get_dtype(v) for k, v in dtype.items()}
        else:
            self.dtype = _dt.get_dtype(dtype)
        self.scale = scale

    def _target(self, x):
        if not isinstance(self.dtype, dict):
            return self.dtype
        if type(x) in self.dtype:
            return self.dtype[type(x)]
        if "others" in self.dtype:
            return self.dtype["others"]
        raise ValueError(f"ToDtype: no dtype was given for inputs of type {type(x).__name__}; add it to the "
                         "dict, or an \"others\" entry (None passes them through), or pass one dtype to "
                         "convert images only")

    def _one(self, x, kind, params):
        if is_pil_image(x) or not isinstance(x, Tensor) or kind is None:
            return x
        if kind != "image" and not isinstance(self.dtype, dict):
            return x
        dtype = self._target(x)
        if dtype is None:
            if self.scale and kind == "image":
                warnings.warn("scale was set to True but no dtype was specified for images: no scaling will "
                              "be done.", stacklevel=3)
            return x
        if kind == "image" and self.scale:
            out = F.convert_image_dtype(x, dtype)
        else:
            out = Tensor._wrap(x._data.astype(dtype.np))
        return wrap(out, like=x) if isinstance(x, (Image, Mask, BoundingBoxes)) else out

    def __repr__(self):
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


class ToPureTensor(Transform):
    """``Image``, ``Mask`` and ``BoundingBoxes`` -> plain Tensors (everything else unchanged)."""

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        pure = (Tensor._wrap(x._data) if isinstance(x, (Image, Mask, BoundingBoxes)) else x for x in leaves)
        return rebuild(pure)

    def __repr__(self):
        return "ToPureTensor()"


class Normalize(_ImageOnly):
    """Normalize float images per channel (boxes and masks unchanged)."""

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean, self.std, self.inplace = list(mean), list(std), inplace

    def image(self, img, params):
        return F.normalize(img, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std}, inplace={self.inplace})"


class Lambda(Transform):
    """Apply ``lambd`` to every input of one of ``types`` (all inputs when no type is given)."""

    def __init__(self, lambd, *types):
        super().__init__()
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd, self.types = lambd, types or (object,)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        return rebuild(self.lambd(x) if isinstance(x, self.types) else x for x in leaves)

    def __repr__(self):
        name = getattr(self.lambd, "__name__", None)
        types = [t.__name__ for t in self.types]
        return f"Lambda({name + ', ' if name else ''}types={types})"
