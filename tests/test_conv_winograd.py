"""Winograd F(m x m, 3x3) convolutions (core/ops/conv_winograd.py): the transform matrices compute exact
1-D correlations, conv2d's forward, input and weight gradients (all three by Winograd) equal PyTorch's
(odd sizes, every padding up to 2, batch 1 row bands, one and two threads), float32 rounding stays
within a fixed multiple of the direct convolution's, and the path is chosen only where it applies."""

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.ops import conv, conv_winograd, weight_cache


@pytest.fixture
def anywhere(monkeypatch):
    """Winograd on every shape it can compute (no tile-count or waste limits), counting its calls."""
    monkeypatch.setattr(conv_winograd, "_MIN_TILES", 1)
    monkeypatch.setattr(conv_winograd, "_MIN_TILES_CACHED", 1)
    monkeypatch.setattr(conv_winograd, "_MAX_WASTE", {4: 100.0, 2: 100.0})
    calls = []
    real = conv_winograd.correlate
    monkeypatch.setattr(conv_winograd, "correlate", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    real_wgrad = conv_winograd.weight_grad
    monkeypatch.setattr(conv_winograd, "weight_grad", lambda *a: calls.append(f"w{a[3]}") or real_wgrad(*a))
    return calls


def helper_test_conv(monkeypatch, tile, shape_x, out_channels, padding, bias=True):
    """conv2d forward and the gradients of input, weight and bias through F(tile x tile) vs torch."""
    torch = require("torch")
    monkeypatch.setattr(conv_winograd, "FORCED_TILE", tile)
    rng = np.random.default_rng(sum(shape_x) + out_channels)
    x = rng.standard_normal(shape_x).astype(np.float32)
    w = (rng.standard_normal((out_channels, shape_x[1], 3, 3)) / np.sqrt(9 * shape_x[1])).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32) if bias else None
    ours = [vl.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    torch_pad = padding
    if isinstance(padding, tuple) and len(padding) == 4:  # (left, right, top, bottom) as F.pad spells it
        theirs_x = torch.nn.functional.pad(theirs[0], padding)
        y_ref = torch.nn.functional.conv2d(theirs_x, *theirs[1:])
        ours_x = vl.nn.functional.pad(ours[0], padding)
        torch_pad = 0
    else:
        y_ref = torch.nn.functional.conv2d(theirs[0], *theirs[1:], padding=torch_pad)
        ours_x = ours[0]
    y = vl.nn.functional.conv2d(ours_x, *ours[1:], padding=torch_pad)
    g = rng.standard_normal(tuple(y_ref.shape)).astype(np.float32)
    y_ref.backward(torch.tensor(g))
    y.backward(vl.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), rtol=1e-4, atol=5e-5)
    for a, r in zip(ours, theirs):
        scale = float(np.abs(r.grad.numpy()).max())
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-4, atol=2e-5 * max(scale, 1.0))


CASES = [
    ((2, 16, 16, 16), 16, 1),
    ((2, 16, 17, 13), 24, 1),  # odd sizes: partial tiles on both axes
    ((3, 16, 9, 22), 16, 2),
    ((4, 32, 12, 12), 16, 0),
    ((1, 20, 31, 33), 17, 1),
    ((2, 16, 10, 11), 16, (1, 2)),
]


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("shape_x,out_channels,padding", CASES, ids=[str(c[0]) + str(c[2]) for c in CASES])
def test_conv_matches_torch(monkeypatch, anywhere, threads, tile, shape_x, out_channels, padding):
    helper_test_conv(monkeypatch, tile, shape_x, out_channels, padding)
    assert anywhere == [tile, tile, f"w{tile}"]  # forward, input and weight gradients on F(tile x tile)


@pytest.mark.parametrize("tile", [2, 4])
def test_asymmetric_padding_and_no_bias(monkeypatch, anywhere, tile):
    helper_test_conv(monkeypatch, tile, (2, 16, 11, 14), 16, (0, 2, 1, 0), bias=False)
    assert anywhere  # the pad op's output goes through the Winograd path too


@pytest.mark.parametrize("tile", [2, 4])
def test_row_bands_of_one_image(monkeypatch, anywhere, threads, tile):
    """A chunk budget of a few tile rows cuts a single image into bands (batch 1 on big maps)."""
    monkeypatch.setattr(conv_winograd, "_CHUNK_BYTES", 16 * 6 * 36 * 4)  # 1 or 2 tile rows of 16 channels
    monkeypatch.setattr(conv_winograd, "_MIN_CHUNK_TILES", 1)
    monkeypatch.setattr(conv_winograd, "_MIN_WGRAD_TILES", 1)
    th, tw = conv_winograd.tiles((40, 24), tile)
    assert len(conv_winograd._work_items(1, th, tw, 16, tile + 2, 4)) >= th // 2
    helper_test_conv(monkeypatch, tile, (1, 16, 40, 24), 16, 1)
    assert anywhere == [tile, tile, f"w{tile}"]


