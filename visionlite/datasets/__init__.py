"""Datasets in the manner of ``torchvision.datasets``; download helpers live in ``visionlite.datasets.utils``.

Submodules load on first use, so ``import visionlite.datasets`` stays cheap.
"""
import importlib


def __getattr__(name):
    if name == "utils":
        return importlib.import_module("visionlite.datasets.utils")
    raise AttributeError(f"module 'visionlite.datasets' has no attribute {name!r}")
