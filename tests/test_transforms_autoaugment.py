"""AutoAugment, RandAugment, TrivialAugmentWide and AugMix against TorchVision: the policy and magnitude
tables must be equal, each op must give TorchVision's pixels, and a recorded run must replay exactly."""
import pathlib

import numpy as np
import pytest

import visionlite as vl
import visionlite.transforms as T
from tests.helpers.refs import require
from visionlite.transforms import autoaugment as AA

torch = require("torch")
TT = require("torchvision.transforms")
from PIL import Image  # noqa: E402
from torchvision.transforms import autoaugment as TAA  # noqa: E402

ASSETS = pathlib.Path(__file__).parent / "assets"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def pil():
    return Image.open(ASSETS / "coffee.png").convert("RGB").resize((160, 120))


@pytest.fixture(scope="module")
def chw(pil):
    return np.asarray(pil).transpose(2, 0, 1).copy()


def _same_space(ours, theirs):
    assert list(ours) == list(theirs)
    for name in ours:
        (m1, s1), (m2, s2) = ours[name], theirs[name]
        assert s1 == s2, name
        np.testing.assert_array_equal(np.asarray(m1), m2.numpy(), err_msg=name)


@pytest.mark.parametrize("policy", list(T.AutoAugmentPolicy), ids=lambda p: p.value)
def test_policies_and_spaces_equal_torchvision(policy):
    tv_policy = TAA.AutoAugmentPolicy(policy.value)
    assert T.AutoAugment(policy).policies == TT.AutoAugment(tv_policy).policies
    _same_space(T.AutoAugment(policy)._augmentation_space(10, (120, 160)),
                TT.AutoAugment(tv_policy)._augmentation_space(10, (120, 160)))


def test_other_spaces_equal_torchvision():
    _same_space(T.RandAugment()._augmentation_space(31, (120, 160)),
                TT.RandAugment()._augmentation_space(31, (120, 160)))
    _same_space(T.TrivialAugmentWide()._augmentation_space(31),
                TT.TrivialAugmentWide()._augmentation_space(31))
    for all_ops in (True, False):
        _same_space(T.AugMix(all_ops=all_ops)._augmentation_space(10, (120, 160)),
                    TT.AugMix(all_ops=all_ops)._augmentation_space(10, (120, 160)))


OPS = [("ShearX", 0.3), ("ShearY", -0.2), ("TranslateX", 31.0), ("TranslateY", -12.5), ("Rotate", 17.0),
       ("Brightness", 0.6), ("Color", -0.5), ("Contrast", 0.4), ("Sharpness", 0.9), ("Posterize", 5.0),
       ("Solarize", 140.0), ("AutoContrast", 0.0), ("Equalize", 0.0), ("Invert", 0.0), ("Identity", 0.0)]


@pytest.mark.parametrize("op,magnitude", OPS, ids=[o for o, _ in OPS])
def test_each_op_matches_torchvision(op, magnitude, pil, chw):
    IM, TIM = T.InterpolationMode, TT.InterpolationMode
    ours = AA._apply_op(pil, op, magnitude, IM.NEAREST, [128, 0, 255])
    theirs = TAA._apply_op(pil, op, magnitude, TIM.NEAREST, [128, 0, 255])
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    ours = AA._apply_op(vl.tensor(chw), op, magnitude, IM.BILINEAR, [1.0, 2.0, 3.0]).numpy()
    theirs = TAA._apply_op(torch.from_numpy(chw), op, magnitude, TIM.BILINEAR, [1.0, 2.0, 3.0]).numpy()
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


class _Recorder:
    """Wraps ``autoaugment._apply_op`` to remember each (op, magnitude) a transform applies."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = AA._apply_op

        def record(img, op_name, magnitude, interpolation, fill):
            self.calls.append((op_name, magnitude))
            return real(img, op_name, magnitude, interpolation, fill)

        monkeypatch.setattr(AA, "_apply_op", record)


@pytest.mark.parametrize("make", [lambda M: M.AutoAugment(), lambda M: M.RandAugment(num_ops=3),
                                  lambda M: M.TrivialAugmentWide()], ids=["auto", "rand", "trivial"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_recorded_runs_replay_through_torchvision(make, as_tensor, pil, chw, monkeypatch):
    rec = _Recorder(monkeypatch)
    img, ref = (vl.tensor(chw), torch.from_numpy(chw)) if as_tensor else (pil, pil)
    fill = [0.0, 0.0, 0.0] if as_tensor else None
    for seed in range(6):
        rec.calls.clear()
        vl.manual_seed(seed)
        ours = make(T)(img)
        expected = ref
        for op, magnitude in rec.calls:
            expected = TAA._apply_op(expected, op, magnitude, TT.InterpolationMode.NEAREST, fill)
        a, b = (ours.numpy(), expected.numpy()) if as_tensor else (np.asarray(ours), np.asarray(expected))
        assert np.abs(a.astype(int) - b.astype(int)).max() <= (1 if as_tensor else 0)


def test_augmix_replays_through_torchvision(chw, monkeypatch):
    rec = _Recorder(monkeypatch)
    aug = T.AugMix(severity=4, mixture_width=3, chain_depth=2)
    draws = []
    real = aug._sample_dirichlet
    aug._sample_dirichlet = lambda params: draws.append(real(params)) or draws[-1]
    vl.manual_seed(3)
    ours = aug(vl.tensor(chw)).numpy()
    m, w = draws
    w = w * m[:, 1:2]
    batch = torch.from_numpy(chw)[None]
    mix = float(m[0, 0]) * batch
    for i in range(3):
        x = batch
        for op, magnitude in rec.calls[2 * i:2 * i + 2]:
            x = TAA._apply_op(x, op, magnitude, TT.InterpolationMode.BILINEAR, None)
        mix = mix + float(w[0, i]) * x
    expected = mix[0].to(torch.uint8).numpy()
    assert len(rec.calls) == 6
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("make", [lambda: T.AutoAugment(T.AutoAugmentPolicy.SVHN), lambda: T.RandAugment(),
                                  lambda: T.TrivialAugmentWide(), lambda: T.AugMix()])
def test_seed_repeats_and_types(make, pil, chw):
    for img in (pil, vl.tensor(chw), vl.tensor(np.stack([chw, chw]))):
        vl.manual_seed(11)
        a = [make()(img) for _ in range(3)]
        vl.manual_seed(11)
        b = [make()(img) for _ in range(3)]
        for x, y in zip(a, b):
            assert type(x) is type(img)
            np.testing.assert_array_equal(np.asarray(x) if isinstance(x, Image.Image) else x.numpy(),
                                          np.asarray(y) if isinstance(y, Image.Image) else y.numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="severity"):
        T.AugMix(severity=0)
    with pytest.raises(ValueError, match="not recognized"):
        AA._apply_op(None, "Blur", 0.0, T.InterpolationMode.NEAREST, None)