@pytest.mark.parametrize("m", [2, 4])
def test_toom_cook_matrices_compute_exact_1d_correlations(m):
    bt, g, at = conv_winograd._toom_cook(m)
    rng = np.random.default_rng(m)
    d, k = rng.standard_normal(m + 2), rng.standard_normal(3)
    expected = np.array([d[i:i + 3] @ k for i in range(m)])
    np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4])
def test_float32_rounding_stays_near_the_direct_convolution(monkeypatch, m):
    """Deep channels (C=256): Winograd's float32 error against a float64 reference stays within 30x
    (F4) / 3x (F2) of the direct convolution's, relative to the output's scale."""
    torch = require("torch")
    monkeypatch.setattr(conv_winograd, "FORCED_TILE", m)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 256, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((64, 256, 3, 3)) / 48).astype(np.float32)
    f64 = torch.float64
    tconv = torch.nn.functional.conv2d
    ref = tconv(torch.tensor(x, dtype=f64), torch.tensor(w, dtype=f64), padding=1).numpy()
    direct = tconv(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    ours = vl.nn.functional.conv2d(vl.tensor(x), vl.tensor(w), padding=1).numpy()
    scale = np.abs(ref).max()
    direct_err = np.sqrt(np.mean((direct - ref) ** 2)) / scale
    ours_err = np.sqrt(np.mean((ours - ref) ** 2)) / scale
    assert ours_err < (30 if m == 4 else 3) * direct_err, (ours_err, direct_err)


def _geom(n, c, hw, o, stride=1, pad=1, groups=1, dilation=1):
    return conv.ConvGeometry(n, c, (hw, hw), (o, c // groups, 3, 3), groups, (stride, stride), (pad,) * 4,
                             (dilation, dilation))


def test_choose_picks_tiles_where_they_pay():
    x32 = np.zeros((1, 1, 1, 1), np.float32)
    assert conv_winograd.choose(x32, (64, 64, 3, 3), _geom(16, 64, 56, 64)) == 4  # 56 = 14 whole tiles of 4
    assert conv_winograd.choose(x32, (256, 256, 3, 3), _geom(16, 256, 14, 256)) == 2  # 14x14: F4 wastes 31%
    assert conv_winograd.choose(x32, (512, 512, 3, 3), _geom(1, 512, 7, 512)) == 0  # 16 tiles: too few
    assert conv_winograd.choose(x32, (512, 512, 3, 3), _geom(1, 512, 7, 512), cached=True) == 0  # 16: direct
    assert conv_winograd.choose(x32, (512, 512, 3, 3), _geom(2, 512, 7, 512), cached=True) == 2  # 32, cached
    assert conv_winograd.choose(x32, (256, 256, 3, 3), _geom(1, 256, 14, 256), cached=True) == 2
    assert conv_winograd.choose(x32, (128, 128, 3, 3), _geom(1, 128, 28, 128), cached=True) == 4
    assert conv_winograd.choose(np.zeros((1, 1, 1, 1)), (64, 64, 3, 3), _geom(16, 64, 56, 64)) == 0  # float64
    assert conv_winograd.choose(x32, (64, 64, 3, 3), _geom(16, 64, 56, 64, stride=2)) == 0
    assert conv_winograd.choose(x32, (64, 64, 3, 3), _geom(16, 64, 56, 64, dilation=2, pad=2)) == 0
    assert conv_winograd.choose(x32, (64, 32, 3, 3), _geom(16, 64, 56, 64, groups=2)) == 0
    assert conv_winograd.choose(x32, (64, 8, 3, 3), _geom(16, 8, 56, 64)) == 0  # shallow input
    assert conv_winograd.choose(x32, (64, 64, 3, 3), _geom(16, 64, 56, 64, pad=3)) == 0
    assert conv_winograd.choose(x32, (64, 64, 3, 3, 3), _geom(16, 64, 56, 64)) == 0  # 3-D kernels


def test_switch_turns_the_path_off(monkeypatch, anywhere):
    monkeypatch.setattr(conv_winograd, "ENABLED", False)
    x = vl.randn(2, 16, 16, 16)
    w = vl.randn(16, 16, 3, 3)
    vl.nn.functional.conv2d(x, w, padding=1)
    assert anywhere == []


def test_eval_model_uses_winograd_and_keeps_no_planes(monkeypatch, anywhere):
    """No autograd recording: the forward skips the phase planes it would only save for backward."""
    split_calls = []
    real_split = conv.ConvGeometry.split
    monkeypatch.setattr(conv.ConvGeometry, "split", lambda g, x: split_calls.append(1) or real_split(g, x))
    x = vl.randn(2, 16, 16, 16)
    w = vl.randn(16, 16, 3, 3, requires_grad=True)
    with vl.no_grad():
        vl.nn.functional.conv2d(x, w, padding=1)
    assert anywhere and not split_calls
    y = vl.nn.functional.conv2d(x, w, padding=1)  # recording with a weight gradient: planes kept
    assert split_calls
    y.sum().backward()
    assert w.grad is not None


def test_fixed_weights_keep_their_transform_until_changed(monkeypatch, anywhere):
    """Under no_grad the transformed kernels are cached per weight; in-place changes (tracked by the
    version counter, or whole-array writes through ``.data``) rebuild them, and results stay right."""
    torch = require("torch")
    monkeypatch.setattr(weight_cache, "_ENTRIES", type(weight_cache._ENTRIES)())
    built = []
    real = conv_winograd.transform_weights
    monkeypatch.setattr(conv_winograd, "transform_weights", lambda w, m: built.append(m) or real(w, m))
    rng = np.random.default_rng(3)
    x = vl.tensor(rng.standard_normal((2, 16, 12, 12)).astype(np.float32))
    w = vl.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)

    def check():
        ref = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.detach().numpy()), padding=1)
        with vl.no_grad():
            y = vl.nn.functional.conv2d(x, w, padding=1)
        np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-4, atol=3e-5 * float(ref.abs().max()))

    check()
    check()
    assert len(built) == 1
    with vl.no_grad():
        w.mul_(0.5)  # an optimizer-style in-place step: the version moves
    check()
    assert len(built) == 2
    w.data.copy_(vl.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32)))  # bypasses versions
    check()
    assert len(built) == 3
    y = vl.nn.functional.conv2d(x, w, padding=1)  # recording a weight gradient: nothing cached
    y.sum().backward()
    assert len(built) == 4 and len(weight_cache._ENTRIES) == 1  # the forward transformed anew, not cached


