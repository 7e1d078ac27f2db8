"""Less common torch.nn.functional functions against PyTorch (forward and backward) and float64 gradchecks:
pad's keyword names, normalize, cosine_similarity, pairwise_distance, pixel_(un)shuffle, unfold/fold,
affine_grid, grid_sample, and nn.init.sparse_."""
import numpy as np
import pytest

import visionlite as vl
import visionlite.nn.functional as F
from tests.helpers.op_check import gradcheck, helper_test_op
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")
TF = torch.nn.functional


def test_pad_takes_torchs_keyword_names():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = F.pad(input=vl.tensor(x), pad=(1, 2), mode="constant", value=-1.0)
    want = TF.pad(input=torch.tensor(x), pad=(1, 2), mode="constant", value=-1.0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(F.pad(vl.tensor(x), (1, 1), "replicate").numpy(),
                                  TF.pad(torch.tensor(x), (1, 1), "replicate").numpy())


def _arrays(*shapes, low=-2.0, high=2.0, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, size=s).astype(dtype) for s in shapes]


# ------------------------------------------------------------------------------ normalize and distances
@pytest.mark.parametrize("shape,kw", [
    ((4, 5), {}), ((2, 3, 4), {"dim": -1}), ((2, 3, 4), {"p": 1.0, "dim": 0}), ((3, 6), {"p": 3.0}),
    ((5,), {"dim": 0}), ((2, 3, 4), {"p": float("inf"), "dim": 2}),
])
def test_normalize_matches_torch(shape, kw):
    helper_test_op([shape], lambda x: TF.normalize(x, **kw), lambda x: F.normalize(x, **kw))


def test_normalize_clamps_tiny_norms_like_torch():
    x = _arrays((3, 4))[0]
    x[1] = 0.0
    x[2] *= 1e-14  # below eps: divided by eps instead
    helper_test_op(None, lambda a: TF.normalize(a, dim=1), lambda a: F.normalize(a, dim=1), inputs=[x])


@pytest.mark.parametrize("s1,s2,dim", [((4, 5), (4, 5), 1), ((2, 3, 4), (1, 3, 4), -1), ((6,), (6,), 0),
                                       ((2, 5, 3), (2, 5, 1), 1)])
def test_cosine_similarity_matches_torch(s1, s2, dim):
    helper_test_op([s1, s2], lambda a, b: TF.cosine_similarity(a, b, dim=dim),
                   lambda a, b: F.cosine_similarity(a, b, dim=dim))
    helper_test_op([s1, s2], lambda a, b: torch.nn.CosineSimilarity(dim, 1e-3)(a, b),
                   lambda a, b: nn.CosineSimilarity(dim, 1e-3)(a, b))


def test_cosine_similarity_tiny_vectors_like_torch():
    # Norms below eps are clamped in value while the gradient still flows through the norm, as in torch.
    a, b = _arrays((3, 4), (3, 4))
    a[0] *= 1e-10
    b[2] = 0.0
    helper_test_op(None, lambda x, y: TF.cosine_similarity(x, y), lambda x, y: F.cosine_similarity(x, y),
                   inputs=[a, b], grad_rtol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("kw", [{}, {"p": 1.0}, {"p": 3.0, "keepdim": True}, {"eps": 0.0, "p": 2.0}])
@pytest.mark.parametrize("s1,s2", [((5, 4), (5, 4)), ((3, 2, 4), (2, 4)), ((7,), (7,))])
def test_pairwise_distance_matches_torch(kw, s1, s2):
    helper_test_op([s1, s2], lambda a, b: TF.pairwise_distance(a, b, **kw),
                   lambda a, b: F.pairwise_distance(a, b, **kw))
    helper_test_op([s1, s2], lambda a, b: torch.nn.PairwiseDistance(**kw)(a, b),
                   lambda a, b: nn.PairwiseDistance(**kw)(a, b))


def test_distance_gradchecks_float64():
    x, y = _arrays((3, 4), (3, 4), dtype=np.float64)
    gradcheck(lambda a: F.normalize(a, p=3.0, dim=1), [x])
    gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=1), [x, y])
    gradcheck(lambda a, b: F.pairwise_distance(a, b, p=1.5), [x, y])


# ------------------------------------------------------------------------------ pixel shuffle
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((1, 18, 2, 2), 3), ((12, 5, 3), 2),
                                     ((2, 3, 4, 2, 3), 2), ((1, 3, 4, 5), 1)])
def test_pixel_shuffle_matches_torch(shape, r):
    helper_test_op([shape], lambda x: TF.pixel_shuffle(x, r), lambda x: F.pixel_shuffle(x, r))
    helper_test_op([shape], lambda x: torch.nn.PixelShuffle(r)(x), lambda x: nn.PixelShuffle(r)(x))


@pytest.mark.parametrize("shape,r", [((2, 2, 6, 4), 2), ((1, 3, 6, 9), 3), ((3, 4, 2), 2),
                                     ((2, 2, 3, 4, 6), 2)])
