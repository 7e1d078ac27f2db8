"""The weights API shared by every model family, as ``torchvision.models._api``.

A model's pretrained weights are the members of a :class:`WeightsEnum` (``ResNet50_Weights.IMAGENET1K_V2``,
with ``DEFAULT`` an alias of the recommended one). Each member holds a :class:`Weights`: the official URL,
the preset eval transform, metadata (categories, parameter count, accuracy) and, once pinned by
``scripts/pin_weights.py``, the file's full SHA-256. The facts live in ``weights.json`` beside this file,
read once on first use; nothing here imports ``nn``, so ``list_models`` is cheap.
"""
from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import json
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights", "get_weight",
    "list_models", "register_model",
]

# Every module defining registered builders; imported on demand by list_models, get_model and get_weight.
MODEL_MODULES = ("convnext", "efficientnet", "mnasnet", "regnet",
                 "alexnet", "maxvit", "mobilenetv2", "mobilenetv3", "resnet", "squeezenet",
                 "swin_transformer", "vgg", "densenet", "googlenet", "inception", "shufflenetv2",
                 "vision_transformer", "segmentation.fcn", "segmentation.deeplabv3", "segmentation.lraspp",
                 "detection.faster_rcnn", "detection.mask_rcnn", "detection.keypoint_rcnn",
                 "detection.retinanet", "detection.fcos", "detection.ssd", "detection.ssdlite",
                 "optical_flow.raft", "video.resnet", "video.s3d", "video.swin_transformer", "video.mvit")
REGISTRY_FILE = os.path.join(os.path.dirname(__file__), "weights.json")

BUILTIN_MODELS: dict[str, Callable] = {}


@dataclass(eq=False)
class Weights:
    """One set of pretrained weights.

    Args:
        url: official download URL; TorchVision puts the first hex digits of the file's SHA-256 in its name.
        transforms: callable building the preset eval transform (``weights.transforms()``).
        meta: ``categories``, ``num_params``, ``min_size``, ``_metrics``, ``_file_size`` (MiB; larger
            downloads are refused), ``recipe``, ..., and visionlite's ``_sha256_verified``: ``"full"`` when
            the full SHA-256 is pinned, ``"prefix"`` when only the name's 32-bit hash prefix is checked.
        sha256: the file's full SHA-256 where pinned, else None (the name's hash prefix is checked instead).
    """

    url: str
    transforms: Callable
    meta: dict[str, Any]
    sha256: str | None = None

    def __eq__(self, other):
        # A partial is not equal to its own copy, so compare its parts; Enum aliasing and copies rely on this.
        if not isinstance(other, Weights):
            return NotImplemented
        if (self.url, self.sha256, self.meta) != (other.url, other.sha256, other.meta):
            return False
        a, b = self.transforms, other.transforms
        if isinstance(a, functools.partial) and isinstance(b, functools.partial):
            return (a.func, a.args, a.keywords) == (b.func, b.args, b.keywords)
        return a == b


class WeightsEnum(Enum):
    """Base class of every ``*_Weights`` enum; members are :class:`Weights`."""

    @classmethod
    def verify(cls, obj):
        """``obj`` as a member of this enum: a member, its name (``"IMAGENET1K_V1"``, ``"DEFAULT"``,
        ``"ResNet50_Weights.DEFAULT"``) or None."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj[len(cls.__name__) + 1:] if obj.startswith(cls.__name__ + ".") else obj
            if name in cls.__members__:
                return cls[name]
            raise ValueError(f"Unknown weights {obj!r} for {cls.__name__}; choose one of "
                             f"{', '.join(cls.__members__)} (or pass weights=None for random initialisation)")
        if isinstance(obj, bool):
            raise TypeError(f"weights={obj} is not supported: pass weights={cls.__name__}.DEFAULT (or the "
                            f"string 'DEFAULT') for pretrained weights, or weights=None")
        raise TypeError(f"Invalid weights: expected a {cls.__name__} member, its name as a string, or None; "
                        f"got {type(obj).__name__}")

    def get_state_dict(self, progress=True, **kwargs):
        """Download (or find in the cache), verify and load these weights' state dict."""
        from visionlite import hub

        kwargs.setdefault("sha256", self.sha256)
        kwargs.setdefault("max_bytes", hub.size_limit(self.meta.get("_file_size")))
        return hub.load_state_dict_from_url(self.url, progress=progress, **kwargs)

    def __repr__(self):
        return f"{type(self).__name__}.{self._name_}"

    @property
    def url(self):
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self):
        return self.value.meta

    @property
    def sha256(self):
        return self.value.sha256

    @property
    def file_name(self):
        """The checkpoint's file name, as cached (``resnet50-11ad3fa6.pth``)."""
        return self.url.rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------ registry file

@functools.cache
def _registry():
    with open(REGISTRY_FILE, encoding="utf-8") as f:
        return json.load(f)["models"]


def _image_classification(**kwargs):
    # The transforms package pulls in PIL; build the preset only when a user asks for it.
    from visionlite.transforms.presets import ImageClassification

    return ImageClassification(**kwargs)


def _semantic_segmentation(**kwargs):
    from visionlite.transforms.presets import SemanticSegmentation

    return SemanticSegmentation(**kwargs)


def _object_detection(**kwargs):
    from visionlite.transforms.presets import ObjectDetection

    return ObjectDetection(**kwargs)


