"""Real learning: a small CNN trained with visionlite.optim on the 8x8 digits (1797 images shipped in
``visionlite/datasets/data/digits.csv.gz``) must classify a held-out split with at least 97% accuracy.
Everything runs through visionlite's own autograd, layers, loss and optimizer. (How long it takes is
measured by ``scripts/bench_*.py``; a test that times itself fails on a busy machine, not on a bug.)"""
import gzip
from pathlib import Path

import numpy as np

import visionlite as vl
from visionlite import nn, optim

DIGITS = Path(vl.__file__).parent / "datasets" / "data" / "digits.csv.gz"


def load_digits():
    """Images ``(1797, 1, 8, 8)`` scaled to [0, 1] and int64 labels ``(1797,)``."""
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    assert table.shape == (1797, 65), table.shape
    images = (table[:, :64] / 16.0).reshape(-1, 1, 8, 8)
    return images, table[:, 64].astype(np.int64)


def split(images, labels, test_fraction=0.2, seed=0):
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 4 x 4
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64 x 2 x 2
        nn.Flatten(), nn.Linear(256, 10),
    )


def accuracy(model, images, labels):
    model.eval()
    with vl.no_grad():
        predicted = model(vl.tensor(images)).argmax(1).numpy()
    model.train()
    return float((predicted == labels).mean())


def test_small_cnn_learns_digits():
    vl.manual_seed(0)
    (x_train, y_train), (x_test, y_test) = split(*load_digits())
    assert len(x_test) == 359 and set(np.unique(y_test)) == set(range(10))
    mean, std = x_train.mean(), x_train.std()  # statistics of the training split only
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    model = small_cnn()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.2)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    chance = accuracy(model, x_test, y_test)
    losses = []
    for _ in range(8):
        order = rng.permutation(len(y_train))
        for i in range(0, len(order), 32):
            batch = order[i:i + 32]
            loss = loss_fn(model(vl.tensor(x_train[batch])), vl.tensor(y_train[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        scheduler.step()
    acc = accuracy(model, x_test, y_test)
    assert chance < 0.3, f"an untrained model should be near chance, got {chance:.3f}"
    assert np.mean(losses[-20:]) < 0.25 * np.mean(losses[:20]), "the training loss should fall"
    assert acc >= 0.97, f"held-out accuracy {acc:.4f} < 0.97"
