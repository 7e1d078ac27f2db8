"""visionlite.optim.swa_utils against torch.optim.swa_utils: the same model moves give the same averages
(SWA, EMA, custom functions, with and without buffers), SWALR the same learning rates, update_bn the same
BatchNorm statistics."""
import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn, optim
from visionlite.optim import swa_utils

torch = require("torch")
tswa = torch.optim.swa_utils

rng = np.random.default_rng(0)


def _models():
    """The same small MLP with BatchNorm in both libraries (float64)."""
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                             torch.nn.Linear(4, 2)).double()
    vm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()
    vm.load_state_dict({k: vl.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return vm, tm


def _move(vm, tm, i):
    """Shift every parameter by the same noise in both models and run a training batch (BN buffers move)."""
    r = np.random.default_rng(i)
    for vp, tp in zip(vm.parameters(), tm.parameters()):
        noise = r.normal(0, 0.1, tuple(tp.shape))
        with torch.no_grad():
            tp.add_(torch.tensor(noise))
        with vl.no_grad():
            vp.add_(vl.tensor(noise))
    x = r.normal(size=(6, 3))
    vm(vl.tensor(x))
    tm(torch.tensor(x))


def _assert_same_state(vsd, tsd, atol=1e-12):
    assert list(vsd) == list(tsd)
    for k, v in tsd.items():
        mine = vsd[k].numpy()
        assert mine.dtype == v.numpy().dtype, k
        np.testing.assert_allclose(mine, v.numpy(), rtol=0, atol=atol, err_msg=k)


AVG_CASES = {
    "swa-default": (lambda m: m(), {}),
    "swa-default-buffers": (lambda m: m(), {"use_buffers": True}),
    "ema-multi": (lambda m: m.get_ema_multi_avg_fn(0.9), {"multi": True}),
    "ema-multi-buffers": (lambda m: m.get_ema_multi_avg_fn(0.7), {"multi": True, "use_buffers": True}),
    "swa-multi": (lambda m: m.get_swa_multi_avg_fn(), {"multi": True}),
    "ema-avg": (lambda m: m.get_ema_avg_fn(0.8), {}),
    "ema-avg-buffers": (lambda m: m.get_ema_avg_fn(0.8), {"use_buffers": True}),
    "swa-avg": (lambda m: m.get_swa_avg_fn(), {}),
}


@pytest.mark.parametrize("case", list(AVG_CASES))
def test_averaged_model_matches_torch(case):
    make, opts = AVG_CASES[case]
    vm, tm = _models()
    kw = {}
    if case != "swa-default" and case != "swa-default-buffers":
        key = "multi_avg_fn" if opts.get("multi") else "avg_fn"
        kw = [{key: make(swa_utils)}, {key: make(tswa)}]
    else:
        kw = [{}, {}]
    ub = opts.get("use_buffers", False)
    va = swa_utils.AveragedModel(vm, use_buffers=ub, **kw[0])
    ta = tswa.AveragedModel(tm, use_buffers=ub, **kw[1])
    for i in range(6):
        _move(vm, tm, i)
        va.update_parameters(vm)
        ta.update_parameters(tm)
        _assert_same_state(va.state_dict(), ta.state_dict())
    assert va.n_averaged.item() == 6 and va.n_averaged.dtype == vl.int64
    assert not np.allclose(va.module[0].weight.detach().numpy(), vm[0].weight.detach().numpy())
    x = rng.normal(size=(5, 3))
    va.eval()
    ta.eval()
    np.testing.assert_allclose(va(vl.tensor(x)).detach().numpy(), ta(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)


def test_averaged_model_state_dict_loads_torch_checkpoint():
    vm, tm = _models()
    ta = tswa.AveragedModel(tm)
    for i in range(3):
        _move(vm, tm, i)
        ta.update_parameters(tm)
    va = swa_utils.AveragedModel(vm)
    va.load_state_dict({k: vl.tensor(v.numpy()) for k, v in ta.state_dict().items()})
    _move(vm, tm, 7)
    va.update_parameters(vm)
    ta.update_parameters(tm)
    _assert_same_state(va.state_dict(), ta.state_dict())


def test_averaged_model_copies_and_checks():
    vm, _ = _models()
    va = swa_utils.AveragedModel(vm)
    assert va.module is not vm and va.module[0].weight is not vm[0].weight
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(vm, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="Invalid decay value"):
            swa_utils.get_ema_multi_avg_fn(bad)
        with pytest.raises(ValueError, match="Invalid decay value"):
            swa_utils.get_ema_avg_fn(bad)


def test_update_bn_matches_torch():
    vm, tm = _models()
    data = [rng.normal(size=(5, 3)) for _ in range(4)]
    vloader = [vl.tensor(data[0]), (vl.tensor(data[1]), 0), [vl.tensor(data[2]), 1], vl.tensor(data[3])]
    tloader = [torch.tensor(data[0]), (torch.tensor(data[1]), 0), [torch.tensor(data[2]), 1],
               torch.tensor(data[3])]
    vm.eval()
    tm.eval()
    swa_utils.update_bn(vloader, vm)
    tswa.update_bn(tloader, tm)
    _assert_same_state(vm.state_dict(), tm.state_dict())
    assert not vm.training and vm[1].momentum == 0.1


def _lr_sequence(lib, kwargs, steps=14, two_groups=True, before=None):
    opt_mod = optim if lib is vl else torch.optim
    swa = swa_utils if lib is vl else tswa
    p = [lib.zeros(1, requires_grad=True), lib.zeros(1, requires_grad=True)]
    groups = [{"params": [p[0]], "lr": 0.5}, {"params": [p[1]], "lr": 0.1}] if two_groups else [p[0]]
    opt = opt_mod.SGD(groups, lr=0.3)
    out = []
    if before:
        sched = opt_mod.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        for _ in range(before):
            opt.step()
            sched.step()
            out.append([g["lr"] for g in opt.param_groups])
    swa_sched = swa.SWALR(opt, **kwargs)
    out.append([g["lr"] for g in opt.param_groups])
    for _ in range(steps):
        opt.step()
        swa_sched.step()
        out.append(swa_sched.get_last_lr())
    return out, swa_sched


SWALR_CASES = [
    dict(swa_lr=0.05),
    dict(swa_lr=0.05, anneal_epochs=4, anneal_strategy="linear"),
    dict(swa_lr=[0.02, 0.2], anneal_epochs=5),
    dict(swa_lr=0.01, anneal_epochs=0),
    dict(swa_lr=0.01, anneal_epochs=1, anneal_strategy="linear"),
]


@pytest.mark.parametrize("kwargs", SWALR_CASES, ids=[str(k) for k in SWALR_CASES])
@pytest.mark.parametrize("before", [0, 3])
def test_swalr_matches_torch(kwargs, before):
    mine, vs = _lr_sequence(vl, kwargs, before=before)
    theirs, ts = _lr_sequence(torch, kwargs, before=before)
    np.testing.assert_allclose(mine, theirs, rtol=1e-14, atol=0)
    assert mine[-1] == pytest.approx([0.02, 0.2] if isinstance(kwargs["swa_lr"], list) else
                                     [kwargs["swa_lr"]] * 2)
    skip = {"optimizer", "anneal_func", "_get_lr_called_within_step"}
    assert set(vs.state_dict()) - skip >= {"anneal_epochs", "_anneal_strategy", "base_lrs", "last_epoch"}


def test_swalr_state_dict_round_trip_and_errors():
    mine, sched = _lr_sequence(vl, dict(swa_lr=0.05, anneal_epochs=6), steps=3)
    p = vl.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [vl.zeros(1, requires_grad=True)], "lr": 0.5}, {"params": [p], "lr": 0.1}])
    fresh = swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=6)
    fresh.load_state_dict(sched.state_dict())
    for g, lr in zip(opt.param_groups, sched.get_last_lr()):
        g["lr"] = lr
    for _ in range(4):
        opt.step()
        fresh.step()
        sched.optimizer.step()
        sched.step()
        assert fresh.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-14)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, swa_lr=[0.1, 0.2, 0.3])


