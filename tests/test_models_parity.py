"""Every model equals TorchVision's: same state-dict keys and shapes, and the same eval-mode logits (to 1e-4
relative) when given TorchVision's random weights through a real ``torch.save`` file."""
import math

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as vm

torch = require("torch")
tvm = require("torchvision.models")

# (model, input size): small inputs keep the suite fast where the architecture allows.
FAST = [
    ("resnet18", 64), ("resnet50", 64), ("squeezenet1_0", 64), ("squeezenet1_1", 64), ("mobilenet_v2", 64),
    ("mobilenet_v3_small", 64), ("mobilenet_v3_large", 64),
]
# Big models (AlexNet and VGG hold 61-144M parameters) and deep ones; ResNeXt's grouped convolutions are
# also covered by the always-on builder-argument test below.
SLOW = [
    ("alexnet", 63), ("resnext50_32x4d", 64), ("resnet34", 64), ("resnet101", 64), ("resnet152", 64),
    ("resnext101_32x8d", 64), ("resnext101_64x4d", 64), ("wide_resnet50_2", 64), ("wide_resnet101_2", 64),
    ("vgg11", 32), ("vgg11_bn", 32), ("vgg13", 32), ("vgg13_bn", 32), ("vgg16", 32), ("vgg16_bn", 32),
    ("vgg19", 32), ("vgg19_bn", 32),
]
CASES = FAST + [pytest.param(name, size, marks=pytest.mark.slow) for name, size in SLOW]


def _randomise_norms(model):
    """TorchVision initialises BatchNorm to the identity; random statistics make eval-mode BN matter."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)


def _numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


@pytest.mark.parametrize("name,size", CASES)
def test_logits_match_torchvision(name, size, tmp_path):
    torch.manual_seed(0)
    theirs = tvm.get_model(name).eval()
    _randomise_norms(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)

    ours = vm.get_model(name).eval()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in theirs_sd.items():
        assert tuple(ours_sd[key].shape) == tuple(value.shape), key
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys

    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = _numpy(ours(vl.tensor(x)))
    assert got.shape == expected.shape == (2, 1000)
    assert expected.std() > 0  # the comparison means something
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "squeezenet1_1"])
def test_parameter_count_matches_registry(name):
    model = vm.get_model(name)
    count = sum(math.prod(p.shape) for p in model.parameters())
    assert count == vm.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.parametrize("name,kwargs", [
    ("resnet18", {"num_classes": 7, "zero_init_residual": True}),
    ("resnext50_32x4d", {"replace_stride_with_dilation": [False, True, True], "num_classes": 10}),
    ("mobilenet_v2", {"width_mult": 0.5, "num_classes": 5}),
    ("mobilenet_v3_large", {"reduced_tail": True, "dilated": True, "num_classes": 3}),
    ("squeezenet1_0", {"num_classes": 4}),
])
def test_builder_arguments_as_torchvision(name, kwargs, tmp_path):
    torch.manual_seed(0)
    theirs = tvm.get_model(name, **kwargs).eval()
    _randomise_norms(theirs)
    ours = vm.get_model(name, **kwargs).eval()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    path = tmp_path / "w.pth"
    torch.save(theirs.state_dict(), path)
    ours.load_state_dict(vl.load(path))
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = _numpy(ours(vl.tensor(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_zero_init_residual_zeroes_last_bn():
    model = vm.resnet18(zero_init_residual=True)
    assert float(model.layer1[0].bn2.weight.abs().sum().item()) == 0.0
    assert float(model.layer1[0].bn1.weight.abs().sum().item()) > 0.0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="1_0 or 1_1"):
        vm.SqueezeNet("2_0")
    with pytest.raises(ValueError, match="3-element"):
        vm.resnet18(replace_stride_with_dilation=[True])
    with pytest.raises(NotImplementedError, match="Dilation"):
        vm.resnet18(replace_stride_with_dilation=[False, False, True])
