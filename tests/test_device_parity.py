"""The same layers, losses, models and training steps on the GPU agree with the CPU.

These run only where cupy sees a GPU (the ``gpu`` fixture); elsewhere they are skipped, visibly, since
comparing the CPU with itself would check nothing.
"""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn, optim


def _run(device, build, inputs, seed=0):
    """Forward and backward of ``build()`` on ``device``: the output and every parameter/input gradient."""
    vl.manual_seed(seed)
    model = build()
    model = model.to(device) if isinstance(model, nn.Module) else model
    xs = [vl.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in inputs]
    out = model(*xs)
    (out * vl.linspace(0.5, 1.5, out.numel(), device=device).reshape(out.shape)).sum().backward()
    grads = [x.grad.cpu().numpy() for x in xs if x.requires_grad]
    if isinstance(model, nn.Module):
        grads += [p.grad.cpu().numpy() for p in model.parameters() if p.grad is not None]
    return out.detach().cpu().numpy(), grads


def _check(device, build, inputs, rtol=1e-4, atol=1e-5):
    ref_out, ref_grads = _run("cpu", build, inputs)
    out, grads = _run(device, build, inputs)
    np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=atol)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=rtol * 10, atol=atol * 10)


RNG = np.random.default_rng(0)
IMG = RNG.standard_normal((2, 4, 9, 9)).astype(np.float32)

LAYERS = {
    "conv3x3": lambda: nn.Conv2d(4, 6, 3, padding=1),
    "conv_stride_dilation": lambda: nn.Conv2d(4, 6, 3, stride=2, dilation=2, padding=2, bias=False),
    "conv_depthwise": lambda: nn.Conv2d(4, 4, 3, groups=4, padding=1),
    "conv_1x1": lambda: nn.Conv2d(4, 8, 1),
    "conv_transpose": lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
    "maxpool": lambda: nn.MaxPool2d(3, 2, ceil_mode=True),
    "avgpool": lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
    "adaptive_avg": lambda: nn.AdaptiveAvgPool2d((2, 3)),
    "batchnorm_train": lambda: nn.BatchNorm2d(4),
    "groupnorm": lambda: nn.GroupNorm(2, 4),
    "layernorm": lambda: nn.LayerNorm([9, 9]),
    "upsample_bilinear": lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    "block": lambda: nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5), nn.GELU()),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_cpu(gpu, name):
    _check(gpu, LAYERS[name], [IMG])


CLIP = RNG.standard_normal((2, 4, 5, 7, 7)).astype(np.float32)
LAYERS_3D = {
    "conv3d": lambda: nn.Conv3d(4, 6, 3, stride=(2, 1, 1), padding=1),
    "conv3d_1x1x1": lambda: nn.Conv3d(4, 6, 1),
    "conv3d_depthwise": lambda: nn.Conv3d(4, 4, 3, padding=1, groups=4, bias=False),
    "conv_transpose3d": lambda: nn.ConvTranspose3d(4, 3, 3, stride=2, padding=1, output_padding=1),
    "maxpool3d": lambda: nn.MaxPool3d(3, 2, 1),
    "avgpool3d": lambda: nn.AvgPool3d((2, 3, 3), 2, count_include_pad=False),
    "adaptive_avg3d": lambda: nn.AdaptiveAvgPool3d((2, 3, 1)),
    "adaptive_max3d": lambda: nn.AdaptiveMaxPool3d((2, 3, 4)),
    "batchnorm3d_train": lambda: nn.BatchNorm3d(4),
}


@pytest.mark.parametrize("name", list(LAYERS_3D))
def test_3d_layer_matches_cpu(gpu, name):
    _check(gpu, LAYERS_3D[name], [CLIP])


def test_losses_match_cpu(gpu):
    logits = RNG.standard_normal((6, 5)).astype(np.float32)
    target = np.array([0, 4, 2, 2, 1, 3])
    _check(gpu, lambda: (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1)), [logits, target])
    _check(gpu, lambda: (lambda x: F.binary_cross_entropy_with_logits(x, (x > 0).float())), [logits])
    _check(gpu, lambda: (lambda x: F.mse_loss(x, x.detach() * 0.5) + F.smooth_l1_loss(x, x.detach() * 2)),
           [logits])


def test_resnet18_forward_and_training_step_match_cpu(gpu):
    from visionlite.models import resnet18

    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    target = np.array([1, 7])
    results = []
    for dev in ("cpu", gpu):
        vl.manual_seed(0)
        model = resnet18(num_classes=10).to(dev)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        xs, ts = vl.tensor(x, device=dev), vl.tensor(target, device=dev)
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(xs), ts)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with vl.no_grad():
            results.append((losses, model(xs).cpu().numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-4)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-3, atol=1e-4)


def test_state_dict_moves_between_devices(gpu):
    model = nn.Linear(3, 2).to(gpu)
    sd = model.state_dict()
    assert all(t.device == vl.device(gpu) for t in sd.values())
    cpu_model = nn.Linear(3, 2)
    cpu_model.load_state_dict(sd)
    np.testing.assert_allclose(cpu_model.weight.detach().numpy(), model.weight.detach().cpu().numpy())
