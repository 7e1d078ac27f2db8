"""visionlite.optim against torch.optim: the same losses from the same starting points must give the same
parameter trajectories; checkpoints must resume bit-for-bit; bad arguments must fail as in PyTorch."""
import copy
import pickle
import re

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import optim

torch = require("torch")

STEPS = 20
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (8, 3))
Y = rng.uniform(-1, 1, (8, 2))
INIT = {"w": rng.uniform(-1, 1, (3, 2)), "b": rng.uniform(-1, 1, (2,)), "r": np.array([-0.5, 0.8])}


def loss_fn(x, y, w, b, r):
    """A linear regression plus a scaled Rosenbrock term: works on visionlite and torch tensors alike."""
    fit = ((x @ w + b - y) ** 2).mean()
    rosen = (1 - r[0]) ** 2 + 100 * (r[1] - r[0] ** 2) ** 2
    return fit + 0.01 * rosen


class Run:
    """Parameters, data and optimizer of one library, stepped the same way on both sides."""

    def __init__(self, lib, opt_name, kwargs, dtype=np.float64, groups=None, init=INIT):
        self.lib = lib
        make = (lambda a: vl.tensor(a.astype(dtype), requires_grad=True)) if lib is vl else (
            lambda a: torch.tensor(a.astype(dtype), requires_grad=True))
        self.params = {k: make(v) for k, v in init.items()}
        data = vl.tensor if lib is vl else torch.tensor
        self.x, self.y = data(X.astype(dtype)), data(Y.astype(dtype))
        cls = getattr(optim if lib is vl else torch.optim, opt_name)
        if groups is None:
            spec = list(self.params.values())
        else:
            spec = [{**g, "params": [self.params[n] for n in g["params"]]} for g in groups]
        self.opt = cls(spec, **kwargs)

    def loss(self):
        return loss_fn(self.x, self.y, self.params["w"], self.params["b"], self.params["r"])

    def step(self):
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return float(loss.item())

    def values(self):
        return {k: np.array(v.detach().numpy()) for k, v in self.params.items()}


CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


def _ids(cases):
    return [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in cases]


def _trajectories(opt_name, kwargs, dtype=np.float64, groups=None, steps=STEPS):
    runs = [Run(lib, opt_name, kwargs, dtype, groups) for lib in (vl, torch)]
    traj = ([], [])
    for _ in range(steps):
        for run, t in zip(runs, traj):
            run.step()
            t.append(run.values())
    return runs, traj


def _assert_same_trajectory(traj_vl, traj_torch, atol, rtol=0.0):
    for i, (a, b) in enumerate(zip(traj_vl, traj_torch)):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], atol=atol, rtol=rtol, err_msg=f"step {i + 1}, param {k}")


@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=_ids(CASES))
def test_trajectory_matches_torch_float64(opt_name, kwargs):
    runs, (tv, tt) = _trajectories(opt_name, kwargs)
    _assert_same_trajectory(tv, tt, atol=1e-10)
    start = INIT["r"]
    assert np.abs(tv[-1]["r"] - start).max() > 1e-3  # the parameters really moved


@pytest.mark.parametrize("opt_name,kwargs", [CASES[2], CASES[3], CASES[7], CASES[12], CASES[16], CASES[18]],
                         ids=_ids([CASES[2], CASES[3], CASES[7], CASES[12], CASES[16], CASES[18]]))
def test_trajectory_matches_torch_float32(opt_name, kwargs):
    runs, (tv, tt) = _trajectories(opt_name, kwargs, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in tv[-1].values())
    _assert_same_trajectory(tv, tt, atol=2e-6, rtol=1e-6)


