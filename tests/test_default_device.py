"""set_default_device/get_default_device as PyTorch's: what get_default_device reports, and factory
functions allocating on the default (on the GPU only where one is visible)."""
import pytest

import visionlite as vl
from tests.helpers.refs import require

torch = require("torch")


@pytest.fixture(autouse=True)
def _restore():
    yield
    vl.set_default_device(None)
    torch.set_default_device(None)


@pytest.mark.parametrize("dev", [None, "cpu", "cuda:1", 0])
def test_get_default_device_reports_as_torch(dev):
    vl.set_default_device(dev)
    torch.set_default_device(dev)
    assert repr(vl.get_default_device()) == repr(torch.get_default_device())


def test_bare_cuda_reports_index_zero():
    # PyTorch asks the driver for the current index (0 unless changed); without a GPU it cannot answer
    vl.set_default_device("cuda")
    assert repr(vl.get_default_device()) == "device(type='cuda', index=0)"


def test_factories_follow_the_default(device):
    vl.set_default_device(device)
    made = [vl.zeros(2), vl.ones(2, 3), vl.randn(3), vl.rand(2), vl.arange(4), vl.eye(2),
            vl.tensor([1.0, 2.0]), vl.full((2,), 3.0), vl.empty(2), vl.linspace(0, 1, 5)]
    for t in made:
        assert t.device.type == vl.device(device).type
    assert vl.zeros(2, device="cpu").device.type == "cpu"
    vl.set_default_device(None)
    assert vl.zeros(2).device.type == "cpu"
