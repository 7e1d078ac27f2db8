"""DataLoader: batching as torch's DataLoader does, and real worker processes (the platform's default
start method; test_data_spawn.py covers 'spawn'): order, seeding, persistent workers, IterableDataset
sharding, exceptions, crashes and timeouts. Only the tests comparing with PyTorch need torch."""
import os
import random
import signal
import sys
import time

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import data


def torch_data():
    """``torch.utils.data``, skipping the calling test where torch is not installed."""
    return require("torch").utils.data


def to_np(batch):
    if hasattr(batch, "numpy") and not isinstance(batch, np.ndarray):  # a visionlite or torch tensor
        return batch.numpy()
    if isinstance(batch, (list, tuple)):
        return [to_np(b) for b in batch]
    if isinstance(batch, dict):
        return {k: to_np(v) for k, v in batch.items()}
    return batch


def assert_batches_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = to_np(a), to_np(b)
        assert type(a) is type(b)
        if isinstance(a, list):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(a, b)


class Squares:
    """A map-style dataset without a base class (as PyTorch allows): item i is (i*i as float32, i)."""

    def __init__(self, n, delay_every=0):
        self.n, self.delay_every = n, delay_every

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay_every and i % self.delay_every == 0:
            time.sleep(0.02)  # makes the first worker slow, so out-of-order arrival is likely
        return np.float32(i * i), i


class RandomDraws(data.Dataset):
    """Item i: numbers from each RNG a worker seeds, and the worker's id and pid."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = data.get_worker_info()
        return {"py": random.random(), "np": np.random.rand(), "vl": vl.rand(1).item(),
                "worker": -1 if info is None else info.id, "pid": os.getpid(),
                "seed": -1 if info is None else info.seed}


class Failing(data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise_from_dataset(i)
        return i


def raise_from_dataset(i):
    raise KeyError(f"item {i} is broken")


class Killing(data.Dataset):
    def __init__(self, how):
        self.how = how

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        return i


class KillOnce(data.Dataset):
    """Item 3 kills its worker the first time it is asked for (a marker file remembers)."""

    def __init__(self, marker):
        self.marker = marker

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3 if i == 2 else 0)
        return i


class Sharded(data.IterableDataset):
    """range(start, stop) split across workers by get_worker_info(), as PyTorch's docs show."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        info = data.get_worker_info()
        torch = sys.modules.get("torch")
        if info is None and torch is not None:  # the same dataset also runs in torch's workers
            info = torch.utils.data.get_worker_info()
        if info is None:
            return iter(range(self.start, self.stop))
        per = -(-(self.stop - self.start) // info.num_workers)
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.stop)))

    def __len__(self):
        return self.stop - self.start


class Unpicklable(data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i


def collect(loader):
    return [b for b in loader]


# ----------------------------------------------------------------------------------------------- batching

@pytest.mark.parametrize("kwargs", [
    dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
    dict(batch_size=3, collate_fn=lambda b: [x[1] for x in b])])
def test_single_process_matches_torch(kwargs):
    tud = torch_data()
    ours = collect(data.DataLoader(Squares(10), **kwargs))
    theirs = collect(tud.DataLoader(Squares(10), **kwargs))
    assert_batches_equal(ours, theirs)
    assert len(data.DataLoader(Squares(10), **kwargs)) == len(tud.DataLoader(Squares(10), **kwargs))


def test_batch_sampler_and_tensor_dataset_match_torch():
    torch = require("torch")
    tud = torch.utils.data
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    sampler = [[3, 1], [0], [9, 8, 7]]
    ours = collect(data.DataLoader(data.TensorDataset(vl.tensor(x)), batch_sampler=sampler))
    theirs = collect(tud.DataLoader(tud.TensorDataset(torch.tensor(x)), batch_sampler=sampler))
    assert_batches_equal(ours, theirs)


def test_shuffle_is_a_permutation_and_follows_generator():
    def epoch(seed):
        loader = data.DataLoader(Squares(10), batch_size=3, shuffle=True,
                                 generator=vl.Generator().manual_seed(seed))
        return np.concatenate([b[1].numpy() for b in loader])

    a = epoch(0)
    assert sorted(a.tolist()) == list(range(10)) and a.tolist() != list(range(10))
    np.testing.assert_array_equal(a, epoch(0))
    assert not np.array_equal(a, epoch(1))


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "mutually exclusive with drop_last"),
    (dict(multiprocessing_context="spawn"), "multiprocessing_context can only be used"),
    (dict(num_workers=1, multiprocessing_context="nope"), "valid start method"),
])
def test_option_errors_match_torch(kwargs, match):
    tud = torch_data()
    with pytest.raises(ValueError, match=match):
        data.DataLoader(Squares(4), **kwargs)
    with pytest.raises(ValueError):
        tud.DataLoader(Squares(4), **kwargs)


