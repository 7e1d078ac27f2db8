"""Samplers: the order in which a DataLoader visits a map-style dataset's indices.

Random samplers draw from a ``visionlite.Generator`` when given one; without one, each pass draws a
fresh seed from the default generator, so ``visionlite.manual_seed`` makes whole runs repeat.
"""
import os

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DistributedSampler"]


def _numpy_rng(generator):
    """The numpy Generator to draw from: ``generator``'s own, or one freshly seeded from the default."""
    if generator is not None:
        return generator.numpy_generator()
    from ..random import default_generator

    return np.random.Generator(np.random.PCG64(int(default_generator.numpy_generator().integers(2**63))))


def _check_positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")


class Sampler:
    """Base class: subclasses define ``__iter__`` over indices (and ``__len__`` where known)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in random order; ``replacement=True`` draws ``num_samples`` indices independently.

    Without replacement, a ``num_samples`` larger than the dataset chains whole permutations.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, total = len(self.data_source), self.num_samples
        rng = _numpy_rng(self.generator)
        if self.replacement:
            yield from rng.integers(0, n, size=total).tolist()
            return
        for _ in range(total // n):
            yield from rng.permutation(n).tolist()
        if total % n:
            yield from rng.permutation(n)[:total % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _numpy_rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices into ``weights`` drawn with probability proportional to each weight."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        w = np.asarray(weights.__array__() if hasattr(weights, "_data") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {int((w > 0).sum())} non-zero weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        rng = _numpy_rng(self.generator)
        yield from rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """The share of ``dataset`` for process ``rank`` of ``num_replicas``: every process sees a disjoint
    slice of one common (optionally shuffled) order, padded by repetition to equal lengths unless
    ``drop_last``. Call ``set_epoch(epoch)`` each epoch so the shuffle changes.

    ``num_replicas`` and ``rank`` default to the process group's (``visionlite.distributed``), else to the
    ``WORLD_SIZE`` and ``RANK`` environment variables.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        num_replicas = _from_env(num_replicas, "WORLD_SIZE", "num_replicas")
        rank = _from_env(rank, "RANK", "rank")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            # Seeded by seed + epoch alone, so every process computes the same order: PyTorch's very order.
            order = _torch_randperm(n, self.seed + self.epoch)
        else:
            order = list(range(n))
        if len(order) < self.total_size:
            pad = self.total_size - len(order)
            order += (order * -(-pad // len(order)))[:pad]
        else:
            order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch, which (with ``seed``) picks the shuffle of the next pass."""
        self.epoch = epoch


def _torch_randperm(n, seed):
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()`` without torch: its CPU
    generator is a 32-bit Mersenne Twister seeded with the low 32 bits of ``seed`` (numpy's MT19937 with
    the same legacy seeding), and for n below 2**32 / 20 randperm is a Fisher-Yates shuffle that swaps item
    i with item ``i + draw % (n - i)``."""
    if n >= (2**32 - 1) // 20:
        raise ValueError(f"DistributedSampler: {n} samples exceed the shuffle reproduced here (PyTorch's "
                         "small-n randperm); pass shuffle=False and shuffle through the dataset")
    bits = np.random.MT19937()
    bits._legacy_seeding(int(seed) & 0xFFFFFFFF)
    draws = bits.random_raw(max(n - 1, 0)).tolist()
    order = list(range(n))
    for i, d in enumerate(draws):
        j = i + d % (n - i)
        order[i], order[j] = order[j], order[i]
    return order


def _from_env(value, var, name):
    if value is not None:
        return int(value)
    from .. import distributed

    if distributed.is_initialized():  # as PyTorch: the default process group's size and rank
        return distributed.get_world_size() if name == "num_replicas" else distributed.get_rank()
    if var in os.environ:
        return int(os.environ[var])
    raise ValueError("Default process group has not been initialized, please make sure to call "
                     f"init_process_group. (DistributedSampler: or pass {name}=, or set {var}.)")
