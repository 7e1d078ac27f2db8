"""visionlite.optim.lr_scheduler against torch.optim.lr_scheduler: the same schedules must produce
exactly the same learning rates (and momenta) step by step, resume from state dicts, and reject bad
arguments alike."""
import re
import warnings

import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import optim

torch = require("torch")
lr_scheduler = optim.lr_scheduler

STEPS = 50


def _optimizer(lib, name="SGD", lrs=(0.1, 0.05), **kwargs):
    """An optimizer with one parameter group per entry of ``lrs``."""
    cls = getattr(optim if lib is vl else torch.optim, name)
    return cls([{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs], **kwargs)


def _schedulers(lib):
    return lr_scheduler if lib is vl else torch.optim.lr_scheduler


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _run(sched, opt, steps, metrics=None):
    """Step optimizer then scheduler ``steps`` times; the rates and momenta seen after each step."""
    seen = [(list(sched.get_last_lr()), _momenta(opt))]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        seen.append((list(sched.get_last_lr()), _momenta(opt)))
        assert [g["lr"] for g in opt.param_groups] == seen[-1][0]
    return seen


def _build(lib, make, opt_name, opt_kwargs):
    opt = _optimizer(lib, opt_name, **opt_kwargs)
    return make(_schedulers(lib), opt), opt


SGD = ("SGD", dict(momentum=0.9))
ADAM = ("Adam", {})
CASES = {
    "step": (lambda S, o: S.StepLR(o, step_size=7, gamma=0.5), SGD),
    "multistep": (lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), SGD),
    "exponential": (lambda S, o: S.ExponentialLR(o, gamma=0.93), SGD),
    "cosine": (lambda S, o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), SGD),
    "cosine-odd": (lambda S, o: S.CosineAnnealingLR(o, T_max=17), SGD),
    "linear-warmup": (lambda S, o: S.LinearLR(o, start_factor=0.1, total_iters=8), SGD),
    "linear-decay": (lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20), SGD),
    "constant": (lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4), SGD),
    "polynomial": (lambda S, o: S.PolynomialLR(o, total_iters=30, power=2.0), SGD),
    "lambda": (lambda S, o: S.LambdaLR(o, lr_lambda=lambda e: 0.95**e), SGD),
    "lambda-per-group": (lambda S, o: S.LambdaLR(o, lr_lambda=[lambda e: 1 / (e + 1),
                                                               lambda e: 0.9 ** (e // 3)]), SGD),
    "multiplicative": (lambda S, o: S.MultiplicativeLR(o, lr_lambda=lambda e: 0.97 if e % 2 else 0.99), SGD),
    "onecycle": (lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=STEPS), SGD),
    "onecycle-three-phase-linear": (lambda S, o: S.OneCycleLR(
        o, max_lr=[1.0, 0.5], total_steps=STEPS, anneal_strategy="linear", three_phase=True, pct_start=0.25,
        div_factor=10.0, final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.99), SGD),
    "onecycle-adam-betas": (lambda S, o: S.OneCycleLR(o, max_lr=0.01, epochs=5, steps_per_epoch=10), ADAM),
    "onecycle-no-momentum": (lambda S, o: S.OneCycleLR(o, max_lr=0.3, total_steps=60, cycle_momentum=False),
                             ("Adagrad", {})),
    "cyclic": (lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5), SGD),
    "cyclic-triangular2": (lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=4,
                                                   step_size_down=7, mode="triangular2"), SGD),
    "cyclic-exp-range-adam": (lambda S, o: S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=6,
                                                      mode="exp_range", gamma=0.97), ADAM),
    "cyclic-scale-fn": (lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                cycle_momentum=False, scale_fn=lambda x: 0.5 ** x,
                                                scale_mode="iterations"), SGD),
    "warm-restarts": (lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.01), SGD),
    "warm-restarts-mult": (lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2), SGD),
    "sequential": (lambda S, o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                   S.CosineAnnealingLR(o, T_max=20)], milestones=[5]), SGD),
    "sequential-three": (lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.2, total_iters=10),
                                                         S.ExponentialLR(o, gamma=0.9),
                                                         S.StepLR(o, step_size=4)], milestones=[3, 10]), SGD),
    "chained": (lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=2),
                                                 S.ExponentialLR(o, gamma=0.9)]), SGD),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sequence_equals_torch(case):
    make, (opt_name, opt_kwargs) = CASES[case]
    runs = [_run(*_build(lib, make, opt_name, opt_kwargs), STEPS) for lib in (vl, torch)]
    assert runs[0] == runs[1]  # exactly: same floating-point operations in the same order
    assert len({lr[0] for lr, _ in runs[0]}) > 1  # the schedule really changed the rate


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.8,
           0.81, 0.82, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
