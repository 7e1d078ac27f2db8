"""RAFT (visionlite.models.optical_flow) equals TorchVision's: state-dict keys, every flow prediction given
the same weights through a real ``torch.save`` file, float64 training gradients, the correlation block alone
(both lookup paths), the weights enums and preset, and the input checks."""
import os

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.models import optical_flow as vof

torch = require("torch")
tvof = require("torchvision.models.optical_flow")

ASSETS = os.path.join(os.path.dirname(__file__), "assets")


def _frames(h, w, shift=(3, 5), batch=1):
    """A real photo pair: two crops of one picture offset by ``shift`` (dy, dx) pixels, in [-1, 1]."""
    from PIL import Image

    img = np.asarray(Image.open(os.path.join(ASSETS, "astronaut.png")).convert("RGB"), dtype=np.float32)
    img = img / 127.5 - 1
    frames = []
    for b in range(batch):
        y, x = 8 + 17 * b, 4 + 3 * b
        one = img[y:y + h, x:x + w]
        two = img[y + shift[0]:y + shift[0] + h, x + shift[1]:x + shift[1] + w]
        frames.append((one.transpose(2, 0, 1), two.transpose(2, 0, 1)))
    return (np.ascontiguousarray(np.stack([f[0] for f in frames])),
            np.ascontiguousarray(np.stack([f[1] for f in frames])))


def _randomise_norms(model):
    # TorchVision initialises BatchNorm to the identity; random statistics make eval-mode BN matter.
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)


def _pair(name, tmp_path):
    """TorchVision's randomly initialised model and ours loaded from its ``torch.save`` file."""
    torch.manual_seed(0)
    theirs = getattr(tvof, name)().eval()
    _randomise_norms(theirs)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = getattr(vof, name)().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(ours.state_dict()[key].shape) == tuple(value.shape), key
    result = ours.load_state_dict(vl.load(path), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _assert_flows_close(got, expected, rtol=1e-4):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g, e = g.detach().numpy(), e.detach().numpy()
        assert g.shape == e.shape
        scale = np.abs(e).max()
        assert scale > 0.1  # a real flow field, not zeros
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scale)


def _run_both(ours, theirs, size, updates, batch=1):
    a, b = _frames(*size, batch=batch)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(a), torch.from_numpy(b), num_flow_updates=updates)
    with vl.no_grad():
        got = ours(vl.tensor(a), vl.tensor(b), num_flow_updates=updates)
    return got, expected


@pytest.mark.parametrize("name,updates", [("raft_small", 4), ("raft_large", 3)])
def test_flow_predictions_match_torchvision(name, updates, tmp_path):
    ours, theirs = _pair(name, tmp_path)
    got, expected = _run_both(ours, theirs, (128, 160), updates)
    assert len(got) == updates and tuple(got[0].shape) == (1, 2, 128, 160)
    _assert_flows_close(got, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["raft_small", "raft_large"])
def test_full_size_default_updates_match_torchvision(name, tmp_path):
    # The benchmark's size, twelve updates (the default), a batch of two.
    ours, theirs = _pair(name, tmp_path)
    a, b = _frames(368, 496, batch=2)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(a), torch.from_numpy(b))
    with vl.no_grad():
        got = ours(vl.tensor(a), vl.tensor(b))
    assert len(got) == 12
    _assert_flows_close(got, expected)


def _sequence_loss(flows, target, gamma=0.8):
    # RAFT's training loss: later predictions weigh more.
    n = len(flows)
    return sum(gamma ** (n - i - 1) * (f - target).abs().mean() for i, f in enumerate(flows))


