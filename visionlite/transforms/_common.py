"""Small helpers shared by the transforms modules: type checks and Tensor <-> raw array moves."""
import numpy as np
from PIL import Image

from visionlite.core.tensor import Tensor


def is_pil_image(img):
    return isinstance(img, Image.Image)


def wrap(array):
    """A plain (no-grad) Tensor around a raw array."""
    return Tensor._wrap(array)


def unwrap(value):
    """The raw array of a Tensor; anything else unchanged."""
    return value._data if isinstance(value, Tensor) else value


def check_tensor_image(img, name):
    if img.ndim < 2:
        raise TypeError(f"{name}: a tensor image needs at least 2 dimensions (H, W), got shape "
                        f"{tuple(img.shape)}")


def require_channels(x, permitted, name):
    c = 1 if x.ndim == 2 else x.shape[-3]
    if c not in permitted:
        raise TypeError(f"{name}: input image tensor permitted channel values are {list(permitted)}, but "
                        f"found {c} "
                        f"(shape {tuple(x.shape)}; images are laid out C,H,W)")


def is_float_array(x):
    return np.dtype(x.dtype).kind == "f"