GROUP_CASES = [("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=0.01)),
               ("RMSprop", dict(lr=0.01, centered=True)), ("Adagrad", dict(lr=0.1))]


@pytest.mark.parametrize("opt_name,kwargs", GROUP_CASES, ids=_ids(GROUP_CASES))
def test_param_groups_with_their_own_options(opt_name, kwargs):
    groups = [{"params": ["w"], "lr": 0.05}, {"params": ["b", "r"], "weight_decay": 0.2}]
    runs, (tv, tt) = _trajectories(opt_name, kwargs, groups=groups)
    _assert_same_trajectory(tv, tt, atol=1e-10)
    g = runs[0].opt.param_groups
    assert g[0]["lr"] == 0.05 and g[1]["lr"] == kwargs["lr"] and g[1]["weight_decay"] == 0.2
    assert set(g[0]) == set(runs[1].opt.param_groups[0])  # every default filled in, as in torch


def test_add_param_group_later_matches_torch():
    runs = [Run(lib, "Adam", dict(lr=0.05), groups=[{"params": ["w", "b"]}]) for lib in (vl, torch)]
    for run in runs:
        for _ in range(3):
            run.step()
        run.opt.add_param_group({"params": [run.params["r"]], "lr": 0.02, "amsgrad": True})
        for _ in range(5):
            run.step()
    _assert_same_trajectory([runs[0].values()], [runs[1].values()], atol=1e-10)
    assert runs[0].opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_parameters_without_grad_are_skipped():
    a = vl.tensor([1.0, 2.0], requires_grad=True)
    frozen = vl.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.Adam([a, frozen], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    assert frozen.tolist() == [3.0, 4.0]
    assert a.tolist() != [1.0, 2.0]
    assert frozen not in opt.state and len(opt.state_dict()["state"]) == 1


def test_closure_is_evaluated_with_grad_and_its_loss_returned():
    runs = [Run(lib, "SGD", dict(lr=0.05, momentum=0.9)) for lib in (vl, torch)]
    losses = ([], [])
    for run, out in zip(runs, losses):
        def closure(run=run):
            run.opt.zero_grad()
            loss = run.loss()
            loss.backward()
            return loss

        with (vl if run.lib is vl else torch).no_grad():  # step must turn grad on for the closure itself
            for _ in range(5):
                out.append(float(run.opt.step(closure).item()))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)
    _assert_same_trajectory([runs[0].values()], [runs[1].values()], atol=1e-12)


def test_step_runs_without_recording_a_graph():
    p = vl.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert opt.state[p]["momentum_buffer"].requires_grad is False


def test_zero_grad():
    p = vl.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_step_bumps_the_version_so_stale_graphs_fail():
    p = vl.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    stale = (p * p).sum()  # saves p for its backward
    version = p._version[0]
    opt.step()
    assert p._version[0] == version + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        stale.backward()


def test_tensor_learning_rate():
    runs = [Run(vl, "SGD", dict(lr=vl.tensor(0.05), momentum=0.9)),
            Run(torch, "SGD", dict(lr=torch.tensor(0.05), momentum=0.9))]
    for run in runs:
        for _ in range(3):
            run.step()
    _assert_same_trajectory([runs[0].values()], [runs[1].values()], atol=1e-10)


# ------------------------------------------------------------------------------ checkpoints
RESUME_CASES = [CASES[2], CASES[3], CASES[8], CASES[11], CASES[16], CASES[18]]


@pytest.mark.parametrize("opt_name,kwargs", RESUME_CASES, ids=_ids(RESUME_CASES))
def test_state_dict_round_trip_resumes_bit_for_bit(opt_name, kwargs):
    groups = [{"params": ["w"], "lr": kwargs["lr"] / 2}, {"params": ["b", "r"]}]
    straight = Run(vl, opt_name, kwargs, groups=groups)
    for _ in range(20):
        straight.step()

    first = Run(vl, opt_name, kwargs, groups=groups)
    for _ in range(10):
        first.step()
    saved = pickle.loads(pickle.dumps(first.opt.state_dict()))  # as a checkpoint file would hold it
    resumed = Run(vl, opt_name, kwargs, groups=groups, init=first.values())
    resumed.opt.load_state_dict(saved)
    for _ in range(10):
        first.step()  # the loaded optimizer must own copies: the first run moving on can't disturb it
        resumed.step()
    for k, v in straight.values().items():
        assert np.array_equal(resumed.values()[k], v), k
        assert np.array_equal(first.values()[k], v), k


@pytest.mark.parametrize("opt_name,kwargs", [CASES[1], CASES[7], CASES[16], CASES[18]],
                         ids=_ids([CASES[1], CASES[7], CASES[16], CASES[18]]))
def test_state_dict_layout_equals_torch_and_loads_torch_state(opt_name, kwargs):
    runs = [Run(lib, opt_name, kwargs, groups=[{"params": ["w"]}, {"params": ["b", "r"], "lr": 0.02}])
            for lib in (vl, torch)]
    for _ in range(3):
        for run in runs:
            run.step()
    sv, st = runs[0].opt.state_dict(), runs[1].opt.state_dict()
    assert sv["param_groups"] == st["param_groups"]
    assert sv["state"].keys() == st["state"].keys()
    for i, s in st["state"].items():
        assert sv["state"][i].keys() == s.keys()
        for k, v in s.items():
            mine = sv["state"][i][k]
            assert isinstance(mine, vl.Tensor) and mine.shape == tuple(v.shape)
            assert mine.dtype.name == str(v.dtype).replace("torch.", ""), k
            np.testing.assert_allclose(mine.numpy(), v.numpy(), rtol=1e-10, atol=1e-12)

    # a torch checkpoint, its tensors converted, continues in visionlite as torch continues
    as_vl = {"state": {i: {k: vl.tensor(v.numpy()) for k, v in s.items()} for i, s in st["state"].items()},
             "param_groups": copy.deepcopy(st["param_groups"])}
    fresh = Run(vl, opt_name, kwargs, groups=[{"params": ["w"]}, {"params": ["b", "r"], "lr": 0.5}],
                init=runs[1].values())
    fresh.opt.load_state_dict(as_vl)
    assert fresh.opt.param_groups[1]["lr"] == 0.02
    for _ in range(5):
        fresh.step()
        runs[1].step()
    _assert_same_trajectory([fresh.values()], [runs[1].values()], atol=1e-10)


def test_load_state_dict_casts_to_the_parameter_dtype_but_keeps_step():
    src = Run(vl, "Adam", dict(lr=0.05))
    src.step()
    dst = Run(vl, "Adam", dict(lr=0.05), dtype=np.float32)
    dst.opt.load_state_dict(src.opt.state_dict())
    state = dst.opt.state[dst.params["w"]]
    assert state["exp_avg"].dtype == vl.float32 and state["exp_avg_sq"].dtype == vl.float32
    assert state["step"].dtype == vl.float32 and state["step"].item() == 1.0
    assert state["exp_avg"]._data is not src.opt.state[src.params["w"]]["exp_avg"]._data
    dst.step()
    assert dst.params["w"].dtype == vl.float32


def test_load_state_dict_accepts_a_plain_number_step():
    src = Run(vl, "Adam", dict(lr=0.05))
    src.step()
    saved = copy.deepcopy(src.opt.state_dict())
    for s in saved["state"].values():
        s["step"] = 1
    dst = Run(vl, "Adam", dict(lr=0.05), init=src.values())
    dst.opt.load_state_dict(saved)
    src.step()
    dst.step()
    assert all(np.array_equal(a, b) for a, b in zip(src.values().values(), dst.values().values()))
    assert dst.opt.state[dst.params["w"]]["step"].item() == 2.0


def test_load_state_dict_rejects_a_different_layout():
    run = Run(vl, "SGD", dict(lr=0.1, momentum=0.9))
    other = Run(vl, "SGD", dict(lr=0.1, momentum=0.9), groups=[{"params": ["w"]}, {"params": ["b", "r"]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        run.opt.load_state_dict(other.opt.state_dict())
    two = Run(vl, "SGD", dict(lr=0.1), groups=[{"params": ["w", "b"]}, {"params": ["r"]}])
    with pytest.raises(ValueError, match="doesn't match the size"):
        two.opt.load_state_dict(other.opt.state_dict())


def test_adagrad_creates_state_at_construction_like_torch():
    runs = [Run(lib, "Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)) for lib in (vl, torch)]
    sv, st = runs[0].opt.state_dict(), runs[1].opt.state_dict()
    assert sv["state"].keys() == st["state"].keys() == {0, 1, 2}
    np.testing.assert_array_equal(sv["state"][0]["sum"].numpy(), st["state"][0]["sum"].numpy())


# ------------------------------------------------------------------------------ parameters and errors
def test_named_parameters():
    w, b = vl.tensor([1.0], requires_grad=True), vl.tensor([2.0], requires_grad=True)
    opt = optim.SGD([("layer.weight", w), ("layer.bias", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["layer.weight", "layer.bias"]
    assert opt.param_groups[0]["params"] == [w, b] or opt.param_groups[0]["params"][0] is w
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]
    with pytest.raises(ValueError, match="with/without names"):
        optim.SGD([("a", w), b])
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [vl.tensor([0.0], requires_grad=True)]})


def _torch_error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


INVALID = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1e-3)), ("Adam", dict(eps=-1.0)), ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-0.1)), ("AdamW", dict(betas=(0.9, 1.5))),
    ("RMSprop", dict(alpha=-0.5)), ("RMSprop", dict(momentum=-1.0)), ("RMSprop", dict(eps=-1e-8)),
    ("Adagrad", dict(lr_decay=-0.1)), ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1e-10)),
]


