"""DataLoader workers started with 'spawn': they receive the dataset and functions by pickling and
import this module afresh, which is why it avoids importing torch (seconds per worker)."""
import os

import pytest

from visionlite import data


def record_init(worker_id):
    os.environ["VL_TEST_INIT"] = str(worker_id)


class InitSeen(data.Dataset):
    """Item i: what worker_init_fn recorded in this worker, the worker's id and its pid."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ.get("VL_TEST_INIT", "-1")), data.get_worker_info().id, os.getpid(), i


def test_spawn_workers_order_init_fn_and_worker_info():
    loader = data.DataLoader(InitSeen(), batch_size=1, num_workers=2, multiprocessing_context="spawn",
                             worker_init_fn=record_init, persistent_workers=True)
    for _ in range(2):
        batches = [[t.item() for t in b] for b in loader]
        assert [b[3] for b in batches] == [0, 1, 2, 3]
        assert [b[0] for b in batches] == [b[1] for b in batches] == [0, 1, 0, 1]  # round-robin workers
        assert len({b[2] for b in batches} - {os.getpid()}) == 2


def test_unpicklable_function_with_spawn_names_the_fix():
    loader = data.DataLoader(InitSeen(), num_workers=1, multiprocessing_context="spawn",
                             collate_fn=lambda b: b)
    with pytest.raises(TypeError, match="must be picklable"):
        iter(loader)
