"""Every dataset of ``torchvision.datasets`` is in ``visionlite.datasets`` with TorchVision's constructor:
the same parameters, in the same order, with the same defaults (a default loader function counts as equal
when it has the same name: each library has its own ``default_loader``)."""
import inspect

import pytest

from tests.helpers.refs import require

tvd = require("torchvision.datasets")
import visionlite.datasets as vd  # noqa: E402


def _parameters(cls):
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        default = p.default
        if callable(default) and hasattr(default, "__name__"):
            default = ("callable", default.__name__)
        out.append((p.name, p.kind, default))
    return out


def test_every_torchvision_dataset_name_exists():
    missing = [name for name in tvd.__all__ if name not in vd.__all__]
    assert not missing, f"visionlite.datasets lacks {missing}"


@pytest.mark.parametrize("name", [n for n in tvd.__all__ if isinstance(getattr(tvd, n), type)])
def test_constructor_as_torchvision(name):
    assert _parameters(getattr(vd, name)) == _parameters(getattr(tvd, name))