@pytest.mark.parametrize("name", ["raft_small", pytest.param("raft_large", marks=pytest.mark.slow)])
def test_training_gradients_match_torch_float64(name, tmp_path, monkeypatch):
    # TorchVision's RAFT builds its pixel grid in float32, which its float64 grid_sample refuses; the
    # reference gets the same (integer-valued) grid in float64.
    grid = tvof.raft.make_coords_grid
    monkeypatch.setattr(tvof.raft, "make_coords_grid", lambda *args, **kw: grid(*args, **kw).double())
    ours, theirs = _pair(name, tmp_path)
    ours.train().double()
    theirs.train().double()
    a, b = (x.astype(np.float64) for x in _frames(128, 128))
    target = np.random.default_rng(0).standard_normal((1, 2, 128, 128)) * 2
    t_loss = _sequence_loss(theirs(torch.from_numpy(a), torch.from_numpy(b), num_flow_updates=2),
                            torch.from_numpy(target))
    t_loss.backward()
    o_loss = _sequence_loss(ours(vl.tensor(a), vl.tensor(b), num_flow_updates=2), vl.tensor(target))
    o_loss.backward()
    np.testing.assert_allclose(o_loss.item(), t_loss.item(), rtol=1e-9)
    t_params = dict(theirs.named_parameters())
    # Biases right before an instance norm get zero gradient up to rounding: the tolerance floor comes from
    # the largest gradient of the whole model.
    floor = 1e-9 * max(p.grad.abs().max().item() for p in theirs.parameters())
    checked = 0
    for key, p in ours.named_parameters():
        expected = t_params[key].grad
        assert p.grad is not None and expected is not None, key
        expected = expected.numpy()
        scale = np.abs(expected).max()
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-6, atol=max(1e-7 * scale, floor),
                                   err_msg=key)
        checked += 1
    assert checked == len(t_params)
    # Train-mode BatchNorm updated the same running statistics.
    for key, value in theirs.state_dict().items():
        if "running" in key:
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-9, err_msg=key)


