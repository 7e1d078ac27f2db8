"""The rest of torch.optim's algorithms (Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS) against PyTorch:
float64 trajectories over 20 steps, state dicts in PyTorch's layout that load from a torch optimizer and
continue as torch continues, and PyTorch's argument errors."""
import copy
import pickle
import re

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from tests.test_optim import INIT, STEPS, Run, _assert_same_trajectory, _ids, _trajectories
from visionlite import optim

torch = require("torch")

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.9), maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1)),  # rho_t passes 5 within 20 steps
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.7), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=3, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05))),
    ("Rprop", dict(lr=0.01, maximize=True)),
]


@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=_ids(CASES))
def test_trajectory_matches_torch_float64(opt_name, kwargs):
    _, (tv, tt) = _trajectories(opt_name, kwargs)
    _assert_same_trajectory(tv, tt, atol=1e-10)
    assert np.abs(tv[-1]["r"] - INIT["r"]).max() > 1e-3  # the parameters really moved


F32 = [CASES[1], CASES[4], CASES[8], CASES[12], CASES[15], CASES[18]]


@pytest.mark.parametrize("opt_name,kwargs", F32, ids=_ids(F32))
def test_trajectory_matches_torch_float32(opt_name, kwargs):
    _, (tv, tt) = _trajectories(opt_name, kwargs, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in tv[-1].values())
    _assert_same_trajectory(tv, tt, atol=2e-6, rtol=1e-6)


def test_param_groups_with_their_own_options():
    groups = [{"params": ["w"], "lr": 0.02}, {"params": ["b", "r"], "weight_decay": 0.2}]
    for name, kwargs in (("NAdam", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=4)), ("Rprop", {})):
        _, (tv, tt) = _trajectories(name, kwargs, groups=groups if name != "Rprop" else groups[:1] + [
            {"params": ["b", "r"], "etas": (0.4, 1.1)}])
        _assert_same_trajectory(tv, tt, atol=1e-10)


def _to_vl(value):
    if isinstance(value, torch.Tensor):
        return vl.tensor(value.numpy())
    if isinstance(value, list):
        return [_to_vl(v) for v in value]
    return value