def test_iterable_dataset_option_errors_and_frozen_attributes():
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Sharded(0, 4), shuffle=True)
    loader = data.DataLoader(Squares(4))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 2
    assert data.get_worker_info() is None


# ----------------------------------------------------------------------------------------------- workers

@pytest.mark.parametrize("prefetch_factor", [1, 3])
def test_workers_return_batches_in_order(prefetch_factor):
    ds = Squares(50, delay_every=6)
    got = collect(data.DataLoader(ds, batch_size=3, num_workers=2, prefetch_factor=prefetch_factor))
    assert [b[1].tolist() for b in got] == [list(range(i, min(i + 3, 50))) for i in range(0, 50, 3)]
    assert_batches_equal(got, collect(data.DataLoader(ds, batch_size=3)))


def test_workers_match_torch():
    tud = torch_data()
    ds = Squares(50, delay_every=6)
    assert_batches_equal(collect(data.DataLoader(ds, batch_size=3, num_workers=2)),
                         collect(tud.DataLoader(ds, batch_size=3)))


def _draws(batches):
    return np.array([[b[k] for k in ("py", "np", "vl")] for b in batches])


def test_worker_seeds_differ_across_workers_and_epochs_and_repeat_across_runs():
    def run(seed, persistent):
        loader = data.DataLoader(RandomDraws(), batch_size=None, num_workers=2, persistent_workers=persistent,
                                 generator=vl.Generator().manual_seed(seed))
        epochs = [collect(loader) for _ in range(2)]
        return _draws(epochs[0]), _draws(epochs[1]), [[b["seed"] for b in e[:2]] for e in epochs]

    for persistent in (False, True):
        first, second, (seeds, next_seeds) = run(0, persistent)
        again, second_again, _ = run(0, persistent)
        np.testing.assert_array_equal(first, again)  # same generator seed -> same numbers
        np.testing.assert_array_equal(second, second_again)
        assert not np.isin(first, second).any()  # a new epoch draws new worker seeds
        worker0, worker1 = first[0::2], first[1::2]  # items alternate between the two workers
        assert not np.isin(worker0, worker1).any()
        assert len(set(first[:, 0])) == 8
        assert len(set(seeds)) == 2 and seeds[1] - seeds[0] == 1  # base_seed + worker_id
        assert not set(seeds) & set(next_seeds)  # each epoch a new base seed, persistent workers too
        other, _, _ = run(1, persistent)
        assert not np.isin(first, other).any()


def test_persistent_workers_reuse_processes_and_survive_an_early_break():
    loader = data.DataLoader(RandomDraws(), batch_size=1, num_workers=2, persistent_workers=True,
                             prefetch_factor=2)
    pids = {b["pid"].item() for b in loader}
    for _ in loader:
        break  # leaves prefetched batches behind
    batches = collect(loader)
    assert len(batches) == 8 and {b["pid"].item() for b in batches} == pids
    assert [b["worker"].item() for b in batches] == [0, 1] * 4


def test_iterable_dataset_with_workers_matches_torch():
    tud = torch_data()

    class TorchSharded(Sharded, tud.IterableDataset):
        pass

    for kwargs in (dict(batch_size=None), dict(batch_size=2), dict(batch_size=2, drop_last=True)):
        ours = collect(data.DataLoader(Sharded(0, 7), num_workers=2, **kwargs))
        # 'fork' hands the dataset over without pickling, so a class local to this test is fine.
        theirs = collect(tud.DataLoader(TorchSharded(0, 7), num_workers=2, multiprocessing_context="fork",
                                        **kwargs))
        assert_batches_equal(ours, theirs)


