"""Video classification models equal TorchVision's: TorchVision's random model (batch-norm statistics, norm
affines and biases perturbed so nothing is an identity) goes through a real ``torch.save`` file into the
visionlite builder with ``strict=True`` and gives the same logits on a real clip (an H.264 video the test
encodes and decodes with PyAV); weights enums and the VideoClassification preset equal TorchVision's."""
import math

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import models as vm

torch = require("torch")
tvm = require("torchvision.models")
av = require("av")

ALL = ["r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t", "swin3d_s", "swin3d_b"]
# name -> (frames, height, width) of the clip the default suite uses (small, where the model allows it).
# swin3d_t at 6x68x60: padded patches, windows shrunk to the map in time, padded and shifted in space.
FAST = {"r3d_18": (8, 48, 48), "mc3_18": (8, 48, 48), "r2plus1d_18": (8, 48, 48), "swin3d_t": (6, 68, 60)}
# The rest at their working sizes (S3D's final 2x7x7 pool needs >= 14 frames of >= 209x209).
SLOW = {"s3d": (14, 210, 210), "swin3d_t": (16, 224, 224), "swin3d_s": (16, 128, 128),
        "swin3d_b": (16, 128, 128), "mvit_v1_b": (16, 224, 224), "mvit_v2_s": (16, 224, 224)}


def _clip(frames, height, width, tmp_path):
    """A real clip: a moving photo crop encoded to H.264 by PyAV and decoded back, VideoClassification-
    normalised, ``(1, 3, T, H, W)`` float32."""
    import os

    from PIL import Image

    assets = os.path.join(os.path.dirname(__file__), "assets")
    photo = np.asarray(Image.open(os.path.join(assets, "astronaut.png")).convert("RGB")
                       .resize((width + 4 * frames, height + 2 * frames)))
    path = str(tmp_path / "clip.mp4")
    with av.open(path, "w") as box:
        stream = box.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            crop = np.ascontiguousarray(photo[2 * t : 2 * t + height, 4 * t : 4 * t + width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    with av.open(path) as box:
        decoded = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    assert len(decoded) == frames
    clip = np.stack(decoded).astype(np.float32) / 255.0  # (T, H, W, 3)
    mean = np.array([0.43216, 0.394666, 0.37645], np.float32)
    std = np.array([0.22803, 0.22145, 0.216989], np.float32)
    return ((clip - mean) / std).transpose(3, 0, 1, 2)[None].copy()


def _perturb(model, seed=1):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm3d)) and m.weight is not None:
                m.weight.copy_(rand(m.weight.shape) + 0.5)
                m.bias.copy_(rand(m.bias.shape) * 0.4 - 0.2)
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.copy_(rand(m.num_features) * 0.4 - 0.2)
                m.running_var.copy_(rand(m.num_features) + 0.5)
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv3d)) and m.bias is not None:
                m.bias.copy_(rand(m.bias.shape) * 0.2 - 0.1)
        for name, p in model.named_parameters():
            if "rel_pos" in name or "relative_position_bias_table" in name or "pos_embedding" in name:
                p.copy_(rand(p.shape) * 0.4 - 0.2)