def _torch_state_as_vl(sd):
    return {"state": {i: {k: _to_vl(v) for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


def _assert_same_state(sv, st):
    assert sv["param_groups"] == st["param_groups"]
    assert sv["state"].keys() == st["state"].keys()
    for i, s in st["state"].items():
        assert sv["state"][i].keys() == s.keys()
        for k, v in s.items():
            mine = sv["state"][i][k]
            if isinstance(v, torch.Tensor):
                assert isinstance(mine, vl.Tensor) and mine.shape == tuple(v.shape), k
                assert mine.dtype.name == str(v.dtype).replace("torch.", ""), k
                np.testing.assert_allclose(mine.numpy(), v.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
            else:
                assert mine == v, k


LAYOUT = [CASES[1], CASES[4], CASES[8], CASES[12], CASES[15], CASES[18]]


@pytest.mark.parametrize("opt_name,kwargs", LAYOUT, ids=_ids(LAYOUT))
def test_state_dict_layout_equals_torch_and_loads_torch_state(opt_name, kwargs):
    groups = [{"params": ["w"]}, {"params": ["b", "r"], "lr": 0.02}]
    runs = [Run(lib, opt_name, kwargs, groups=groups) for lib in (vl, torch)]
    for _ in range(6):
        for run in runs:
            run.step()
    sv, st = runs[0].opt.state_dict(), runs[1].opt.state_dict()
    _assert_same_state(sv, st)

    # a torch checkpoint, its tensors converted, continues in visionlite as it continues in torch (loading
    # casts scalar state such as ASGD's eta to the parameter's dtype, in both)
    fresh = [Run(lib, opt_name, kwargs, groups=[{"params": ["w"]}, {"params": ["b", "r"], "lr": 0.5}],
                 init=runs[1].values()) for lib in (vl, torch)]
    fresh[0].opt.load_state_dict(_torch_state_as_vl(st))
    fresh[1].opt.load_state_dict(st)
    assert fresh[0].opt.param_groups[1]["lr"] == 0.02
    _assert_same_state(fresh[0].opt.state_dict(), fresh[1].opt.state_dict())
    for _ in range(8):
        for run in fresh:
            run.step()
    _assert_same_trajectory([fresh[0].values()], [fresh[1].values()], atol=1e-10)


# (NAdam and ASGD are left out: loading casts their float32 scalar state to the parameter's dtype, in
# PyTorch as here, so a resumed run differs in the last bits from an uninterrupted one)
ROUND_TRIP = [CASES[1], CASES[4], CASES[12], CASES[18]]


@pytest.mark.parametrize("opt_name,kwargs", ROUND_TRIP, ids=_ids(ROUND_TRIP))
def test_state_dict_round_trip_resumes_bit_for_bit(opt_name, kwargs):
    straight = Run(vl, opt_name, kwargs)
    for _ in range(12):
        straight.step()
    first = Run(vl, opt_name, kwargs)
    for _ in range(6):
        first.step()
    resumed = Run(vl, opt_name, kwargs, init=first.values())
    resumed.opt.load_state_dict(pickle.loads(pickle.dumps(first.opt.state_dict())))
    for _ in range(6):
        resumed.step()
    for k, v in straight.values().items():
        assert np.array_equal(resumed.values()[k], v), k


def test_scalar_state_keeps_the_scalar_dtype_like_torch():
    """NAdam's mu_product and ASGD's eta/mu are float32 0-d tensors under the default dtype, even for
    float64 parameters: their rounding shows in the trajectory, so it must be the same as torch's."""
    for name, keys in (("NAdam", ("mu_product", "step")), ("ASGD", ("eta", "mu", "step"))):
        kwargs = dict(lr=0.05, t0=2) if name == "ASGD" else dict(lr=0.05)
        runs = [Run(lib, name, kwargs) for lib in (vl, torch)]
        for run in runs:
            run.step()
        for k in keys:
            mine = runs[0].opt.state[runs[0].params["w"]][k]
            theirs = runs[1].opt.state[runs[1].params["w"]][k]
            assert mine.dtype.name == str(theirs.dtype).replace("torch.", "") == "float32", (name, k)
            assert mine.item() == theirs.item(), (name, k)


DEVICE_CASES = [CASES[1], CASES[4], CASES[8], CASES[12], CASES[15], CASES[18]]


@pytest.mark.parametrize("opt_name,kwargs", DEVICE_CASES, ids=_ids(DEVICE_CASES))
def test_gpu_matches_cpu(gpu, opt_name, kwargs):
    """The same array code runs on cupy: five steps on the GPU agree with the CPU's."""
    start = INIT["w"].astype(np.float64)
    p = vl.tensor(start, device=gpu, requires_grad=True)
    ref = vl.tensor(start, requires_grad=True)
    opts = [getattr(optim, opt_name)([p], **kwargs), getattr(optim, opt_name)([ref], **kwargs)]
    for _ in range(5):
        for t, opt in zip((p, ref), opts):
            opt.zero_grad()
            (t * t * t).sum().backward()
            opt.step()
    assert p.device == vl.device(gpu)
    np.testing.assert_allclose(p.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-11, atol=1e-11)


# ------------------------------------------------------------------------------ LBFGS
class LbfgsRun(Run):
    def step(self):
        def closure():
            self.opt.zero_grad()
            loss = self.loss()
            loss.backward()
            return loss

        return float(self.opt.step(closure).item())


# L-BFGS amplifies rounding as it converges (curvature pairs of ever smaller steps), so 20 steps of many
# inner iterations drift apart even between two BLAS builds; these settings stay well-conditioned over the
# 20 steps while still exercising the history, the line search's bracketing and zoom phases and maximize.
LBFGS_CASES = [
    dict(lr=0.1, max_iter=2),
    dict(lr=0.2, max_iter=2, history_size=5),
    dict(lr=0.5, max_iter=3, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=1, max_iter=2, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=0.01, max_iter=3, maximize=True),
]


@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=_ids([("LBFGS", k) for k in LBFGS_CASES]))
def test_lbfgs_trajectory_matches_torch(kwargs):
    runs = [LbfgsRun(lib, "LBFGS", kwargs) for lib in (vl, torch)]
    start = runs[0].loss().item()
    for i in range(STEPS):
        losses = [run.step() for run in runs]
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-10, atol=1e-12, err_msg=f"step {i + 1}")
        _assert_same_trajectory([runs[0].values()], [runs[1].values()], atol=1e-10)
    sv, st = (run.opt.state_dict()["state"][0] for run in runs)
    assert sv["func_evals"] == st["func_evals"] and sv["n_iter"] == st["n_iter"]
    assert len(sv["old_dirs"]) == len(st["old_dirs"])
    end = runs[0].loss().item()
    assert (end > start) if kwargs.get("maximize") else (end < start)


def test_lbfgs_loads_torch_state_and_continues_identically():
    kwargs = dict(lr=1, max_iter=3, history_size=4, line_search_fn="strong_wolfe")
    runs = [LbfgsRun(lib, "LBFGS", kwargs) for lib in (vl, torch)]
    for _ in range(3):
        for run in runs:
            run.step()
    st = runs[1].opt.state_dict()
    sv = runs[0].opt.state_dict()
    assert sv["param_groups"] == st["param_groups"]
    assert sv["state"][0].keys() == st["state"][0].keys()
    fresh = LbfgsRun(vl, "LBFGS", kwargs, init=runs[1].values())
    fresh.opt.load_state_dict(_torch_state_as_vl(st))
    for _ in range(4):
        np.testing.assert_allclose(fresh.step(), runs[1].step(), rtol=1e-10)
    _assert_same_trajectory([fresh.values()], [runs[1].values()], atol=1e-10)


def test_lbfgs_needs_a_closure_and_one_group():
    p = vl.zeros(2, requires_grad=True)
    with pytest.raises(TypeError):  # as torch: closure is a required argument
        optim.LBFGS([p]).step()
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([p]).step(None)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [vl.zeros(1, requires_grad=True)]}])


