"""``visionlite.save`` of any picklable object and ``load``'s weights_only modes, against PyTorch 2.6+:
safe by default with PyTorch's message, ``weights_only=False`` reads everything, ``add_safe_globals`` and
``safe_globals`` trust chosen classes; files cross between the two libraries."""
import argparse
import importlib
import pickle

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn
from visionlite.core.serialization import UnsafeCheckpointError, detect_format

torch = require("torch")


@pytest.fixture(autouse=True)
def clean_allowlists():
    yield
    vl.serialization.clear_safe_globals()
    torch.serialization.clear_safe_globals()


class Config:
    """A user class in a checkpoint (module-level, so it pickles by reference)."""

    def __init__(self, depth):
        self.depth = depth


def _model():
    vl.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 2))


def test_whole_module_round_trip(tmp_path):
    model = _model()
    model(vl.randn(2, 1, 6, 6))  # running statistics move off their initial values
    vl.save(model, tmp_path / "model.pth")
    assert detect_format((tmp_path / "model.pth").read_bytes()[:512]) == "torch_zip"
    got = vl.load(tmp_path / "model.pth", weights_only=False)
    assert type(got) is nn.Sequential and got is not model
    assert list(got.state_dict()) == list(model.state_dict())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in got.parameters())
    for (k, a), b in zip(model.state_dict().items(), got.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    x = vl.randn(4, 1, 6, 6)
    got.eval(), model.eval()
    np.testing.assert_array_equal(got(x).detach().numpy(), model(x).detach().numpy())
    got[0].weight.sum().backward()  # trains on: the parameters are leaves with gradients
    assert got[0].weight.grad is not None


def test_weights_only_default_refuses_with_torch_message(tmp_path):
    args = argparse.Namespace(lr=0.1, model="resnet18")
    torch.save({"args": args}, tmp_path / "torch.pth")
    vl.save({"args": args}, tmp_path / "vl.pth")
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(tmp_path / "torch.pth")
    for name in ("torch.pth", "vl.pth"):
        with pytest.raises(UnsafeCheckpointError) as ours:
            vl.load(tmp_path / name)
        assert isinstance(ours.value, pickle.UnpicklingError)
        for phrase in ("Weights only load failed", "`weights_only` set to `False`",
                       "Unsupported global: GLOBAL argparse.Namespace was not an allowed global by default",
                       "add_safe_globals([argparse.Namespace])", "safe_globals([argparse.Namespace])"):
            assert phrase in str(theirs.value)
            assert phrase in str(ours.value)
        assert name in str(ours.value)


def test_checkpoint_dicts_cross_between_libraries(tmp_path):
    model = _model()
    opt = vl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(vl.randn(2, 1, 6, 6)).sum().backward()
    opt.step()
    args = argparse.Namespace(lr=0.1, epochs=3, model="tiny")
    ck = {"model": model.state_dict(), "optimizer": opt.state_dict(), "args": args, "epoch": 2}
    vl.save(ck, tmp_path / "ck.pth")
    # PyTorch reads visionlite's file: with weights_only=False, and weights-only once Namespace is trusted
    for theirs in (torch.load(tmp_path / "ck.pth", weights_only=False),
                   _torch_load_trusting(tmp_path / "ck.pth", [argparse.Namespace])):
        assert theirs["args"] == args and theirs["epoch"] == 2
        assert list(theirs["model"]) == list(ck["model"])
        for k, v in ck["model"].items():
            np.testing.assert_array_equal(theirs["model"][k].numpy(), v.numpy())
        buf = theirs["optimizer"]["state"][0]["momentum_buffer"]
        np.testing.assert_array_equal(buf.numpy(), ck["optimizer"]["state"][0]["momentum_buffer"].numpy())
    # and visionlite reads back its own and PyTorch's
    torch.save(torch.load(tmp_path / "ck.pth", weights_only=False), tmp_path / "torch_ck.pth")
    for name in ("ck.pth", "torch_ck.pth"):
        for got in (vl.load(tmp_path / name, weights_only=False), _vl_load_trusting(tmp_path / name)):
            assert got["args"] == args and got["epoch"] == 2
            for k, v in ck["model"].items():
                np.testing.assert_array_equal(np.asarray(got["model"][k]), v.numpy())
            fresh = _model()
            fresh.load_state_dict(got["model"])
            new_opt = vl.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
            new_opt.load_state_dict(got["optimizer"])


def _torch_load_trusting(path, classes):
    with torch.serialization.safe_globals(classes):
        return torch.load(path, weights_only=True)


def _vl_load_trusting(path):
    with vl.serialization.safe_globals([argparse.Namespace]):
        return vl.load(path)


def test_plain_state_keeps_the_safe_format(tmp_path):
    vl.save(_model().state_dict(), tmp_path / "sd.pth")
    vl.save({"epoch": 1, "w": vl.ones(2)}, tmp_path / "plain.pth")
    for name in ("sd.pth", "plain.pth"):
        assert detect_format((tmp_path / name).read_bytes()[:512]) == "safetensors"


def test_safe_globals_api_as_torch(tmp_path):
    ours, theirs = vl.serialization, torch.serialization
    assert ours.get_safe_globals() == []
    with ours.safe_globals([Config]), theirs.safe_globals([Config]):
        assert Config in ours.get_safe_globals() and Config in theirs.get_safe_globals()
    assert ours.get_safe_globals() == [] and Config not in theirs.get_safe_globals()
    ours.add_safe_globals([Config, (Config, "old.place.Config")])
    assert ours.get_safe_globals() == [Config, (Config, "old.place.Config")]
    ours.clear_safe_globals()
    assert ours.get_safe_globals() == []
    with pytest.raises(TypeError, match="add_safe_globals"):
        ours.add_safe_globals([3])


def test_user_class_needs_trust_or_weights_only_false(tmp_path):
    vl.save({"cfg": Config(5), "w": vl.arange(3.0)}, tmp_path / "cfg.pth")
    torch.save({"cfg": Config(5), "w": torch.arange(3.0)}, tmp_path / "torch_cfg.pth")
    for name in ("cfg.pth", "torch_cfg.pth"):
        with pytest.raises(UnsafeCheckpointError, match="Config"):
            vl.load(tmp_path / name)
        with pytest.raises(pickle.UnpicklingError, match="Config"):
            torch.load(tmp_path / name)
        vl.serialization.add_safe_globals([Config])
        torch.serialization.add_safe_globals([Config])
        ours, theirs = vl.load(tmp_path / name), torch.load(tmp_path / name)
        assert ours["cfg"].depth == theirs["cfg"].depth == 5
        np.testing.assert_array_equal(np.asarray(ours["w"]), theirs["w"].numpy())
        vl.serialization.clear_safe_globals()
        torch.serialization.clear_safe_globals()
        assert vl.load(tmp_path / name, weights_only=False)["cfg"].depth == 5


def test_trusting_one_class_does_not_open_others(tmp_path):
    vl.save({"cfg": Config(1), "args": argparse.Namespace(a=1)}, tmp_path / "two.pth")
    with vl.serialization.safe_globals([Config]):
        with pytest.raises(UnsafeCheckpointError, match="argparse.Namespace"):
            vl.load(tmp_path / "two.pth")


def test_torch_whole_model_is_explained(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "torch_model.pth")
    with pytest.raises(vl.serialization.CheckpointError, match="state_dict"):
        vl.load(tmp_path / "torch_model.pth", weights_only=False)


def test_unpicklable_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot pickle"):
        vl.save({"fn": lambda x: x}, tmp_path / "x.pth")
    assert not (tmp_path / "x.pth").exists()


def test_weights_only_argument_is_checked(tmp_path):
    vl.save({"w": vl.ones(1)}, tmp_path / "w.pth")
    assert vl.load(tmp_path / "w.pth", weights_only=None)["w"].shape == (1,)
    with pytest.raises(TypeError, match="weights_only"):
        vl.load(tmp_path / "w.pth", weights_only="yes")


def test_torch_save_and_load_arguments_carry_over(tmp_path):
    import inspect

    for ours, theirs in ((vl.save, torch.save), (vl.load, torch.load)):
        names = set(inspect.signature(ours).parameters)
        assert set(inspect.signature(theirs).parameters) <= names, sorted(set(
            inspect.signature(theirs).parameters) - names)
    model = _model()
    vl.save(model, tmp_path / "m.pth", pickle, pickle_protocol=2, _use_new_zipfile_serialization=False)
    # a pickle_module given: not weights-only, as in PyTorch
    assert type(vl.load(tmp_path / "m.pth", "cpu", pickle)) is nn.Sequential
    got = vl.load(tmp_path / "m.pth", map_location="cpu", weights_only=False, mmap=True, encoding="utf-8")
    assert list(got.state_dict()) == list(model.state_dict())
    with pytest.raises(TypeError, match="unexpected keyword"):
        vl.load(tmp_path / "m.pth", weights_only=False, fix_imports=True)


def test_numpy_values_load_once_trusted_as_in_torch(tmp_path):
    torch.save({"arr": np.arange(3.0), "best_acc1": np.float64(0.5), "w": torch.ones(2)}, tmp_path / "np.pth")
    with pytest.raises(UnsafeCheckpointError, match="add_safe_globals"):
        vl.load(tmp_path / "np.pth")
    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else
                                         "numpy.core.multiarray")  # np.core is deprecated in numpy 2
    allow = [multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float64)), multiarray.scalar]
    with vl.serialization.safe_globals(allow), torch.serialization.safe_globals(allow):
        ours, theirs = vl.load(tmp_path / "np.pth"), torch.load(tmp_path / "np.pth")
    np.testing.assert_array_equal(ours["arr"], theirs["arr"])
    assert ours["best_acc1"] == theirs["best_acc1"] and type(ours["best_acc1"]) is np.float64
    np.testing.assert_array_equal(np.asarray(ours["w"]), theirs["w"].numpy())


def test_unsafe_globals_in_checkpoint_as_torch(tmp_path):
    ck = {"args": argparse.Namespace(a=1), "sd": torch.nn.Linear(2, 2).state_dict()}
    torch.save(ck, tmp_path / "t.pth")
    vl.save({"model": _model(), "args": argparse.Namespace(a=1), "cfg": Config(2)}, tmp_path / "v.pth")
    for name in ("t.pth", "v.pth"):
        ours = vl.serialization.get_unsafe_globals_in_checkpoint(tmp_path / name)
        assert set(ours) == set(torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / name)), name
        assert "argparse.Namespace" in ours
    with vl.serialization.safe_globals([argparse.Namespace]):
        left = vl.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "v.pth")
    assert "argparse.Namespace" not in left and left