def test_iterable_dataset_with_workers_shards():
    ours = collect(data.DataLoader(Sharded(0, 5), num_workers=2, persistent_workers=True, batch_size=2))
    assert [b.tolist() for b in ours] == [[0, 1], [3, 4], [2]]


class Endless(data.IterableDataset):
    """An IterableDataset with no __len__."""

    def __iter__(self):
        return iter(range(3))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_len_of_an_iterator_outlives_its_loader(num_workers):
    it = iter(data.DataLoader(list(range(10)), batch_size=2, num_workers=num_workers))  # loader now freed
    assert len(it) == 5  # as torch's iterator gives
    assert len(collect(it)) == 5


def test_len_of_an_iterator_matches_torch():
    tud = torch_data()
    for num_workers in (0, 2):
        for kwargs in (dict(batch_size=3), dict(batch_size=3, drop_last=True)):
            ours = iter(data.DataLoader(list(range(10)), num_workers=num_workers, **kwargs))
            theirs = iter(tud.DataLoader(list(range(10)), num_workers=num_workers, **kwargs))
            assert len(ours) == len(theirs)


def test_len_of_a_persistent_iterator_and_of_one_without_length():
    loader = data.DataLoader(list(range(7)), batch_size=2, num_workers=2, persistent_workers=True)
    assert [len(iter(loader)) for _ in range(2)] == [4, 4]
    for num_workers in (0, 1):
        it = iter(data.DataLoader(Endless(), batch_size=2, num_workers=num_workers))
        with pytest.raises(TypeError, match="Endless"):
            len(it)
        assert [b.tolist() for b in it] == [[0, 1], [2]]  # iterating still works


def test_in_order():
    assert data.DataLoader(Squares(4)).in_order is True
    assert len(collect(data.DataLoader(Squares(4), in_order=False))) == 4  # no workers: no effect, as torch
    assert len(collect(data.DataLoader(Squares(4), num_workers=1, in_order=True))) == 4
    with pytest.raises(NotImplementedError, match="in_order=False"):
        data.DataLoader(Squares(4), num_workers=1, in_order=False)


def test_worker_exception_is_reraised_with_its_traceback():
    loader = data.DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as info:
        collect(loader)
    text = str(info.value)
    assert "Caught KeyError in DataLoader worker process 1" in text
    assert "raise_from_dataset" in text and "item 3 is broken" in text


def failing_init(worker_id):
    raise ValueError(f"worker {worker_id} cannot start")


def test_worker_init_fn_error_is_reraised():
    expected = "(?s)in DataLoader worker process 0.*failing_init.*worker 0 cannot start"
    with pytest.raises(ValueError, match=expected):
        collect(data.DataLoader(Squares(4), num_workers=1, worker_init_fn=failing_init))


@pytest.mark.parametrize("how, match", [("kill", "killed by signal SIGKILL"), ("exit", "exit code 3")])
def test_dead_worker_raises_instead_of_hanging(how, match):
    loader = data.DataLoader(Killing(how), batch_size=2, num_workers=2, timeout=10)  # a regression fails
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=match) as info:
        collect(loader)
    assert "DataLoader worker" in str(info.value) and time.monotonic() - start < 10


def test_persistent_loader_starts_new_workers_after_a_crash(tmp_path):
    loader = data.DataLoader(KillOnce(str(tmp_path / "killed")), batch_size=2, num_workers=2,
                             persistent_workers=True, timeout=10)  # a regression fails, not hangs
    with pytest.raises(RuntimeError, match="SIGKILL"):
        collect(loader)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]


def test_timeout_raises():
    loader = data.DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5)
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        collect(loader)


def test_unpicklable_sample_is_a_clear_error_not_a_hang():
    with pytest.raises(Exception, match="while sending a batch to the main process"):
        collect(data.DataLoader(Unpicklable(), batch_size=None, num_workers=1))
