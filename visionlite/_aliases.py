"""Makes ``visionlite.nn``, ``visionlite.optim``, ``visionlite.data``, ... the very modules under
``visionlite.core`` (one home per name, so ``isinstance`` holds whichever path imported them)."""
import importlib
import sys
from importlib.machinery import ModuleSpec

# user-facing module name -> its one real home
ALIASES = {
    "visionlite.nn": "visionlite.core.nn",
    "visionlite.optim": "visionlite.core.optim",
    "visionlite.data": "visionlite.core.data",
    "visionlite.autograd": "visionlite.core.autograd",
    "visionlite.serialization": "visionlite.core.serialization",
    "visionlite.cuda": "visionlite.core.cuda",
    "visionlite.backends": "visionlite.core.backends",
    "visionlite.multiprocessing": "visionlite.core.multiprocessing",
    "visionlite.accelerator": "visionlite.core.accelerator",
    "visionlite.utils.checkpoint": "visionlite.core.checkpoint",  # as torch.utils.checkpoint
    "visionlite.amp": "visionlite.core.amp",
    "visionlite.distributed": "visionlite.core.distributed",
    "visionlite.linalg": "visionlite.core.linalg",
    "visionlite.testing": "visionlite.core.testing",
    "visionlite.distributions": "visionlite.core.distributions",
    "visionlite.utils.data": "visionlite.core.data",  # as torch.utils.data
    "visionlite.tv_tensors": "visionlite.transforms.v2.tv_tensors",  # as torchvision.tv_tensors
}


class _AliasLoader:
    """Hands back the already-imported real module instead of executing a second copy."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        # Register the target's already-loaded submodules under the alias too: importing one of them later
        # through the alias then finds it in sys.modules, instead of loading it and rebinding the package
        # attribute of the same name (``nn.parallel.data_parallel`` the function) to the submodule.
        prefix = self.target + "."
        for name, sub in list(sys.modules.items()):
            if name.startswith(prefix):
                sys.modules.setdefault(spec.name + name[len(self.target):], sub)
        return module

    def exec_module(self, module):
        pass


class _AliasFinder:
    """A meta-path finder for the aliased names and their submodules."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("visionlite."):
            return None
        for alias, home in ALIASES.items():
            if fullname == alias or fullname.startswith(alias + "."):
                real = home + fullname[len(alias):]
                break
        else:
            return None
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
