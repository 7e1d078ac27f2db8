"""DataLoader workers started with 'spawn': they receive the dataset and functions by pickling and
import this module afresh, which is why it avoids importing torch (seconds per worker)."""
import os

import numpy as np
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


def test_spawn_workers_run_a_transform_pipeline_with_default_collate():
    # The dataset and its Compose of built-in transforms reach the workers by pickling.
    from visionlite import transforms as T
    from visionlite.datasets import FakeData

    mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])
    pipeline = T.Compose([T.CenterCrop(12), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize(mean.tolist(), std.tolist())])
    ds = FakeData(size=6, image_size=(3, 16, 20), num_classes=4, transform=pipeline)
    loader = data.DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    batches = list(loader)
    assert [tuple(images.shape) for images, _ in batches] == [(4, 3, 12, 12), (2, 3, 12, 12)]
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    raw = FakeData(size=6, image_size=(3, 16, 20), num_classes=4)
    for i in range(6):
        img, label = raw[i]
        crop = np.asarray(img, dtype=np.float64)[2:14, 4:16].transpose(2, 0, 1) / 255  # centre of 16x20
        expected = (crop - mean[:, None, None]) / std[:, None, None]
        assert labels[i] == label
        flipped = np.allclose(images[i], expected[..., ::-1], atol=1e-5)
        assert np.allclose(images[i], expected, atol=1e-5) or flipped
