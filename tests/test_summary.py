"""visionlite.utils.summary: parameter counts and output shapes equal TorchVision's models', mult-adds equal
half the FLOPs torch.utils.flop_counter counts for the same model and input (convolutions, linear layers,
attention)."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn
from visionlite.utils import summary


def _torch_reference(tv_model, shape):
    """``(MACs, {module name: output shape})`` of a TorchVision model, measured by torch itself."""
    torch = require("torch")
    from torch.utils.flop_counter import FlopCounterMode

    shapes, handles = {}, []

    def record(module, inputs, output, name):
        shapes.setdefault(name, list(output.shape) if hasattr(output, "shape") else None)

    for name, module in tv_model.named_modules():
        if name:
            handles.append(module.register_forward_hook(lambda m, i, o, name=name: record(m, i, o, name)))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        tv_model(torch.zeros(*shape))
    for h in handles:
        h.remove()
    return counter.get_total_flops() // 2, shapes


CASES = {
    "resnet18": ((1, 3, 64, 64), {}),
    "mobilenet_v3_small": ((2, 3, 64, 64), {}),
    "efficientnet_b0": ((1, 3, 64, 64), {}),
    "vit": ((2, 3, 32, 32), dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                   mlp_dim=64)),
}


def _build(lib, name, kwargs):
    if name == "vit":
        return lib.VisionTransformer(**kwargs)
    return getattr(lib, name)(**kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_counts_shapes_and_mult_adds_match_torch(name):
    tvm = require("torchvision.models")
    import visionlite.models as vm

    shape, kwargs = CASES[name]
    tv_model = _build(tvm, name, kwargs)
    tv_model.train(name == "vit")  # eval ViT takes torch's fused attention path, which FlopCounter skips
    macs, tv_shapes = _torch_reference(tv_model, shape)
    model = _build(vm, name, kwargs).train(name == "vit")
    result = summary(model, shape, verbose=0, depth=10)

    assert result.total_params == sum(p.numel() for p in tv_model.parameters())
    assert result.trainable_params == result.total_params
    # torch's counter skips the CPU attention kernel: the two products (Q K^T, A V) are added by hand.
    attention = 0
    if name == "vit":
        n, tokens = shape[0], (32 // 8) ** 2 + 1
        attention = kwargs["num_layers"] * 2 * n * tokens * tokens * kwargs["hidden_dim"]
    assert result.total_mult_adds == macs + attention
    seen = {row.name: row.output_shape for row in result.layers}
    compared = [n for n, s in tv_shapes.items() if s is not None and n in seen]
    assert len(compared) > 10
    for n in compared:
        assert seen[n] == tv_shapes[n], n
    float_bytes = sum(np.prod(r.output_shape) * 4 for r in result.layers
                      if r.is_leaf and r.output_shape and isinstance(r.output_shape[0], int))
    assert result.activation_bytes == float_bytes


def test_table_frozen_params_and_folding(capsys):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, groups=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Sequential(nn.Flatten(), nn.Linear(8 * 6 * 6, 5)))
    for p in model[0].parameters():
        p.requires_grad_(False)
    result = summary(model, input_data=vl.zeros(4, 3, 8, 8), depth=1)
    text = capsys.readouterr().out
    assert str(result) in text
    assert result.non_trainable_params == 8 * 3 * 9 + 8
    conv_macs = 4 * 8 * 6 * 6 * 3 * 9
    linear_macs = 4 * 8 * 6 * 6 * 5
    assert result.total_mult_adds == conv_macs + linear_macs
    rows = text.splitlines()
    assert any("Sequential: 1-4" in r and f"{linear_macs:,}" in r for r in rows)  # depth 1 folds the Linear
    assert not any("Linear" in r for r in rows)
    assert f"Total params: {result.total_params:,}" in text


def test_grouped_and_transposed_convolutions():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, padding=1), nn.ConvTranspose2d(8, 2, 2, stride=2))
    result = summary(model, (1, 4, 5, 5), verbose=0)
    assert result.total_mult_adds == 8 * 2 * 9 * 25 + 8 * 2 * 4 * 25


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Linear(2, 2), verbose=0)
    with pytest.raises(ValueError, match="col_names"):
        summary(nn.Linear(2, 2), (1, 2), col_names=("flops",), verbose=0)
