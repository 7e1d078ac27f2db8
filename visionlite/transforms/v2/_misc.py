"""Conversions and per-value transforms: ``ToImage``, ``ToDtype``, ``ToPureTensor``, ``Normalize`` and
``Lambda``, with TorchVision v2's rules for which kinds of input each touches."""
import warnings

import numpy as np

from visionlite.core import dtypes as _dt
from visionlite.core.tensor import Tensor

from .. import functional as F
from .._common import is_pil_image
from ._transform import Transform, _flatten, _ImageOnly, _kinds
from .tv_tensors import BoundingBoxes, Image, Mask, TVTensor, as_image, wrap

__all__ = ["ToImage", "ToDtype", "ToPureTensor", "Normalize", "Lambda", "GaussianNoise",
           "LinearTransformation", "Identity", "UniformTemporalSubsample"]


class ToImage(Transform):
    """PIL images, ``H,W,C`` numpy arrays and plain tensors -> ``Image`` tensors (uint8 stays uint8)."""

    def image(self, img, params):
        return Image(img) if is_pil_image(img) else as_image(img._data)

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        return rebuild(self._one(x, k, {}) for x, k in zip(leaves, _kinds(leaves)))

    def _one(self, x, kind, params):
        if kind == "image":
            return self.image(x, params)
        if isinstance(x, np.ndarray):
            from .functional import to_image

            return to_image(x)
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
        if kind not in ("image", "video") and not isinstance(self.dtype, dict):
            return x
        dtype = self._target(x)
        if dtype is None:
            if self.scale and kind in ("image", "video"):
                warnings.warn("scale was set to True but no dtype was specified for images: no scaling will "
                              "be done.", stacklevel=3)
            return x
        if kind in ("image", "video") and self.scale:
            out = F.convert_image_dtype(x, dtype)
        else:
            out = Tensor._wrap(x._data.astype(dtype.np))
        return wrap(out, like=x) if isinstance(x, TVTensor) else out

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


class Identity(Transform):
    """Return the sample unchanged."""

    def forward(self, *inputs):
        return inputs if len(inputs) > 1 else inputs[0]

    def __repr__(self):
        return "Identity()"


class GaussianNoise(_ImageOnly):
    """Add ``mean + sigma * N(0, 1)`` noise to float images and videos (clipped to [0, 1] if ``clip``)."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        super().__init__()
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def image(self, img, params):
        from .functional import gaussian_noise_image

        if is_pil_image(img):
            raise TypeError("GaussianNoise() does not support PIL images; convert with ToImage() and "
                            "ToDtype(float32, scale=True) first")
        return gaussian_noise_image(img, self.mean, self.sigma, self.clip)

    def __repr__(self):
        return f"GaussianNoise(mean={self.mean}, sigma={self.sigma}, clip={self.clip})"


class LinearTransformation(_ImageOnly):
    """Flatten each ``C,H,W`` image, subtract ``mean_vector`` and multiply by the square
    ``transformation_matrix`` (whitening, e.g. ZCA); tensor images and videos only."""

    def __init__(self, transformation_matrix, mean_vector):
        super().__init__()
        m, v = transformation_matrix, mean_vector
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"transformation_matrix should be square. Got {tuple(m.shape)} rectangular "
                             "matrix.")
        if v.shape[0] != m.shape[0]:
            raise ValueError(f"mean_vector should have the same length {v.shape[0]} as any one of the "
                             "dimensions "
                             f"of the transformation_matrix [{tuple(m.shape)}]")
        if m.dtype != v.dtype:
            raise ValueError(f"Input tensors should have the same dtype. Got {m.dtype} and {v.dtype}")
        self.transformation_matrix, self.mean_vector = m, v

    def check_inputs(self, leaves, kinds):
        if any(is_pil_image(x) for x in leaves):
            raise TypeError("LinearTransformation() does not support PIL images.")

    def image(self, img, params):
        shape = tuple(img.shape)
        n = shape[-3] * shape[-2] * shape[-1]
        if n != self.transformation_matrix.shape[0]:
            raise ValueError("Input tensor and transformation matrix have incompatible shape."
                             f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != "
                             f"{self.transformation_matrix.shape[0]}")
        flat = img._data.reshape(-1, n) - self.mean_vector._data
        out = flat @ self.transformation_matrix._data.astype(flat.dtype)
        return Tensor._wrap(out.reshape(shape))

    def __repr__(self):
        return (f"LinearTransformation(transformation_matrix={self.transformation_matrix.tolist()}, "
                f"mean_vector={self.mean_vector.tolist()})")


class UniformTemporalSubsample(Transform):
    """Keep ``num_samples`` evenly spaced frames of each video (``...,T,C,H,W``)."""

    def __init__(self, num_samples):
        super().__init__()
        self.num_samples = num_samples

    def _one(self, x, kind, params):
        from .functional import uniform_temporal_subsample

        if kind == "video" or (kind == "image" and type(x) is Tensor):
            return uniform_temporal_subsample(x, self.num_samples)
        return x

    def __repr__(self):
        return f"UniformTemporalSubsample(num_samples={self.num_samples})"