def test_reachable_as_torch_spells_it():
    import importlib

    assert importlib.import_module("visionlite.optim.swa_utils") is swa_utils
    assert vl.optim.swa_utils.AveragedModel is swa_utils.AveragedModel


def test_torchvision_reference_ema_subclass_matches_torch():
    """TorchVision's classification references subclass AveragedModel for a model EMA over parameters and
    buffers (integer BatchNorm counters included) and reset ``n_averaged`` after warm-up."""

    def make(base):
        class ExponentialMovingAverage(base):
            def __init__(self, model, decay, device="cpu"):
                def ema_avg(avg_model_param, model_param, num_averaged):
                    return decay * avg_model_param + (1 - decay) * model_param

                super().__init__(model, device, ema_avg, use_buffers=True)

        return ExponentialMovingAverage

    vm = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in vm.state_dict().items()})
    emas = make(swa_utils.AveragedModel)(vm, decay=0.9), make(tswa.AveragedModel)(tm, decay=0.9)
    x = rng.normal(size=(2, 1, 5, 5)).astype(np.float32)
    for i in range(4):
        vm(vl.tensor(x))
        tm(torch.tensor(x))
        for ema, model in zip(emas, (vm, tm)):
            ema.update_parameters(model)
            if i == 1:
                ema.n_averaged.fill_(0)
    _assert_same_state(emas[0].state_dict(), emas[1].state_dict(), atol=1e-6)
    assert emas[0].module[1].num_batches_tracked.item() == 3