@pytest.mark.parametrize("opt_name,kwargs", INVALID, ids=_ids(INVALID))
def test_invalid_arguments_raise_like_torch(opt_name, kwargs):
    exc_type, message = _torch_error(
        lambda: getattr(torch.optim, opt_name)([torch.zeros(1, requires_grad=True)], **kwargs))
    with pytest.raises(exc_type, match=re.escape(message)):
        getattr(optim, opt_name)([vl.zeros(1, requires_grad=True)], **kwargs)


def test_invalid_parameter_lists():
    p = vl.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p], "lr": 0.5}], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([p]).add_param_group([p])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p])


def test_differentiable_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([vl.zeros(1, requires_grad=True)], differentiable=True)


def test_foreach_and_fused_are_accepted():
    p = vl.tensor([1.0], requires_grad=True)
    opts = (optim.SGD([p], foreach=True, fused=False), optim.Adam([p], foreach=True),
            optim.AdamW([p], fused=True), optim.RMSprop([p], foreach=False), optim.Adagrad([p], foreach=True))
    for opt in opts:
        p.grad = vl.tensor([1.0])
        opt.step()


def test_repr_lists_group_options():
    text = repr(optim.SGD([vl.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_with_a_linear_module():
    from visionlite import nn
    vl.manual_seed(0)
    layer = nn.Linear(3, 2).double()
    tlayer = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tlayer.weight.copy_(torch.tensor(layer.weight.detach().numpy()))
        tlayer.bias.copy_(torch.tensor(layer.bias.detach().numpy()))
    opts = optim.AdamW(layer.parameters(), lr=0.05), torch.optim.AdamW(tlayer.parameters(), lr=0.05)
    for _ in range(10):
        for lib, mod, opt in ((vl, layer, opts[0]), (torch, tlayer, opts[1])):
            opt.zero_grad()
            ((mod(lib.tensor(X)) - lib.tensor(Y)) ** 2).mean().backward()
            opt.step()
    np.testing.assert_allclose(layer.weight.detach().numpy(), tlayer.weight.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.bias.detach().numpy(), tlayer.bias.detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-11)], ids=["float32", "float64"])
@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=_ids(CASES))
def test_runs_on_each_device(device, opt_name, kwargs, dtype, tol):
    """On cuda the update runs as one fused kernel per parameter: it must agree with the CPU's array ops."""
    start = INIT["w"].astype(dtype)
    p = vl.tensor(start, device=device, requires_grad=True)
    ref = vl.tensor(start, requires_grad=True)
    opts = [getattr(optim, opt_name)([p], **kwargs), getattr(optim, opt_name)([ref], **kwargs)]
    for _ in range(5):
        for t, opt in zip((p, ref), opts):
            opt.zero_grad()
            (t * t * t).sum().backward()
            opt.step()
    assert p.device == vl.device(device)
    for key, value in opts[0].state[p].items():
        assert value.device == vl.device("cpu" if key == "step" else device), key
    assert p.dtype == ref.dtype == vl.tensor(start).dtype
    np.testing.assert_allclose(p.detach().cpu().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)

    # a checkpoint taken on the device loads onto the CPU (and back), state following the parameter
    cpu_param = vl.tensor(p.detach().cpu().numpy(), requires_grad=True)
    moved = getattr(optim, opt_name)([cpu_param], **kwargs)
    moved.load_state_dict(opts[0].state_dict())
    for key, value in moved.state[cpu_param].items():
        assert value.device == vl.device("cpu"), key
    back = getattr(optim, opt_name)([p], **kwargs)
    back.load_state_dict(moved.state_dict())
    for key, value in back.state[p].items():
        assert value.device == vl.device("cpu" if key == "step" else device), key