def test_kernel_cache_is_bounded(monkeypatch, anywhere):
    monkeypatch.setattr(weight_cache, "_ENTRIES", type(weight_cache._ENTRIES)())
    monkeypatch.setattr(conv_winograd, "FORCED_TILE", 4)
    monkeypatch.setattr(weight_cache, "_MAX_BYTES", 2 * 36 * 16 * 16 * 4)  # two F(4x4) kernels
    x = vl.randn(1, 16, 8, 8)
    weights = [vl.randn(16, 16, 3, 3) for _ in range(5)]
    with vl.no_grad():
        for w in weights:
            vl.nn.functional.conv2d(x, w, padding=1)
    assert len(weight_cache._ENTRIES) == 2
    del weights, w
    assert len(weight_cache._ENTRIES) == 0  # dead weights' kernels are dropped, not kept until evicted


def test_a_single_chunk_splits_its_products_across_threads(monkeypatch, anywhere):
    """Batch 1 on a small map is one chunk: its per-position GEMMs are split across two threads."""
    torch = require("torch")
    before = vl.get_num_threads()
    vl.set_num_threads(2)
    parts = []
    real = conv_winograd.split_map
    monkeypatch.setattr(conv_winograd, "split_map", lambda fn, n, *a: parts.append(n) or real(fn, n, *a))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 7, 7)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32) / 24
    try:
        with vl.no_grad():
            y = vl.nn.functional.conv2d(vl.tensor(x), vl.tensor(w), padding=1)
    finally:
        vl.set_num_threads(before)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=3e-5 * float(np.abs(ref).max()))
    assert anywhere and (36 in parts or 16 in parts)  # the t^2 positions were the split's unit


def test_kernel_cache_under_concurrent_inference(monkeypatch, anywhere):
    """Several Python threads running eval convolutions (their own weights, made and dropped) share the
    cache without errors, and each result matches its own weights."""
    import threading

    monkeypatch.setattr(weight_cache, "_ENTRIES", type(weight_cache._ENTRIES)())
    monkeypatch.setattr(weight_cache, "_MAX_BYTES", 4 * 36 * 16 * 16 * 4)
    geom = conv.ConvGeometry(1, 16, (12, 12), (16, 16, 3, 3), 1, (1, 1), (1,) * 4, (1, 1))
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
        try:
            for _ in range(20):
                w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32) / 12
                with vl.no_grad():
                    y = vl.nn.functional.conv2d(vl.tensor(x), vl.tensor(w), padding=1).numpy()
                direct = conv.conv_forward(x.astype(np.float64), w.astype(np.float64), None, geom)[0]
                np.testing.assert_allclose(y, direct, rtol=1e-4, atol=1e-4)
        except Exception as e:  # noqa: BLE001 - reported below with the thread's seed
            errors.append((seed, e))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert anywhere  # the threads went through Winograd
