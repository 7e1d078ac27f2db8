"""Grad mode belongs to a thread, as in PyTorch: ``no_grad`` in one thread leaves the others recording.

The trainer's gradients are checked against PyTorch on the same data, computed outside any thread.
"""

import threading

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import nn

torch = require("torch")


def test_new_thread_starts_with_recording_on():
    seen = {}

    def probe():
        seen["enabled"] = vl.is_grad_enabled()
        seen["inference"] = vl.is_inference_mode_enabled()

    with vl.inference_mode():
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        assert not vl.is_grad_enabled()
    assert seen == {"enabled": True, "inference": False}


def test_set_grad_enabled_in_a_thread_stays_in_that_thread():
    done = threading.Event()
    changed = threading.Event()
    seen = {}

    def switcher():
        vl.set_grad_enabled(False)
        seen["inside"] = vl.is_grad_enabled()
        changed.set()
        done.wait(10)

    t = threading.Thread(target=switcher)
    t.start()
    assert changed.wait(10)
    assert vl.is_grad_enabled()
    assert (vl.ones(2, requires_grad=True) * 2).requires_grad
    done.set()
    t.join()
    assert seen["inside"] is False


def _torch_grads(w0, b0, xs, ys, lr):
    lin = torch.nn.Linear(w0.shape[1], w0.shape[0]).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w0))
        lin.bias.copy_(torch.from_numpy(b0))
    opt = torch.optim.SGD(lin.parameters(), lr=lr)
    grads = []
    for x, y in zip(xs, ys):
        opt.zero_grad()
        torch.nn.functional.mse_loss(lin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        grads.append((lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()))
        opt.step()
    return grads


def test_inference_threads_under_no_grad_do_not_stop_a_training_thread():
    rng = np.random.default_rng(0)
    steps, lr = 30, 0.05
    w0, b0 = rng.standard_normal((3, 5)), rng.standard_normal(3)
    xs = [rng.standard_normal((8, 5)) for _ in range(steps)]
    ys = [rng.standard_normal((8, 3)) for _ in range(steps)]
    expected = _torch_grads(w0, b0, xs, ys, lr)

    server_model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    all_in_no_grad = threading.Barrier(5)
    stop = threading.Event()
    errors, results = [], {}

    def serve(k):
        try:
            with vl.no_grad():
                all_in_no_grad.wait(10)
                n = 0
                while not stop.is_set() or n < 5:
                    out = server_model(vl.randn(4, 5))
                    if out.requires_grad or vl.is_grad_enabled():
                        errors.append(f"server {k}: recorded a graph under no_grad")
                    n += 1
                    # a nested enable_grad/no_grad churns this thread's mode while the trainer runs
                    with vl.enable_grad():
                        with vl.no_grad():
                            pass
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"server {k}: {e!r}")

    def train():
        try:
            lin = nn.Linear(5, 3).double()
            with vl.no_grad():
                lin.weight.copy_(vl.tensor(w0))
                lin.bias.copy_(vl.tensor(b0))
            opt = vl.optim.SGD(lin.parameters(), lr=lr)
            all_in_no_grad.wait(10)  # every server thread is inside its no_grad block now
            got = []
            for x, y in zip(xs, ys):
                opt.zero_grad()
                loss = nn.functional.mse_loss(lin(vl.tensor(x)), vl.tensor(y))
                loss.backward()
                got.append((lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()))
                opt.step()
            results["grads"] = got
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"trainer: {e!r}")
        finally:
            stop.set()

    threads = [threading.Thread(target=serve, args=(k,)) for k in range(4)] + [threading.Thread(target=train)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results["grads"]) == steps
    for (gw, gb), (ew, eb) in zip(results["grads"], expected):
        np.testing.assert_allclose(gw, ew, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, eb, rtol=1e-10, atol=1e-12)
    assert vl.is_grad_enabled()


def test_version_counter_api_tracks_in_place_changes_and_views():
    from visionlite.core.autograd.versions import bump_version, version_of

    a = vl.zeros(4)
    v = a[1:3]
    start = version_of(a)
    a.add_(1)
    assert version_of(a) == version_of(v) == start + 1
    bump_version(v)
    assert version_of(a) == start + 2
    x = vl.ones(3, requires_grad=True)
    y = x * 1
    z = y.exp()  # saves its output
    with vl.no_grad():
        y.mul_(2)
    z.sum().backward()  # z's own output is unchanged: fine
    w = x * 1
    s = w * w  # saves w
    with vl.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


def test_no_grad_in_one_asyncio_task_leaves_the_others_recording():
    import asyncio

    async def inference():
        with vl.no_grad():
            await asyncio.sleep(0.02)
            return vl.is_grad_enabled(), (vl.ones(2, requires_grad=True) * 2).requires_grad

    async def training():
        await asyncio.sleep(0.01)  # runs while the other task sits inside its no_grad block
        return vl.is_grad_enabled(), (vl.ones(2, requires_grad=True) * 2).requires_grad

    async def main():
        return await asyncio.gather(inference(), training())

    assert asyncio.run(main()) == [(False, False), (True, True)]
