"""Makes ``visionlite.nn``, ``visionlite.optim``, ``visionlite.data``, ... the very modules under
``visionlite.core`` (one home per name, so ``isinstance`` holds whichever path imported them)."""
import importlib
import sys
from importlib.machinery import ModuleSpec

ALIASED = ("nn", "optim", "data", "autograd", "serialization", "cuda")


class _AliasLoader:
    """Hands back the already-imported real module instead of executing a second copy."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _AliasFinder:
    """A meta-path finder for ``visionlite.<aliased>...`` names."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != "visionlite" or parts[1] not in ALIASED:
            return None
        real = "visionlite.core." + ".".join(parts[1:])
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name == real:
                return None
            raise
        return ModuleSpec(fullname, _AliasLoader(real), is_package=hasattr(module, "__path__"))

    def invalidate_caches(self):
        pass


def install():
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
