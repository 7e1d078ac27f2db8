"""Dispatch for the v2 functionals: each public function looks at its input's kind (a plain Tensor or
``Image``, a PIL image, ``Video``, ``Mask``, ``BoundingBoxes``, ``KeyPoints``) and calls that kind's kernel,
re-attaching the kind to the result, as ``torchvision.transforms.v2.functional`` does. A kind with no
kernel for an op is refused (the transforms, not the functionals, pass such inputs through).
"""
import functools

from visionlite.core.autograd.grad_mode import is_grad_enabled
from visionlite.core.tensor import Tensor

from ..._common import is_pil_image
from ..tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, TVTensor, Video, wrap

_REGISTRY = {}


def is_pure_tensor(inpt):
    """True for a Tensor that is not one of the tv_tensors kinds."""
    return isinstance(inpt, Tensor) and not isinstance(inpt, TVTensor)


def kind_of(inpt):
    """'image', 'pil', 'video', 'mask', 'boxes', 'keypoints', 'other_tv' or None (unsupported)."""
    if isinstance(inpt, BoundingBoxes):
        return "boxes"
    if isinstance(inpt, KeyPoints):
        return "keypoints"
    if isinstance(inpt, Mask):
        return "mask"
    if isinstance(inpt, Video):
        return "video"
    if isinstance(inpt, Image) or is_pure_tensor(inpt):
        return "image"
    if isinstance(inpt, TVTensor):
        return "other_tv"
    if is_pil_image(inpt):
        return "pil"
    return None


def register_kernel(functional, tv_tensor_cls):
    """Decorator: use the decorated kernel when ``functional`` gets an input of ``tv_tensor_cls``
    (a custom ``TVTensor`` subclass, or a built-in kind to override)."""
    name = functional if isinstance(functional, str) else getattr(functional, "__name__", None)
    if name is None:
        raise ValueError(f"register_kernel: {functional!r} is not a v2 functional")
    if not (isinstance(tv_tensor_cls, type) and issubclass(tv_tensor_cls, TVTensor)):
        raise ValueError(f"register_kernel: kernels can only be registered for TVTensor subclasses, got "
                         f"{tv_tensor_cls!r}")

    def decorator(kernel):
        _REGISTRY[(name, tv_tensor_cls)] = kernel
        return kernel

    return decorator


def _plain(inpt):
    """``inpt`` as a plain Tensor for a kernel; an input in the autograd graph stays in it (a view)."""
    if is_pure_tensor(inpt):
        return inpt
    if inpt.requires_grad and is_grad_enabled():
        return inpt.view(*inpt.shape)
    return Tensor._wrap(inpt._data)


def _rewrap(out, like):
    if isinstance(out, (tuple, list)):
        return type(out)(_rewrap(o, like) for o in out)
    if isinstance(like, (Image, Video, Mask)) and isinstance(out, Tensor):
        return wrap(out, like=like)
    return out


def dispatcher(**kernels):
    """Make a dispatching functional from per-kind kernels: ``image``/``video``/``mask`` kernels take and
    return plain Tensors (the kind is re-attached); ``pil`` kernels take PIL images; ``boxes`` and
    ``keypoints`` kernels take the tv_tensor and return it wrapped themselves."""

    def decorate(fn):
        name = fn.__name__

        @functools.wraps(fn)
        def run(inpt, *args, **kwargs):
            custom = _REGISTRY.get((name, type(inpt)))
            if custom is not None:
                return custom(inpt, *args, **kwargs)
            kind = kind_of(inpt)
            if kind is None:
                raise TypeError(f"{name}: got input of type {type(inpt).__name__}, but only Tensors, PIL "
                                "images and the tv_tensors kinds are supported")
            kernel = kernels.get(kind)
            if kernel is None:
                raise TypeError(f"{name}: inputs of type {type(inpt).__name__} are not supported (supported: "
                                f"{', '.join(sorted(kernels))})")
            if kind in ("image", "video", "mask"):
                plain = _plain(inpt)
                return _rewrap(kernel(plain, *args, **kwargs), inpt)
            return kernel(inpt, *args, **kwargs)

        run.kernels = kernels
        return run

    return decorate
