"""Maps the repo's top-level `core/` and `models/` folders into the `visionlite` package.

The package list is computed here because setuptools cannot discover packages whose
import names differ from their folders.
"""
import os

from setuptools import setup

ROOTS = {"visionlite": "visionlite", "visionlite.core": "core", "visionlite.models": "models"}


def packages_under(name, folder):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
        if "__init__.py" in filenames:
            rel = os.path.relpath(dirpath, folder)
            found.append(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    return found


packages = [p for name, folder in ROOTS.items() for p in packages_under(name, folder)]
package_dir = dict(ROOTS)
setup(packages=packages, package_dir=package_dir)
