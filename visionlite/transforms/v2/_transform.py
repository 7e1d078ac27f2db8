"""The joint-transform machinery: a sample (any nest of tuples, lists and dicts) is flattened, each leaf
is given a kind, parameters are drawn once, and each leaf is transformed by its kind, as
``torchvision.transforms.v2.Transform`` does.

The image is a PIL image, an ``Image`` tensor, or (when neither is present) the first plain Tensor;
``BoundingBoxes`` and ``Mask`` follow the pixels; everything else (labels, ids, file names) passes through.
"""
import numpy as np

from visionlite.core.backend import array_module
from visionlite.core.nn.module import Module
from visionlite.core.tensor import Tensor

from .. import _random as R
from .. import functional as F
from .._common import is_pil_image
from ..functional import InterpolationMode
from . import _boxes as B
from .tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video, wrap


# ------------------------------------------------------------------------------------- structure
def _flatten(obj, leaves):
    """Collect the leaves of nested tuples/lists/dicts; return a function rebuilding the nest."""
    if isinstance(obj, (tuple, list)):
        parts = [_flatten(o, leaves) for o in obj]
        return lambda it: type(obj)(p(it) for p in parts)
    if isinstance(obj, dict):
        parts = {k: _flatten(v, leaves) for k, v in obj.items()}
        return lambda it: type(obj)((k, p(it)) for k, p in parts.items())
    leaves.append(obj)
    return lambda it: next(it)


def _kinds(leaves):
    """For each leaf: 'image', 'video', 'boxes', 'keypoints', 'mask' or None (passed through)."""
    explicit = any(is_pil_image(x) or isinstance(x, (Image, Video)) for x in leaves)
    kinds, plain_used = [], explicit
    for x in leaves:
        if isinstance(x, BoundingBoxes):
            kinds.append("boxes")
        elif isinstance(x, KeyPoints):
            kinds.append("keypoints")
        elif isinstance(x, Mask):
            kinds.append("mask")
        elif isinstance(x, Video):
            kinds.append("video")
        elif is_pil_image(x) or isinstance(x, Image):
            kinds.append("image")
        elif type(x) is Tensor and not plain_used:
            kinds.append("image")
            plain_used = True
        else:
            kinds.append(None)
    return kinds


def _canvas(leaves, kinds):
    for x, k in zip(leaves, kinds):
        if k in ("image", "video", "mask"):
            return tuple(F.get_dimensions(x)[1:])
    for x, k in zip(leaves, kinds):
        if k in ("boxes", "keypoints"):
            return x.canvas_size
    raise TypeError("joint transforms need an image, a video, a Mask, BoundingBoxes or KeyPoints among their "
                    "inputs")


def _warp_mode(mode):
    # warps sample at pixel centres already, so exact-nearest is plain nearest there
    return InterpolationMode.NEAREST if mode == InterpolationMode.NEAREST_EXACT else mode


def _mask_mode(params):
    """Nearest flavour for masks, so that they stay on the image's pixels: with a PIL image NEAREST_EXACT
    (Pillow's NEAREST samples pixel centres); with a tensor image the image's own choice when it is
    NEAREST_EXACT, else NEAREST, as TorchVision v2 resamples masks."""
    if params.get("pil_image") or params.get("interpolation") == InterpolationMode.NEAREST_EXACT:
        return InterpolationMode.NEAREST_EXACT
    return InterpolationMode.NEAREST