@pytest.mark.parametrize("radius", [3, 4])
def test_corr_block_lookup_both_paths_match_torchvision(radius):
    # Positions inside, on the border and far outside the maps; float64 so the two paths agree tightly.
    rng = np.random.default_rng(radius)
    f1, f2 = rng.standard_normal((2, 2, 8, 16, 24))
    coords = rng.uniform(-6, 30, (2, 2, 16, 24))
    coords[0, :, 0, :4] = [[-40.0, 0.0, 23.0, 100.0], [3.0, -30.0, 15.0, 7.5]]
    theirs = tvof.raft.CorrBlock(num_levels=4, radius=radius)
    theirs.build_pyramid(torch.from_numpy(f1), torch.from_numpy(f2))
    tc = torch.from_numpy(coords).requires_grad_(True)
    expected = theirs.index_pyramid(tc)
    weights = np.random.default_rng(9).standard_normal(tuple(expected.shape))
    (expected * torch.from_numpy(weights)).sum().backward()

    ours = vof.raft.CorrBlock(num_levels=4, radius=radius)
    a, b = vl.tensor(f1, requires_grad=True), vl.tensor(f2, requires_grad=True)
    ours.build_pyramid(a, b)
    fast = ours.index_pyramid(vl.tensor(coords))  # detached positions: the windowed read
    np.testing.assert_allclose(fast.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    # Gradients reach the feature maps through the windowed read.
    fa, fb = torch.from_numpy(f1).requires_grad_(True), torch.from_numpy(f2).requires_grad_(True)
    ref = tvof.raft.CorrBlock(num_levels=4, radius=radius)
    ref.build_pyramid(fa, fb)
    (ref.index_pyramid(torch.from_numpy(coords)) * torch.from_numpy(weights)).sum().backward()
    (fast * vl.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), fa.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.grad.numpy(), fb.grad.numpy(), rtol=1e-9, atol=1e-9)
    # Differentiable positions take grid_sample, with gradients to them as PyTorch's.
    ours.build_pyramid(vl.tensor(f1), vl.tensor(f2))
    oc = vl.tensor(coords, requires_grad=True)
    slow = ours.index_pyramid(oc)
    np.testing.assert_allclose(slow.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    (slow * vl.tensor(weights)).sum().backward()
    np.testing.assert_allclose(oc.grad.numpy(), tc.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_upsample_flow_matches_torchvision():
    from torchvision.models.optical_flow._utils import upsample_flow as tv_upsample

    rng = np.random.default_rng(0)
    flow = rng.standard_normal((2, 2, 5, 7))
    mask = rng.standard_normal((2, 8 * 8 * 9, 5, 7))
    for m in (None, mask):
        expected = tv_upsample(torch.from_numpy(flow), None if m is None else torch.from_numpy(m)).numpy()
        got = vof._utils.upsample_flow(vl.tensor(flow), None if m is None else vl.tensor(m)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_weights_enums_and_preset_match_torchvision():
    for ours, theirs in ((vof.Raft_Large_Weights, tvof.Raft_Large_Weights),
                         (vof.Raft_Small_Weights, tvof.Raft_Small_Weights)):
        assert list(ours.__members__) == list(theirs.__members__)
        assert ours.DEFAULT.name == theirs.DEFAULT.name
        for member in theirs:
            mine = ours[member.name]
            assert mine.url == member.url
            # _docs is stored dedented; visionlite adds _sha256_verified
            assert {k: v for k, v in mine.meta.items() if k not in ("_docs", "_sha256_verified")} == \
                {k: v for k, v in member.meta.items() if k != "_docs"}
    a, b = _frames(128, 128)
    u8 = [np.round((x[0] + 1) * 127.5).astype(np.uint8) for x in (a, b)]
    got = vof.Raft_Small_Weights.DEFAULT.transforms()(vl.tensor(u8[0]), vl.tensor(u8[1]))
    expected = tvof.Raft_Small_Weights.DEFAULT.transforms()(torch.from_numpy(u8[0]), torch.from_numpy(u8[1]))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-6)
    assert vof.raft_small(weights=None).__class__ is vof.RAFT


def test_parameter_counts_match_registry():
    for builder, enum in ((vof.raft_small, vof.Raft_Small_Weights), (vof.raft_large, vof.Raft_Large_Weights)):
        count = sum(p.numel() for p in builder().parameters())
        assert count == enum.DEFAULT.meta["num_params"]


def test_bad_inputs_raise_clear_errors():
    model = vof.raft_small().eval()
    with pytest.raises(ValueError, match="divisible by 8"):
        model(vl.zeros(1, 3, 128, 130), vl.zeros(1, 3, 128, 130))
    with pytest.raises(ValueError, match="same shape"):
        model(vl.zeros(1, 3, 128, 128), vl.zeros(1, 3, 128, 136))
    with pytest.raises(ValueError, match="at least 8 \\* 16 = 128"):
        model(vl.zeros(1, 3, 64, 128), vl.zeros(1, 3, 64, 128))
    with pytest.raises(TypeError, match="weights=Raft_Small_Weights.DEFAULT"):
        vof.raft_small(pretrained=True)
    with pytest.raises(ValueError, match="C_T_V1, C_T_V2"):
        vof.raft_small(weights="C_T_SKHT_V2")


def test_pretrained_weights_download_and_preset(local_http_server, monkeypatch, tmp_path):
    # The user path: weights= downloads a PyTorch-written checkpoint (served on 127.0.0.1, named with its
    # hash prefix as TorchVision names its files), the preset prepares uint8 frames, the flows match.
    import hashlib

    from visionlite import download as dl
    from visionlite import hub

    monkeypatch.setattr(dl, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("VISIONLITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VISIONLITE_OFFLINE", raising=False)
    monkeypatch.delenv("VISIONLITE_WEIGHTS_MIRROR", raising=False)
    torch.manual_seed(3)
    theirs = tvof.raft_small().eval()
    path = tmp_path / "raft.pth"
    torch.save(theirs.state_dict(), path)
    data = path.read_bytes()
    name = f"raft_small_C_T_V2-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    local_http_server.add_file(f"models/{name}", data)
    monkeypatch.setattr(vof.Raft_Small_Weights.C_T_V2.value, "url", local_http_server.url(f"models/{name}"))
    weights = vof.Raft_Small_Weights.DEFAULT
    ours = vof.raft_small(weights=weights, progress=False).eval()
    assert local_http_server.gets(f"models/{name}") == 1

    a, b = _frames(128, 128)
    u8 = [np.round((x[0] + 1) * 127.5).astype(np.uint8) for x in (a, b)]
    t1, t2 = tvof.Raft_Small_Weights.DEFAULT.transforms()(torch.from_numpy(u8[0]), torch.from_numpy(u8[1]))
    o1, o2 = weights.transforms()(vl.tensor(u8[0]), vl.tensor(u8[1]))
    with torch.no_grad():
        expected = theirs(t1[None], t2[None], num_flow_updates=3)
    with vl.no_grad():
        got = ours(o1[None], o2[None], num_flow_updates=3)
    _assert_flows_close(got, expected)