# ------------------------------------------------------------------------------ arguments
def test_defaults_equal_torch():
    for name in ("Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "LBFGS"):
        mine = getattr(optim, name)([vl.zeros(1, requires_grad=True)]).defaults
        theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)]).defaults
        assert mine == theirs, name


INVALID = [
    ("Adadelta", dict(lr=-0.1)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-0.1)), ("Adamax", dict(betas=(1.0, 0.9))), ("Adamax", dict(eps=-1e-8)),
    ("NAdam", dict(momentum_decay=-1.0)), ("NAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(weight_decay=-1.0)), ("ASGD", dict(weight_decay=-0.1)), ("Rprop", dict(etas=(1.2, 0.5))),
    ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("opt_name,kwargs", INVALID, ids=_ids(INVALID))
def test_invalid_arguments_raise_like_torch(opt_name, kwargs):
    with pytest.raises(Exception) as info:
        getattr(torch.optim, opt_name)([torch.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(info.type, match=re.escape(str(info.value))):
        getattr(optim, opt_name)([vl.zeros(1, requires_grad=True)], **kwargs)


def test_compatibility_flags_are_accepted():
    p = vl.tensor([1.0], requires_grad=True)
    opts = (optim.Adadelta([p], foreach=True, capturable=False), optim.Adamax([p], foreach=False),
            optim.NAdam([p], foreach=True, capturable=False), optim.RAdam([p], foreach=True),
            optim.ASGD([p], foreach=True), optim.Rprop([p], foreach=True, capturable=False))
    for opt in opts:
        p.grad = vl.tensor([1.0])
        opt.step()
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.NAdam([p], differentiable=True)