def test_pixel_unshuffle_matches_torch(shape, r):
    helper_test_op([shape], lambda x: TF.pixel_unshuffle(x, r), lambda x: F.pixel_unshuffle(x, r))
    helper_test_op([shape], lambda x: torch.nn.PixelUnshuffle(r)(x), lambda x: nn.PixelUnshuffle(r)(x))


def test_pixel_shuffle_errors_and_repr_match_torch():
    for args in [((1, 3, 2, 2), 2), ((4, 2), 2), ((1, 4, 2, 2), 0)]:
        with pytest.raises(RuntimeError) as want:
            TF.pixel_shuffle(torch.zeros(args[0]), args[1])
        with pytest.raises(RuntimeError, match=str(want.value).split(",")[0]):
            F.pixel_shuffle(vl.zeros(args[0]), args[1])
    with pytest.raises(RuntimeError, match="height to be divisible by downscale_factor"):
        F.pixel_unshuffle(vl.zeros(1, 3, 3, 2), 2)
    assert repr(nn.PixelShuffle(3)) == repr(torch.nn.PixelShuffle(3))
    assert repr(nn.PixelUnshuffle(2)) == repr(torch.nn.PixelUnshuffle(2))


# ------------------------------------------------------------------------------ unfold / fold
FOLD_CASES = [
    ((2, 3, 6, 7), {"kernel_size": 3}),
    ((1, 2, 8, 9), {"kernel_size": (2, 3), "dilation": (2, 1), "padding": (1, 2), "stride": (2, 3)}),
    ((3, 5, 5), {"kernel_size": 2, "stride": 2}),
    ((1, 1, 4, 4), {"kernel_size": 4, "padding": 1, "stride": 3}),
    ((2, 2, 5, 6), {"kernel_size": [1, 2], "dilation": 2, "padding": 2, "stride": 1}),
]


@pytest.mark.parametrize("shape,kw", FOLD_CASES)
def test_unfold_matches_torch(shape, kw, device):
    helper_test_op([shape], lambda x: TF.unfold(x, **kw), lambda x: F.unfold(x, **kw), device=device)
    helper_test_op([shape], lambda x: torch.nn.Unfold(**kw)(x), lambda x: nn.Unfold(**kw)(x), device=device)


@pytest.mark.parametrize("shape,kw", FOLD_CASES)
def test_fold_matches_torch(shape, kw, device):
    cols_shape = tuple(TF.unfold(torch.zeros(shape), **kw).shape)
    size = shape[-2:]
    helper_test_op([cols_shape], lambda c: TF.fold(c, size, **kw), lambda c: F.fold(c, size, **kw),
                   device=device)
    helper_test_op([cols_shape], lambda c: torch.nn.Fold(size, **kw)(c), lambda c: nn.Fold(size, **kw)(c),
                   device=device)


def test_fold_unfold_gradchecks_and_double_backward():
    x, = _arrays((1, 2, 5, 4), dtype=np.float64)
    kw = {"kernel_size": (2, 3), "padding": 1, "stride": (2, 1), "dilation": (1, 2)}
    gradcheck(lambda a: F.unfold(a, **kw), [x])
    cols = F.unfold(vl.tensor(x), **kw).numpy()
    gradcheck(lambda c: F.fold(c, (5, 4), **kw), [cols])
    # Each is the other's backward, so second derivatives exist: d/dx of <grad, grad> matches torch.
    results = []
    for lib, f in ((torch, TF), (vl, F)):
        a = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad((f.unfold(a, **kw) ** 2).sum(), a, create_graph=True)
        (g * g).sum().backward()
        results.append(a.grad.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10)


def test_fold_unfold_errors_match_torch():
    cases = [
        (lambda f, lib: f.unfold(lib.zeros(2, 3, 4, 4), 5), "shape of the array of sliding blocks"),
        (lambda f, lib: f.fold(lib.zeros(1, 12, 5), (4, 4), 2), "number of sliding blocks 3 \\* 3 = 9"),
        (lambda f, lib: f.fold(lib.zeros(1, 13, 9), (4, 4), 2), "divisible by the product of kernel_size"),
    ]
    for call, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            call(TF, torch)
        with pytest.raises(RuntimeError, match=msg):
            call(F, vl)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.unfold(vl.zeros(1, 1, 4, 4), 2, stride=0)
    with pytest.raises(RuntimeError, match="3-D .* or 4-D"):
        F.unfold(vl.zeros(4, 4), 2)
    assert repr(nn.Fold((4, 5), 2, padding=1)) == repr(torch.nn.Fold((4, 5), 2, padding=1))
    assert repr(nn.Unfold(3, stride=2)) == repr(torch.nn.Unfold(3, stride=2))


# ------------------------------------------------------------------------------ affine_grid / grid_sample
@pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid")  # torch's note on unit-size grids
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 4), (2, 1, 3, 4, 2)])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_matches_torch(size, align):
    nd = len(size) - 2
    helper_test_op([(size[0], nd, nd + 1)], lambda t: TF.affine_grid(t, size, align_corners=align),
                   lambda t: F.affine_grid(t, size, align_corners=align))