def _optical_flow(**kwargs):
    from visionlite.transforms.presets import OpticalFlow

    return OpticalFlow(**kwargs)


def _video_classification(**kwargs):
    from visionlite.transforms.presets import VideoClassification

    return VideoClassification(**kwargs)


_PRESETS = {"ImageClassification": _image_classification, "SemanticSegmentation": _semantic_segmentation,
            "ObjectDetection": _object_detection, "OpticalFlow": _optical_flow,
            "VideoClassification": _video_classification}
# weights.json names a shared category list by a token; _meta holds the lists (TorchVision's names).
_CATEGORY_LISTS = {"IMAGENET1K": "_IMAGENET_CATEGORIES", "VOC": "_VOC_CATEGORIES", "COCO": "_COCO_CATEGORIES",
                   "COCO_PERSON": "_COCO_PERSON_CATEGORIES",
                   "COCO_PERSON_KEYPOINTS": "_COCO_PERSON_KEYPOINT_NAMES",
                   "KINETICS400": "_KINETICS400_CATEGORIES"}


def registered_weights(model, name):
    """The :class:`Weights` recorded in ``weights.json`` for ``model`` (e.g. ``"resnet50"``) and ``name``."""
    try:
        entry = _registry()[model][name]
    except KeyError:
        raise KeyError(f"weights.json has no entry {model}.{name}") from None
    preset = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["transforms"].items()}
    fn = _PRESETS[preset.pop("fn")]
    meta = dict(entry["meta"])
    meta["min_size"] = tuple(meta["min_size"])
    # visionlite's own key: what the download check covers, the full SHA-256 or the name's 32-bit prefix
    meta["_sha256_verified"] = "full" if entry.get("sha256") else "prefix"
    for key in ("categories", "keypoint_names"):
        token = meta.get(key)
        if isinstance(token, str) and token in _CATEGORY_LISTS:
            from . import _meta

            meta[key] = getattr(_meta, _CATEGORY_LISTS[token])
    return Weights(url=entry["url"], transforms=functools.partial(fn, **preset), meta=meta,
                   sha256=entry.get("sha256"))


def default_weights_name(model):
    """Name of the entry ``weights.json`` marks as the default for ``model``."""
    return next(name for name, entry in _registry()[model].items() if entry.get("default"))


# -------------------------------------------------------------------------------------- model registry

_Fn = typing.TypeVar("_Fn", bound=Callable[..., Any])


class Decorator(typing.Protocol):
    """A builder decorator, as a type checker sees it: it returns the function it wraps, signature intact."""

    def __call__(self, fn: _Fn, /) -> _Fn: ...


def register_model(name=None) -> Decorator:
    """Decorator adding a builder to the registry under ``name`` (default: the function's name)."""
    def wrapper(fn):
        key = name or fn.__name__
        if key in BUILTIN_MODELS and BUILTIN_MODELS[key] is not fn:
            raise ValueError(f"A model is already registered under the name {key!r}")
        BUILTIN_MODELS[key] = fn
        return fn
    return wrapper


def _import_all():
    for module in MODEL_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def list_models(module=None, include=None, exclude=None):
    """Sorted names of the registered models.

    Args:
        module: only the models defined in this module (e.g. ``visionlite.models``).
        include: fnmatch pattern(s); a model is kept if it matches any (default: all).
        exclude: fnmatch pattern(s) applied after ``include``; a model is dropped if it matches any.
    """
    _import_all()
    names = {k for k, fn in BUILTIN_MODELS.items()
             if module is None or fn.__module__.rsplit(".", 1)[0] == module.__name__
             or fn.__module__ == module.__name__}
    if include:
        patterns = [include] if isinstance(include, str) else list(include)
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
    if exclude:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)}
    return sorted(names)


def get_model_builder(name):
    """The builder function registered as ``name`` (case-insensitive)."""
    _import_all()
    try:
        return BUILTIN_MODELS[name.lower()]
    except KeyError:
        close = [n for n in BUILTIN_MODELS if n.startswith(name.lower()[:4])]
        hint = f" Did you mean one of {close}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} See visionlite.models.list_models().") from None


def get_model(name, **config):
    """Build the model registered as ``name``; ``config`` goes to its builder (``weights=``, ``num_classes=``,
    ...)."""
    return get_model_builder(name)(**config)


def get_model_weights(name):
    """The weights enum class of a model, given its builder or registered name."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    params = inspect.signature(fn, eval_str=True).parameters
    if "weights" not in params:
        raise ValueError(f"{getattr(fn, '__name__', fn)} takes no 'weights' argument")
    annotation = params["weights"].annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, WeightsEnum):
            return candidate
    raise ValueError(f"The weights enum of {fn.__name__} could not be found from its annotation")


def get_weight(name):
    """The weights member with full name ``name``, e.g. ``"ResNet50_Weights.IMAGENET1K_V1"``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weights name {name!r}: expected 'EnumName.MEMBER', "
                         "e.g. 'ResNet50_Weights.IMAGENET1K_V1'") from None
    _import_all()
    for fn in BUILTIN_MODELS.values():
        enum = get_model_weights(fn)
        if enum.__name__ == enum_name:
            return enum.verify(value_name)
    raise ValueError(f"No weights enum named {enum_name!r}; see visionlite.models.list_models() and "
                     "get_model_weights(name)")