PLATEAU = {
    "default-patience": dict(patience=2),
    "max-abs": dict(mode="max", threshold=0.01, threshold_mode="abs", patience=1, factor=0.5),
    "cooldown-min-lrs": dict(patience=1, cooldown=2, min_lr=[0.02, 0.01], factor=0.3),
    "abs-eps": dict(patience=0, threshold=0.05, threshold_mode="abs", eps=0.02, factor=0.5),
}


@pytest.mark.parametrize("case", list(PLATEAU))
def test_reduce_on_plateau_equals_torch(case):
    runs = []
    for lib in (vl, torch):
        opt = _optimizer(lib, "SGD", momentum=0.9)
        sched = _schedulers(lib).ReduceLROnPlateau(opt, **PLATEAU[case])
        runs.append(_run(sched, opt, len(METRICS), metrics=METRICS))
    assert runs[0] == runs[1]
    assert runs[0][-1][0] != runs[0][0][0]


RESUMABLE = ["step", "multistep", "cosine", "linear-warmup", "onecycle-adam-betas", "cyclic-triangular2",
             "warm-restarts-mult", "sequential", "chained", "lambda"]


@pytest.mark.parametrize("case", RESUMABLE)
def test_state_dict_round_trip_mid_way(case):
    make, (opt_name, opt_kwargs) = CASES[case]
    straight = _run(*_build(vl, make, opt_name, opt_kwargs), STEPS)

    sched, opt = _build(vl, make, opt_name, opt_kwargs)
    first = _run(sched, opt, 20)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    sched2, opt2 = _build(vl, make, opt_name, opt_kwargs)  # scheduler built first, then both loaded
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    rest = _run(sched2, opt2, STEPS - 20)
    assert first + rest[1:] == straight


def test_reduce_on_plateau_state_dict_round_trip():
    opt = _optimizer(vl)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    straight = _run(sched, opt, len(METRICS), metrics=METRICS)
    opt = _optimizer(vl)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    first = _run(sched, opt, 13, metrics=METRICS)
    opt2 = _optimizer(vl)
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2, patience=5)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert first + _run(sched2, opt2, len(METRICS) - 13, metrics=METRICS[13:])[1:] == straight


def test_state_dict_keys_equal_torch():
    for make in (CASES["cosine"][0], CASES["onecycle"][0], CASES["sequential"][0]):
        dicts = []
        for lib in (vl, torch):
            sched, opt = _build(lib, make, "SGD", dict(momentum=0.9))
            _run(sched, opt, 3)
            dicts.append(sched.state_dict())
        assert set(dicts[0]) == set(dicts[1])
        for key in ("last_epoch", "base_lrs", "_last_lr", "_step_count"):
            assert dicts[0].get(key) == dicts[1].get(key)
    opt = _optimizer(vl)
    lr_scheduler.StepLR(opt, step_size=3)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]