def _twins(name, tmp_path, builder_kwargs=None, build=None):
    """TorchVision's perturbed model and ours loaded from its ``torch.save`` file."""
    torch.manual_seed(0)
    kwargs = builder_kwargs or {}
    theirs = (build(tvm.video) if build else tvm.get_model(name, **kwargs)).eval()
    _perturb(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = (build(vm.video) if build else vm.get_model(name, **kwargs)).eval()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in theirs_sd.items():
        assert tuple(ours_sd[key].shape) == tuple(value.shape), key
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _assert_same_logits(ours, theirs, x):
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with vl.no_grad():
        got = ours(vl.tensor(x)).numpy()
    assert got.shape == expected.shape
    assert expected.std() > 0.01  # the comparison means something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("name", list(FAST))
def test_logits_on_a_clip_match_torchvision(name, tmp_path):
    ours, theirs = _twins(name, tmp_path)
    _assert_same_logits(ours, theirs, _clip(*FAST[name], tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_logits_on_a_large_clip_match_torchvision(name, tmp_path):
    ours, theirs = _twins(name, tmp_path)
    _assert_same_logits(ours, theirs, _clip(*SLOW[name], tmp_path))


def _small_mvit(v2):
    """A 3-block MViT on 4x32x32 clips (2x8x8 tokens): pooled queries, keys/values and skip, channel growth,
    and V2's relative positions, pooled-query residual and projection after the attention (or V1's absolute
    positions and projection before it)."""
    def build(video):
        cfg = video.mvit.MSBlockConfig
        empty, k3 = [], [3, 3, 3]
        setting = [cfg(1, 16, 16, k3 if v2 else empty, k3, [1, 1, 1] if v2 else empty, [1, 4, 4]),
                   cfg(2, 16, 32, k3, k3, [1, 2, 2], [1, 2, 2]),
                   cfg(2, 32, 32, k3 if v2 else empty, k3, [1, 1, 1] if v2 else empty, [1, 1, 1])]
        return video.MViT(spatial_size=(32, 32), temporal_size=4, block_setting=setting, residual_pool=v2,
                          residual_with_cls_embed=False, rel_pos_embed=v2, proj_after_attn=v2, num_classes=10)
    return build


@pytest.mark.parametrize("v2", [False, True])
def test_small_mvit_on_a_clip_matches_torchvision(v2, tmp_path):
    ours, theirs = _twins(f"mvit_{v2}", tmp_path, build=_small_mvit(v2))
    _assert_same_logits(ours, theirs, _clip(4, 32, 32, tmp_path))


def test_mvit_names_the_size_it_was_built_for():
    model = _small_mvit(True)(vm.video).eval()
    with pytest.raises(ValueError, match=r"built for \[2, 8, 8\].*spatial_size"):
        model(vl.zeros(1, 3, 4, 48, 48))


def test_s3d_features_and_head_on_a_small_clip_match_torchvision(tmp_path):
    # The full S3D needs a 14x210x210 clip (slow test above); every layer but the fixed-size pool runs here.
    ours, theirs = _twins("s3d", tmp_path)
    x = _clip(8, 64, 64, tmp_path)
    with torch.no_grad():
        expected = theirs.classifier(theirs.features(torch.from_numpy(x))).mean(dim=(2, 3, 4)).numpy()
    with vl.no_grad():
        got = ours.classifier(ours.features(vl.tensor(x))).mean(dim=(2, 3, 4)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow  # ~10 s of float64 convolutions; the default suite checks each 3-D layer's gradients
def test_training_gradients_match_torchvision():
    # R(2+1)D mixes every convolution shape of the family (1x7x7, 3x1x1, 1x3x3, strided 1x1x1). Training mode
    # (batch statistics) over a 2-clip batch whose last stage holds 2 positions per channel: batch norm there
    # amplifies float32 rounding, so the comparison runs in float64, where it can be strict.
    from tests.helpers.nn_check import compare_modules

    def build(video):  # R(2+1)D with one block per stage
        r = video.resnet
        return r.VideoResNet(r.BasicBlock, [r.Conv2Plus1D] * 4, [1, 1, 1, 1], r.R2Plus1dStem, num_classes=10)

    torch.manual_seed(0)
    theirs, ours = build(tvm.video).double().train(), build(vm.video).double().train()
    ours.load_state_dict({k: vl.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 16, 16))
    # gradients reach 1e4: atol 1e-6 is ~1e-10 of their scale
    compare_modules(ours, theirs, [x], atol=1e-9, rtol=1e-7, grad_atol=1e-6, grad_rtol=1e-6)
    for key, value in theirs.state_dict().items():  # the running statistics moved alike
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_weights_enum_equals_torchvision(name):
    ours, theirs = vm.get_model_weights(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__
    assert list(ours.__members__) == list(theirs.__members__)
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for member in theirs:
        mine = ours[member.name]
        assert mine.url == member.url
        assert {k: str(v) for k, v in mine.transforms.keywords.items()} == \
            {k: str(v) for k, v in member.transforms.keywords.items()}
        assert {k: mine.meta[k] for k in member.meta if k != "_docs"} == \
            {k: v for k, v in member.meta.items() if k != "_docs"}
    assert getattr(vm.video, theirs.__name__) is ours
    assert name in vm.list_models(vm.video)


@pytest.mark.parametrize("name", ["r3d_18", "s3d"])
def test_parameter_count_matches_registry(name):
    model = vm.get_model(name)
    assert sum(math.prod(p.shape) for p in model.parameters()) == \
        vm.get_model_weights(name).DEFAULT.meta["num_params"]


def test_preset_transform_gives_torchvision_tensor():
    frames = np.random.default_rng(0).integers(0, 256, (2, 4, 3, 150, 200), dtype=np.uint8)
    expected = tvm.video.R3D_18_Weights.DEFAULT.transforms()(torch.from_numpy(frames)).numpy()
    got = vm.video.R3D_18_Weights.DEFAULT.transforms()(vl.tensor(frames)).numpy()
    assert got.shape == expected.shape == (2, 3, 4, 112, 112)
    # uint8 resampling on both sides: a few values in 10^5 land on the other side of a rounding tie (one
    # level: 1/255/std after normalising); every other value is equal.
    diff = np.abs(got - expected)
    assert diff.max() <= 1 / 255 / 0.216989 + 1e-5
    assert np.mean(diff > 1e-4) < 1e-4


@pytest.mark.parametrize("name, head", [("s3d", "classifier.1"), ("swin3d_t", "head")])  # Conv3d, Linear
def test_finetuning_helpers_find_and_replace_the_head(name, head):
    model = vm.get_model(name)
    assert vm.get_head(model) == head
    new = vm.replace_head(model, 7)
    assert dict(model.named_modules())[head] is new
    assert tuple(new.weight.shape)[0] == 7
