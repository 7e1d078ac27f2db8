"""Makes ``visionlite.nn``, ``visionlite.optim``, ``visionlite.data``, ... the very modules under
``visionlite.core`` (one home per name, so ``isinstance`` holds whichever path imported them)."""

import importlib
import importlib.abc
import importlib.util
import sys

ALIASED = ("nn", "optim", "data", "autograd", "serialization", "cuda")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != "visionlite" or parts[1] not in ALIASED:
            return None
        real = "visionlite.core." + ".".join(parts[1:])
        if importlib.util.find_spec(real) is None:
            return None
        module = importlib.import_module(real)
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(real), is_package=hasattr(module, "__path__")
        )


def install():
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
