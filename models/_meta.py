"""Category names for the ImageNet-1k weights, read from ``imagenet_categories.txt`` on first use."""
import functools
import os

__all__ = ["imagenet_categories"]

_FILE = os.path.join(os.path.dirname(__file__), "imagenet_categories.txt")


@functools.cache
def _read_categories():
    with open(_FILE, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    if len(names) != 1000:
        raise RuntimeError(f"{_FILE} holds {len(names)} names, expected the 1000 ImageNet-1k categories; "
                           "reinstall visionlite")
    return names


def imagenet_categories():
    """The 1000 ImageNet-1k class names in class-index order (a new list each call)."""
    return list(_read_categories())


def __getattr__(name):
    # TorchVision spells it _IMAGENET_CATEGORIES; read the file only when someone asks for it.
    if name == "_IMAGENET_CATEGORIES":
        return _read_categories()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
