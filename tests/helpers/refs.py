"""The one way tests import their references (PyTorch, TorchVision, SciPy).

``require("torch")`` returns the module. Where it cannot be imported the test (or the whole module,
when called at module level) is skipped visibly on a developer's machine, but under CI (``CI`` set to
``true``/``1``/``yes``) it is an error: a CI run without its references must not go green on skips.
"""

import importlib
import os

import pytest


def under_ci():
    """True when the ``CI`` environment variable asks for strict references."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def require(name, reason=None):
    """Import reference module ``name``: skip where it is missing, fail under CI."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        why = f"reference {name!r} cannot be imported ({e})" + (f": {reason}" if reason else "")
        if under_ci():
            pytest.fail(f"{why}; CI=true needs it: pip install -e '.[test]' torch torchvision", pytrace=False)
        pytest.skip(why, allow_module_level=True)