def test_affine_grid_errors():
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(vl.zeros(1, 3, 3), (1, 1, 4, 4))
    with pytest.raises(NotImplementedError, match="4D and 5D"):
        F.affine_grid(vl.zeros(1, 2, 3), (1, 1, 4))
    with pytest.raises(ValueError, match="positive output size"):
        F.affine_grid(vl.zeros(1, 2, 3), (1, 1, 0, 4))
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(vl.zeros(1, 2, 3, dtype=vl.int64), (1, 1, 4, 4))


GRID_CASES = [((2, 3, 5, 7), (2, 4, 6, 2)), ((1, 2, 3, 4, 5), (1, 2, 3, 4, 3)), ((1, 1, 1, 3), (1, 3, 5, 2))]


@pytest.mark.parametrize("shapes", GRID_CASES)
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_matches_torch(shapes, padding_mode, mode, align, device):
    # Points reach well outside [-1, 1] so that every padding mode (and multiple reflections) matters.
    image, grid = _arrays(shapes[0])[0], _arrays(shapes[1], low=-2.5, high=2.5, seed=1)[0]
    kw = {"mode": mode, "padding_mode": padding_mode, "align_corners": align}
    helper_test_op(None, lambda x, g: TF.grid_sample(x, g, **kw), lambda x, g: F.grid_sample(x, g, **kw),
                   inputs=[image, grid], device=device)


@pytest.mark.filterwarnings("ignore:Default grid_sample and affine_grid")  # torch's align_corners note
def test_grid_sample_identity_grid_and_defaults():
    # An identity affine grid samples every pixel centre exactly (align_corners defaults to False).
    x = _arrays((2, 3, 4, 5))[0]
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]], dtype=np.float32), (2, 1, 1))
    grid = F.affine_grid(vl.tensor(theta), (2, 3, 4, 5))
    np.testing.assert_allclose(F.grid_sample(vl.tensor(x), grid).numpy(), x, atol=1e-6)
    helper_test_op(None, lambda t: TF.grid_sample(torch.tensor(x), TF.affine_grid(t, (2, 3, 6, 3))),
                   lambda t: F.grid_sample(vl.tensor(x), F.affine_grid(t, (2, 3, 6, 3))),
                   inputs=[theta + _arrays((2, 2, 3), low=-0.3, high=0.3)[0]])


def test_grid_sample_gradchecks_float64():
    image, = _arrays((1, 2, 4, 5), dtype=np.float64)
    grid, = _arrays((1, 3, 2, 2), low=-1.4, high=1.4, seed=3, dtype=np.float64)
    for padding_mode in ("zeros", "border", "reflection"):
        gradcheck(lambda x, g, p=padding_mode: F.grid_sample(x, g, padding_mode=p, align_corners=False),
                  [image, grid])
    gradcheck(lambda x, g: F.grid_sample(x, g, mode="nearest"), [image, grid])
    theta = np.array([[[0.9, 0.2, 0.1], [-0.3, 1.1, 0.0]]])
    gradcheck(lambda t: F.affine_grid(t, (1, 1, 3, 4), align_corners=True), [theta])


def test_grid_sample_errors():
    x, g = vl.zeros(1, 1, 3, 3), vl.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="expected mode to be"):
        F.grid_sample(x, g, mode="linear")
    with pytest.raises(ValueError, match="expected padding_mode to be"):
        F.grid_sample(x, g, padding_mode="circular")
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, g, mode="bicubic")
    with pytest.raises(RuntimeError, match="same batch size"):
        F.grid_sample(x, vl.zeros(2, 2, 2, 2))
    with pytest.raises(RuntimeError, match="size 2 in last dimension"):
        F.grid_sample(x, vl.zeros(1, 2, 2, 3))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.grid_sample(x, g.double())


# ------------------------------------------------------------------------------ nn.init.sparse_
def test_sparse_init():
    w = vl.empty(40, 7)
    assert nn.init.sparse_(w, 0.3, std=0.5, generator=vl.Generator().manual_seed(0)) is w
    values = w.numpy()
    # ceil(0.3 * 40) = 12 zeros in every column, the rest N(0, 0.5^2)
    assert ((values == 0).sum(0) == 12).all()
    nonzero = values[values != 0]
    assert nonzero.size == 7 * 28 and 0.35 < nonzero.std() < 0.65
    again = nn.init.sparse_(vl.empty(40, 7), 0.3, std=0.5, generator=vl.Generator().manual_seed(0))
    np.testing.assert_array_equal(again.numpy(), values)
    # torch agrees on the zero count and the interface
    t = torch.nn.init.sparse_(torch.empty(40, 7), 0.3, std=0.5)
    assert ((t == 0).sum(0) == 12).all()
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.sparse_(vl.empty(3, 4, 5), 0.1)
    assert nn.init.sparse is nn.init.sparse_
