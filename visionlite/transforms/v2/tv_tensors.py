"""Tensors that know what they hold, so joint transforms can treat each correctly (as
``torchvision.tv_tensors``): ``Image``, ``Mask`` and ``BoundingBoxes`` (with a format and the size of
the image they live on). Operations on them return plain Tensors; ``wrap`` re-attaches the meaning.
"""
from enum import Enum

import numpy as np

from visionlite.core.creation import _to_array
from visionlite.core.tensor import Tensor

__all__ = ["BoundingBoxFormat", "BoundingBoxes", "Image", "Video", "Mask", "KeyPoints", "TVTensor", "wrap",
           "is_rotated_bounding_format"]


class BoundingBoxFormat(Enum):
    """Box layouts: corners (XYXY), corner and size (XYWH), centre and size (CXCYWH)."""

    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"


def is_rotated_bounding_format(format):
    """Whether ``format`` describes rotated boxes (TorchVision's XYWHR, CXCYWHR, XYXYXYXY); the axis-aligned
    formats here never are."""
    name = str(getattr(format, "value", format)).upper()
    return name in ("XYWHR", "CXCYWHR", "XYXYXYXY")


def as_format(format):
    """A ``BoundingBoxFormat`` from itself or its name ("XYXY", "xywh", ...)."""
    if isinstance(format, BoundingBoxFormat):
        return format
    name = str(getattr(format, "value", format)).upper()
    if name not in BoundingBoxFormat.__members__:
        raise ValueError(f"unknown bounding box format {format!r}; use XYXY, XYWH or CXCYWH")
    return BoundingBoxFormat[name]


def _new(cls, array):
    t = Tensor._wrap(array)
    t.__class__ = cls
    return t


def as_image(array):
    """An ``Image`` around a raw ``C,H,W`` array (no copy)."""
    return _new(Image, array)


class TVTensor(Tensor):
    """Base of the tensor kinds below (``isinstance(x, TVTensor)`` tells a kind from a plain Tensor)."""

    def __reduce_ex__(self, protocol):
        # The kind and its metadata (format, canvas_size, ...) survive pickling, as in TorchVision: samples
        # come back from DataLoader worker processes as BoundingBoxes, not plain Tensors.
        return (_rebuild_tv_tensor, (type(self), self.__array__(), str(self.device), self.requires_grad,
                                     dict(self.__dict__)))


def _rebuild_tv_tensor(cls, array, device, requires_grad, state):
    t = Tensor._wrap(array)
    if device != "cpu":
        t = t.to(device)
    t.requires_grad = requires_grad
    t.__class__ = cls
    t.__dict__.update(state)
    return t


class Image(TVTensor):
    """A ``C,H,W`` (or batched) image tensor."""

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        if hasattr(data, "getbands"):  # a PIL image
            arr = np.asarray(data)
            data = (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).copy()
        super().__init__(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if self.ndim < 2:
            raise ValueError(f"Image: expected at least 2 dimensions (H, W), got shape {tuple(self.shape)}")
        if self.ndim == 2:
            self._data = self._data[None]


class Video(TVTensor):
    """A ``T,C,H,W`` (or batched ``...,T,C,H,W``) video tensor."""

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        super().__init__(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if self.ndim < 4:
            raise ValueError(f"Video: expected at least 4 dimensions (T, C, H, W), got shape "
                             f"{tuple(self.shape)}")


class Mask(TVTensor):
    """Segmentation masks ``H,W`` or per-instance ``N,H,W`` (any dtype; resampled with nearest)."""

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        if hasattr(data, "getbands"):  # a PIL image: C,H,W as pil_to_tensor gives it (1,H,W for "L"/"P")
            arr = np.asarray(data)
            data = (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).copy()
        super().__init__(data, dtype=dtype, device=device, requires_grad=requires_grad)


class KeyPoints(TVTensor):
    """Points ``...,2`` as (x, y) pixel coordinates on an image of ``canvas_size = (height, width)``;
    a ``(2,)`` input becomes ``(1, 2)``. Commonly ``N,2`` or ``N_objects,K,2``."""

    def __init__(self, data, *, canvas_size, dtype=None, device=None, requires_grad=False):
        super().__init__(_to_array(data, dtype, device), requires_grad=requires_grad)
        if self.ndim == 1:
            self._data = self._data[None]
        if self.shape[-1] != 2:
            raise ValueError(f"KeyPoints: expected a last dimension of 2 (x, y), got shape "
                             f"{tuple(self.shape)}")
        self.canvas_size = tuple(int(s) for s in canvas_size)
        if len(self.canvas_size) != 2:
            raise ValueError(f"KeyPoints: canvas_size should be (height, width), got {canvas_size}")

    def __repr__(self):
        return f"KeyPoints({Tensor._wrap(self._data)!r}, canvas_size={self.canvas_size})"


class BoundingBoxes(TVTensor):
    """``N,4`` boxes in ``format`` on an image of ``canvas_size = (height, width)``."""

    def __init__(self, data, *, format, canvas_size, clamping_mode="soft", dtype=None, device=None,
                 requires_grad=False):
        super().__init__(_to_array(data, dtype, device), requires_grad=requires_grad)
        if clamping_mode not in (None, "soft", "hard"):
            raise ValueError(f"clamping_mode must be None, 'soft' or 'hard', got {clamping_mode!r}")
        self.clamping_mode = clamping_mode
        if self.ndim == 1:
            self._data = self._data[None]
        if self.ndim != 2 or self.shape[-1] != 4:
            raise ValueError(f"BoundingBoxes: expected shape (N, 4), got {tuple(self.shape)}")
        self.format = as_format(format)
        self.canvas_size = tuple(int(s) for s in canvas_size)
        if len(self.canvas_size) != 2:
            raise ValueError(f"BoundingBoxes: canvas_size should be (height, width), got {canvas_size}")

    def __repr__(self):
        data = Tensor._wrap(self._data)
        return f"BoundingBoxes({data!r}, format={self.format}, canvas_size={self.canvas_size})"


def _join_graph(out, src):
    """Make ``out`` (a new kind around ``src``'s data) stand for ``src`` in the autograd graph, so a kernel's
    differentiable result keeps its graph when its kind is re-attached (``as_subclass`` in TorchVision)."""
    from visionlite.core.autograd.grad_mode import is_grad_enabled
    from visionlite.core.autograd.versions import share_version

    share_version(out, src)
    if not (src.requires_grad and is_grad_enabled()):
        return
    if src._ctx is None:  # a leaf: go through a view, so gradients still reach the leaf itself
        src = src.view(*src.shape)
    out.requires_grad, out._ctx, out._out_index = True, src._ctx, src._out_index


def wrap(array_or_tensor, *, like, **meta):
    """A tensor of ``like``'s kind (and metadata, overridden by ``meta``) around new data."""
    data = array_or_tensor._data if isinstance(array_or_tensor, Tensor) else array_or_tensor
    out = _new(type(like), data)
    if isinstance(array_or_tensor, Tensor):
        _join_graph(out, array_or_tensor)
    if isinstance(like, BoundingBoxes):
        out.format = as_format(meta.get("format", like.format))
        out.clamping_mode = meta.get("clamping_mode", getattr(like, "clamping_mode", "soft"))
    if isinstance(like, (BoundingBoxes, KeyPoints)):
        out.canvas_size = tuple(meta.get("canvas_size", like.canvas_size))
    return out
