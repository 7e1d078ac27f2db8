"""Module behaviour PyTorch scripts rely on: a reassigned child, parameter or buffer keeps its place
(state_dict order, ``children()`` slicing), and Dropout2d/Dropout3d on other ranks warn and proceed."""
import warnings

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")


class _Net:
    @staticmethod
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = lib.nn.Conv2d(3, 4, 3)
                self.bn = lib.nn.BatchNorm2d(4)
                self.pool = lib.nn.AdaptiveAvgPool2d(1)
                self.flat = lib.nn.Flatten()
                self.fc = lib.nn.Linear(4, 10)
                self.scale = lib.nn.Parameter(lib.ones(1))
                self.offset = lib.nn.Parameter(lib.zeros(1))
                self.register_buffer("a", lib.zeros(1))
                self.register_buffer("b", lib.zeros(1))

        return Net()


def _reassign(lib, net):
    net.conv1 = lib.nn.Conv2d(3, 4, 5)  # as in transfer learning: swap the stem...
    net.fc = lib.nn.Linear(4, 2)  # ...and the head
    net.scale = lib.nn.Parameter(lib.full((1,), 2.0))
    net.a = lib.ones(1)
    return net


def test_reassigned_children_parameters_buffers_keep_their_place():
    ours, theirs = _reassign(vl, _Net.build(vl)), _reassign(torch, _Net.build(torch))
    assert list(ours._modules) == list(theirs._modules)
    assert list(ours._parameters) == list(theirs._parameters)
    assert list(ours._buffers) == list(theirs._buffers)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # dropping the head keeps the backbone, as nn.Sequential(*list(model.children())[:-1]) expects
    backbone = nn.Sequential(*list(ours.children())[:-1])
    assert [type(m).__name__ for m in backbone] == ["Conv2d", "BatchNorm2d", "AdaptiveAvgPool2d", "Flatten"]
    assert backbone(vl.randn(1, 3, 8, 8)).shape == (1, 4)


def test_sequential_item_assignment_keeps_order():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    ours[0], theirs[0] = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    ours.add_module("1", nn.Tanh())
    theirs.add_module("1", torch.nn.Tanh())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def _caught(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(x.message) for x in w if issubclass(x.category, UserWarning)]


@pytest.mark.parametrize("layer,shape", [("Dropout2d", (4, 6)), ("Dropout2d", (2, 3, 5)),
                                         ("Dropout2d", (2, 3, 2, 2, 2)), ("Dropout3d", (3, 2, 2)),
                                         ("Dropout3d", (2, 3, 2, 2))])
def test_channel_dropout_other_ranks_warn_and_proceed_as_torch(layer, shape):
    x = np.ones(shape, np.float32)
    ours, our_warnings = _caught(lambda: getattr(nn, layer)(0.5)(vl.tensor(x)))
    theirs, their_warnings = _caught(lambda: getattr(torch.nn, layer)(0.5)(torch.tensor(x)))
    assert our_warnings == their_warnings
    assert ours.shape == tuple(theirs.shape)
    # the mask is constant over PyTorch's feature slices: dims past the first two (or the first, unbatched)
    lead = 2 if layer == "Dropout2d" or len(shape) == 5 else 1
    y = ours.numpy().reshape(int(np.prod(shape[:lead])), -1)
    assert np.all((y == 0).all(1) | (y == 2.0).all(1))


def test_channel_dropout_needs_two_dims_as_torch():
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        torch.nn.functional.dropout2d(torch.ones(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            vl.nn.functional.dropout2d(vl.ones(5))
