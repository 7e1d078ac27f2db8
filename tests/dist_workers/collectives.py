"""Worker for tests/test_distributed.py: every collective on every rank, checked against numpy."""
import datetime

import numpy as np

import visionlite as vl
import visionlite.distributed as dist


def data(rank, shape=(3, 4), dtype=np.float32):
    return (np.arange(np.prod(shape)).reshape(shape) * (rank + 1) + rank).astype(dtype)


def main():
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
    r, n = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.is_available()
    every = [data(k) for k in range(n)]
    expect = {dist.ReduceOp.SUM: sum(every), dist.ReduceOp.AVG: sum(every) / n,
              dist.ReduceOp.MAX: np.max(every, 0), dist.ReduceOp.MIN: np.min(every, 0),
              dist.ReduceOp.PRODUCT: np.prod(every, 0)}
    for op, want in expect.items():
        t = vl.tensor(data(r))
        dist.all_reduce(t, op=op)
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-6, err_msg=str(op))
    # non-contiguous, int and float64 tensors; async with wait/is_completed
    t = vl.tensor(data(r, (4, 3), np.float64)).t()
    w = dist.all_reduce(t, async_op=True)
    w.wait()
    assert w.is_completed()
    np.testing.assert_allclose(t.numpy(), sum(data(k, (4, 3), np.float64) for k in range(n)).T)
    t = vl.tensor(data(r, (5,), np.int64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.dtype == vl.int64 and (t.numpy() == data(n - 1, (5,), np.int64)).all()
    # broadcast from the last rank
    t = vl.tensor(data(r))
    dist.broadcast(t, src=n - 1)
    np.testing.assert_array_equal(t.numpy(), data(n - 1))
    # all_gather (list and into one tensor)
    outs = [vl.zeros(3, 4) for _ in range(n)]
    dist.all_gather(outs, vl.tensor(data(r)))
    for k in range(n):
        np.testing.assert_array_equal(outs[k].numpy(), data(k))
    big = vl.zeros(n * 3, 4)
    dist.all_gather_into_tensor(big, vl.tensor(data(r)))
    np.testing.assert_array_equal(big.numpy(), np.concatenate(every))
    # reduce_scatter: rank k gets the sum of everyone's k-th input
    ins = [vl.tensor(data(r) + 10 * k) for k in range(n)]
    out = vl.zeros(3, 4)
    dist.reduce_scatter(out, ins)
    np.testing.assert_allclose(out.numpy(), sum(data(k) + 10 * r for k in range(n)))
    out = vl.zeros(3, 4)
    dist.reduce_scatter_tensor(out, vl.tensor(np.concatenate([data(r) + 10 * k for k in range(n)])),
                               op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(out.numpy(), sum(data(k) + 10 * r for k in range(n)) / n, rtol=1e-6)
    # reduce to rank 0
    t = vl.tensor(data(r))
    dist.reduce(t, dst=0)
    np.testing.assert_allclose(t.numpy(), sum(every) if r == 0 else data(r))
    # gather / scatter
    gl = [vl.zeros(3, 4) for _ in range(n)] if r == 0 else None
    dist.gather(vl.tensor(data(r)), gl, dst=0)
    if r == 0:
        for k in range(n):
            np.testing.assert_array_equal(gl[k].numpy(), data(k))
    t = vl.zeros(3, 4)
    dist.scatter(t, [vl.tensor(data(k) * 7) for k in range(n)] if r == 0 else None, src=0)
    np.testing.assert_array_equal(t.numpy(), data(r) * 7)
    # point to point: a ring
    nxt, prv = (r + 1) % n, (r - 1) % n
    got = vl.zeros(3, 4)
    req = dist.irecv(got, src=prv)
    dist.send(vl.tensor(data(r)), dst=nxt)
    req.wait()
    np.testing.assert_array_equal(got.numpy(), data(prv))
    if n > 1:
        if r == 0:
            dist.send(vl.tensor([5.0, 6.0]), dst=1)
        elif r == 1:
            buf = vl.zeros(2)
            assert dist.recv(buf) == 0
            assert buf.tolist() == [5.0, 6.0]
    # objects
    objs = [None] * n
    dist.all_gather_object(objs, {"rank": r, "name": "x" * r})
    assert objs == [{"rank": k, "name": "x" * k} for k in range(n)]
    lst = [r, "a", {"b": r}] if r == 0 else [None, None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "a", {"b": 0}]
    got = [None] * n if r == n - 1 else None
    dist.gather_object(("from", r), got, dst=n - 1)
    if r == n - 1:
        assert got == [("from", k) for k in range(n)]
    mine = [None]
    dist.scatter_object_list(mine, [f"to {k}" for k in range(n)] if r == 0 else None, src=0)
    assert mine == [f"to {r}"]
    # dtypes MPI has no reduction for: float16 (reduced in float32) and bool (MAX is any)
    t = vl.tensor(data(r, (4,), np.float16))
    dist.all_reduce(t)
    assert t.dtype == vl.float16
    np.testing.assert_allclose(t.numpy(), sum(data(k, (4,), np.float32) for k in range(n)), rtol=1e-3)
    t = vl.tensor([r == 0, False, True])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.tolist() == [True, False, True]
    # groups: the pair {0, n-1}; others get a non-member
    g = dist.new_group([0, n - 1])
    t = vl.tensor(data(r))
    dist.all_reduce(t, group=g)
    if r in (0, n - 1):
        np.testing.assert_allclose(t.numpy(), data(0) + data(n - 1) if n > 1 else data(0))
        assert dist.get_world_size(g) == min(n, 2)
    else:
        np.testing.assert_array_equal(t.numpy(), data(r))
    dist.barrier()
    dist.monitored_barrier(timeout=datetime.timedelta(seconds=20), wait_all_ranks=True)
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"rank {r} ok", flush=True)


if __name__ == "__main__":
    main()
