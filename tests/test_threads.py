"""One threading model: ``set_num_threads`` sizes visionlite's op pool, which also splits the GEMMs
while numpy's BLAS stays single-threaded; OpenBLAS's idle workers do not spin over the pool's work, forked
children work, and results do not depend on the thread count."""

import multiprocessing as mp
import os
import subprocess
import sys

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite.core.ops import _blas, _threads

torch = require("torch")

needs_openblas = pytest.mark.skipif(_blas.openblas() is None, reason="numpy does not use OpenBLAS here")


@pytest.fixture
def restore_threads(monkeypatch):
    before = vl.get_num_threads()
    monkeypatch.setattr(_threads, "_override", [None])
    yield
    vl.set_num_threads(before)
    _threads._override[0] = None


def _blas_threads_seen_by_threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]


@needs_openblas
def test_set_num_threads_sizes_the_pool_and_its_gemm_split_blas_single(restore_threads, monkeypatch):
    from visionlite.core.ops import _gemm_pool

    monkeypatch.setattr(_threads, "_MIN_ELEMS", 0)
    blocks = []
    real_split = _gemm_pool._split
    monkeypatch.setattr(_gemm_pool, "_split", lambda part, extent, k: (blocks.append(k), real_split(part,
                                                                                                  extent, k)))
    for n in (1, 2, 3):
        vl.set_num_threads(n)
        assert vl.get_num_threads() == n
        assert _blas.get_blas_threads() == 1  # the BLAS library's own getter: the pool does the splitting
        seen = _blas_threads_seen_by_threadpoolctl()
        assert seen is None or set(seen) == {1}
        assert len(_threads.split_map(lambda a, b: (a, b), 12, 10**6)) == n
        _gemm_pool.matmul(np.ones((64, 256), np.float32), np.ones((256, 4096), np.float32))
        assert _blas.get_blas_threads() == 1
    assert blocks == [2, 3]  # one thread: one plain call
    with pytest.raises(RuntimeError, match="positive integer"):
        vl.set_num_threads(0)


def test_interop_threads(monkeypatch):
    monkeypatch.setattr(_threads, "_interop", [None])
    assert vl.get_num_interop_threads() == len(os.sched_getaffinity(0))  # PyTorch's default: the cores
    vl.set_num_interop_threads(3)
    assert vl.get_num_interop_threads() == 3
    for bad in (0, -1, 2.0, True):
        with pytest.raises(RuntimeError, match="set_num_interop_threads expects a positive integer"):
            vl.set_num_interop_threads(bad)


_CHILD = r"""
import os, sys
{pre}
import visionlite as vl
from visionlite.core.ops import _blas
lib = _blas.openblas()
print(lib.openblas_thread_timeout(), "OPENBLAS_THREAD_TIMEOUT" in os.environ, vl.get_num_threads(),
      _blas.get_blas_threads())
"""