def test_deprecated_step_with_epoch_uses_the_closed_form_like_torch():
    seen = []
    for lib in (vl, torch):
        opt = _optimizer(lib)
        sched = _schedulers(lib).StepLR(opt, step_size=3, gamma=0.5)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (4, 9, 2, 7):
                opt.step()
                sched.step(epoch)
                out.append(sched.get_last_lr())
        seen.append(out)
    assert seen[0] == seen[1]
    opt = _optimizer(vl)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(2)


def test_warns_when_stepped_before_the_optimizer():
    opt = _optimizer(vl)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=re.escape("before `optimizer.step()`")):
        sched.step()
    opt = _optimizer(vl)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
        sched.step()


def test_get_lr_outside_step_warns():
    sched = lr_scheduler.ExponentialLR(_optimizer(vl), gamma=0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_optimizer(vl), step_size=2, last_epoch=5)


def test_resuming_cosine_with_last_epoch_equals_torch():
    seen = []
    for lib in (vl, torch):
        opt = _optimizer(lib)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        sched = _schedulers(lib).CosineAnnealingLR(opt, T_max=12, eta_min=0.01, last_epoch=4)
        seen.append(_run(sched, opt, 15))
    assert seen[0] == seen[1]


def test_onecycle_refuses_to_step_past_the_end():
    opt = _optimizer(vl)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def _torch_error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


INVALID = {
    "constant-factor": lambda S, o: S.ConstantLR(o, factor=2.0),
    "linear-start": lambda S, o: S.LinearLR(o, start_factor=0.0),
    "linear-end": lambda S, o: S.LinearLR(o, end_factor=1.5),
    "onecycle-total": lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=0),
    "onecycle-no-length": lambda S, o: S.OneCycleLR(o, max_lr=1.0),
    "onecycle-epochs": lambda S, o: S.OneCycleLR(o, max_lr=1.0, epochs=-1, steps_per_epoch=3),
    "onecycle-pct": lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
    "onecycle-anneal": lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
    "onecycle-max-lr-list": lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 2.0, 3.0], total_steps=10),
    "cyclic-mode": lambda S, o: S.CyclicLR(o, base_lr=0.1, max_lr=1.0, mode="sine"),
    "warm-restarts-t0": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0),
    "warm-restarts-tmult": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    "plateau-factor": lambda S, o: S.ReduceLROnPlateau(o, factor=1.0),
    "plateau-mode": lambda S, o: S.ReduceLROnPlateau(o, mode="down"),
    "plateau-threshold-mode": lambda S, o: S.ReduceLROnPlateau(o, threshold_mode="pct"),
    "plateau-min-lrs": lambda S, o: S.ReduceLROnPlateau(o, min_lr=[0.1]),
    "lambda-count": lambda S, o: S.LambdaLR(o, lr_lambda=[lambda e: 1.0]),
    "multiplicative-not-callable": lambda S, o: S.MultiplicativeLR(o, lr_lambda=0.9),
    "sequential-milestones": lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], milestones=[]),
    "sequential-plateau": lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2), S.ReduceLROnPlateau(o)],
                                                      milestones=[3]),
    "sequential-empty": lambda S, o: S.SequentialLR(o, [], milestones=[]),
    "not-an-optimizer": lambda S, o: S.StepLR(object(), step_size=2),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_arguments_raise_like_torch(case):
    exc_type, message = _torch_error(lambda: INVALID[case](torch.optim.lr_scheduler, _optimizer(torch)))
    with pytest.raises(exc_type, match=re.escape(message)):
        INVALID[case](lr_scheduler, _optimizer(vl))


def test_cycle_momentum_needs_an_optimizer_with_momentum():
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(_optimizer(vl, "Adagrad"), max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.CyclicLR(_optimizer(vl, "Adagrad"), base_lr=0.01, max_lr=0.1)


def test_schedule_drives_a_training_step():
    p = vl.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for expected in (1.0, 0.5, 0.25):
        opt.zero_grad()
        p.grad = vl.tensor([1.0])
        before = p.item()
        opt.step()
        assert before - p.item() == pytest.approx(expected)
        sched.step()