def _arity(method):
    """Positional parameters of a bound method (self excluded)."""
    import inspect

    params = inspect.signature(method).parameters.values()
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class Transform(Module):
    """Base class: subclasses draw parameters in ``make_params`` and transform each kind of input
    (``image``, ``mask``, ``boxes``, ``keypoints``). Subclasses written for TorchVision, which override
    ``transform(inpt, params)`` (and ``make_params(flat_inputs)``, ``_transformed_types``), run by
    TorchVision's protocol instead."""

    # TorchVision's protocol: the leaves of these types (or accepted by these predicates) are transformed
    _transformed_types = (Tensor, is_pil_image)

    def transform(self, inpt, params):
        """TorchVision-style hook: one transformed leaf (override it to write a transform that way)."""
        raise NotImplementedError

    def _needs_transform_list(self, flat_inputs):
        """Which leaves ``transform`` sees: those of ``_transformed_types``, a plain Tensor only when no
        image or video is present (and then only the first), as TorchVision decides."""
        from .tv_tensors import TVTensor

        plain_left = not any(is_pil_image(x) or isinstance(x, (Image, Video)) for x in flat_inputs)
        needs = []
        for x in flat_inputs:
            ok = any(isinstance(x, t) if isinstance(t, type) else t(x) for t in self._transformed_types)
            if ok and isinstance(x, Tensor) and not isinstance(x, TVTensor):
                ok, plain_left = plain_left, False
            needs.append(ok)
        return needs

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        """Call a v2 functional on one leaf; tv_tensor kinds it has no kernel for pass through."""
        from .functional._utils import kind_of

        kernels = getattr(functional, "kernels", None)
        if kernels is not None and kind_of(inpt) not in kernels and kind_of(inpt) not in ("image", "pil"):
            return inpt
        return functional(inpt, *args, **kwargs)

    def _forward_torchvision_style(self, inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        if type(self).check_inputs is not Transform.check_inputs and _arity(self.check_inputs) == 1:
            self.check_inputs(leaves)
        needs = self._needs_transform_list(leaves)
        chosen = [x for x, n in zip(leaves, needs) if n]
        params = self.make_params(chosen) if _arity(self.make_params) == 1 else {}
        return rebuild(self.transform(x, params) if n else x for x, n in zip(leaves, needs))

    def forward(self, *inputs):
        if type(self).transform is not Transform.transform:
            return self._forward_torchvision_style(inputs)
        sample = inputs if len(inputs) > 1 else inputs[0]
        leaves = []
        rebuild = _flatten(sample, leaves)
        kinds = _kinds(leaves)
        self.check_inputs(leaves, kinds)
        params = self.make_params(leaves, kinds, _canvas(leaves, kinds))
        params.setdefault("pil_image", any(k == "image" and is_pil_image(x) for x, k in zip(leaves, kinds)))
        out = list(leaves)
        # pixels first: boxes take the canvas size the image actually came out with
        for i in sorted(range(len(leaves)), key=lambda i: kinds[i] in ("boxes", "keypoints")):
            out[i] = self._one(leaves[i], kinds[i], params)
            if kinds[i] in ("image", "video") and "out_size" not in params and not isinstance(out[i], tuple):
                params["out_size"] = tuple(F.get_dimensions(out[i])[1:])
        return rebuild(iter(out))

    def check_inputs(self, leaves, kinds):
        """Raise if the sample lacks what the transform needs."""

    def make_params(self, leaves, kinds, canvas_size):
        """The random parameters, drawn once for the whole sample."""
        return {}

    def _one(self, x, kind, params):
        if kind in ("image", "video"):
            out = self.image(x, _with_fill(params, type(x)))
            return wrap(out, like=x) if isinstance(x, (Image, Video)) and isinstance(out, Tensor) else out
        if kind == "mask":
            return wrap(self.mask(Tensor._wrap(x._data), _with_fill(params, Mask)), like=x)
        if kind == "boxes":
            xyxy = B.to_xyxy(x._data, x.format)
            xyxy, size = self.boxes(xyxy, x.canvas_size, params)
            return wrap(B.from_xyxy(xyxy, x.format, x._data.dtype), like=x, canvas_size=size)
        if kind == "keypoints":
            pts = x._data.reshape(-1, 2).astype(np.float64)
            pts, size = self.keypoints(pts, x.canvas_size, params)
            return wrap(B.cast_like(pts, x._data.dtype).reshape(x.shape), like=x, canvas_size=size)
        return self.other(x, params)

    def image(self, img, params):
        return img

    def mask(self, mask, params):
        """Masks follow the image's geometry with nearest sampling (and the fill ``params`` give them)."""
        return self.image(mask, dict(params, interpolation=_mask_mode(params)))

    def boxes(self, xyxy, canvas_size, params):
        return xyxy, canvas_size

    def keypoints(self, points, canvas_size, params):
        """``N,2`` float64 (x, y) points -> moved points and the new canvas size."""
        return points, canvas_size

    def other(self, x, params):
        return x


class _RandomApplyTransform(Transform):
    """A transform applied to the whole sample with probability ``p`` (one draw, before its own)."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"`p` should be a floating point value in the interval [0.0, 1.0], got {p}.")
        self.p = p

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if R.rand() >= self.p:
            return sample
        return super().forward(sample)


class _ImageOnly(Transform):
    """Photometric transforms: they change images only; masks and boxes pass through."""

    def mask(self, mask, params):
        return mask


# ------------------------------------------------------------------------------------------ fill
class _Fill:
    """A marker for fills given per kind (``{Image: (123, 117, 104), "others": 0}``, as TorchVision v2
    takes them): ``_with_fill`` picks the entry for each input's type."""

    def __init__(self, table):
        self.table = table

    def get(self, kind):
        if kind in self.table:
            return self.table[kind]
        return self.table.get("others") if "others" in self.table else None


def setup_fill(fill):
    """Check ``fill`` (a number, a sequence, None, or a dict of those by input type) for storage."""
    values = fill.values() if isinstance(fill, dict) else [fill]
    for v in values:
        if v is not None and not isinstance(v, (int, float, tuple, list)):
            raise TypeError(f"Got inappropriate fill arg {v!r}: only numbers, tuples, lists and dicts of "
                            "them are allowed")
    return _Fill(fill) if isinstance(fill, dict) else fill


def _with_fill(params, kind):
    """``params`` with the fill for an input of type ``kind``. A single fill value is the image's; masks
    are then filled with 0 (TorchVision v2 fills them with the image's value, which is seldom a class
    id); a per-type dict decides for both."""
    fill = params.get("fill")
    if isinstance(fill, _Fill):
        value = fill.get(kind)
        return dict(params, fill=0 if value is None and kind is Mask else value)
    if kind is Mask and "fill" in params:
        return dict(params, fill=0)
    return params


def pad_image(img, padding, fill=0, padding_mode="constant"):
    """``functional.pad``, also with one fill value per channel for tensor images (as TorchVision v2)."""
    if not (isinstance(img, Tensor) and isinstance(fill, (tuple, list)) and len(fill) > 1):
        return F.pad(img, padding, 0 if fill is None else fill, padding_mode)
    channels = F.get_dimensions(img)[0]
    if len(fill) != channels:
        raise ValueError(f"fill has {len(fill)} values but the image has {channels} channels")
    x = img._data
    xp = array_module(x)
    padded = F.pad(img, padding, 0, padding_mode)._data
    inside = F.pad(Tensor._wrap(xp.ones(x.shape[-2:], dtype=np.uint8)), padding, 0)._data.astype(bool)
    values = xp.asarray(np.asarray(fill).astype(x.dtype).reshape(-1, 1, 1))
    return Tensor._wrap(xp.where(inside, padded, values))