@needs_openblas
@pytest.mark.parametrize("numpy_first", [False, True])
def test_idle_workers_quieted_whatever_the_import_order(numpy_first):
    pre = "import numpy; numpy.ones((64, 64)) @ numpy.ones((64, 64))" if numpy_first else ""
    drop = ("OPENBLAS_THREAD_TIMEOUT", "VISIONLITE_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    out = subprocess.run([sys.executable, "-c", _CHILD.format(pre=pre)], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out[0] == _blas._IDLE_TIMEOUT  # OpenBLAS now uses the short spin
    assert out[1] == "False"  # and the variable did not leak into the environment
    assert int(out[2]) >= 1 and out[3] == "1"  # the pool sized, BLAS single-threaded


@needs_openblas
def test_user_thread_count_from_environment():
    # OPENBLAS_NUM_THREADS as numpy's BLAS took it (OpenBLAS caps it at the CPUs, so 1 to be sure)
    for var, value in (("VISIONLITE_NUM_THREADS", "3"), ("OPENBLAS_NUM_THREADS", "1")):
        env = {k: v for k, v in os.environ.items() if k not in ("VISIONLITE_NUM_THREADS", "OMP_NUM_THREADS")}
        env[var] = value
        out = subprocess.run([sys.executable, "-c", _CHILD.format(pre="")], env=env, capture_output=True,
                             text=True, timeout=120, check=True).stdout.split()
        assert out[2:] == [value, "1"], var


def _net_step(seed=0):
    """conv -> batch norm -> relu -> max pool forward and backward, large enough for the pool to split."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 8, 48, 48), dtype=np.float32)
    w = rng.standard_normal((16, 8, 3, 3), dtype=np.float32) * 0.2
    return x, w


def _vl_run(x, w):
    xv, wv = vl.tensor(x, requires_grad=True), vl.tensor(w, requires_grad=True)
    y = vl.nn.functional.conv2d(xv, wv, padding=1)
    y = vl.nn.functional.batch_norm(y, None, None, training=True)
    y = vl.nn.functional.max_pool2d(vl.nn.functional.relu(y), 2)
    (y * y).sum().backward()
    return y.detach().numpy(), xv.grad.numpy(), wv.grad.numpy()


def _torch_run(x, w):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, padding=1)
    y = torch.nn.functional.batch_norm(y, None, None, training=True)
    y = torch.nn.functional.max_pool2d(torch.nn.functional.relu(y), 2)
    (y * y).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def test_results_same_with_one_and_two_threads(restore_threads):
    x, w = _net_step()
    vl.set_num_threads(1)
    one = _vl_run(x, w)
    vl.set_num_threads(2)
    two = _vl_run(x, w)
    ref = _torch_run(x, w)
    for a, b, r in zip(one, two, ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)  # float32 sums split differently
        np.testing.assert_allclose(b, r, rtol=1e-4, atol=1e-3)


def _child_step(queue):
    x, w = _net_step()
    queue.put([a.tolist() for a in _vl_run(x, w)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_uses_pool_and_blas(restore_threads):
    vl.set_num_threads(2)
    x, w = _net_step()
    parent = _vl_run(x, w)  # pool and BLAS workers are live in the parent when it forks
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_step, args=(queue,))
    proc.start()
    child = queue.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    for a, b in zip(parent, child):
        np.testing.assert_allclose(a, np.asarray(b, dtype=np.float32), rtol=1e-5, atol=1e-5)


def test_parts_run_on_the_workers_in_order(restore_threads):
    import threading

    vl.set_num_threads(3)
    seen = []
    out = _threads.split_map(lambda a, b: seen.append(threading.current_thread().name) or (a, b), 9, 10**6)
    assert out == [(0, 3), (3, 6), (6, 9)]
    assert sorted(seen)[:2] == ["MainThread", "visionlite-op-0"] and "visionlite-op-1" in seen


def test_an_error_in_a_worker_part_reaches_the_caller_and_the_pool_recovers(restore_threads):
    vl.set_num_threads(2)

    def part(a, b):
        if a > 0:
            raise ValueError(f"part {a}-{b} failed")
        return a

    with pytest.raises(ValueError, match="part 5-10 failed"):
        _threads.split_map(part, 10, 10**6)
    assert _threads.split_map(lambda a, b: b - a, 10, 10**6) == [5, 5]  # the workers are idle again


def test_parts_split_again_inside_a_part_run_inline(restore_threads):
    vl.set_num_threads(2)
    inner = []
    def part(a, b):
        inner.append(_threads.split_map(lambda c, d: (c, d), 4, 10**6))

    outer = _threads.split_map(part, 2, 10**6)
    assert outer == [None, None] and inner == [[(0, 4)], [(0, 4)]]


def test_two_callers_at_once_get_their_own_results(restore_threads):
    # a second thread that finds the pool busy runs its parts inline; both see exactly their own results
    import threading

    vl.set_num_threads(2)
    results, errors = {}, []

    def caller(tag):
        try:
            for _ in range(200):
                got = _threads.split_map(lambda a, b: (tag, a, b), 8, 10**6)
                assert got == [(tag, 0, 4), (tag, 4, 8)], got
            results[tag] = True
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=caller, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == {"a": True, "b": True}
