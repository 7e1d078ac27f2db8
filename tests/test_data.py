"""visionlite.data without worker processes: datasets, random_split, samplers and default_collate,
compared with torch.utils.data on the same inputs."""
import collections
import warnings

import numpy as np
import pytest

import visionlite as vl
from tests.helpers.refs import require
from visionlite import data

torch = require("torch")
tud = torch.utils.data


def as_numpy(x):
    """Nested containers with torch or visionlite tensors -> the same containers with numpy arrays."""
    if isinstance(x, (torch.Tensor, vl.Tensor)):
        return np.asarray(x.numpy())
    if isinstance(x, dict):
        return {k: as_numpy(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(as_numpy(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(as_numpy(v) for v in x)
    return x


def assert_same(ours, theirs):
    """Same structure, container types, dtypes and values (tensors compared as numpy arrays)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, vl.Tensor), type(ours)
        a, b = ours.numpy(), theirs.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and ours.keys() == theirs.keys()
        for k in theirs:
            assert_same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours).__name__ == type(theirs).__name__ and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        assert ours == theirs and type(ours) is type(theirs)


# ----------------------------------------------------------------------------------------------- datasets

def test_tensor_dataset():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ds = data.TensorDataset(vl.tensor(x), vl.tensor(y))
    ref = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ds) == len(ref) == 6
    for i in (0, 3, -1):
        assert_same(ds[i], ref[i])
    with pytest.raises(ValueError, match="Size mismatch"):
        data.TensorDataset(vl.zeros(3), vl.zeros(4))


class Range(data.Dataset):
    def __init__(self, start, stop):
        self.items = list(range(start, stop))

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def test_concat_dataset_matches_torch():
    parts = [(0, 3), (10, 10), (20, 25)]
    ds = data.ConcatDataset([Range(*p) for p in parts])
    ref = tud.ConcatDataset([list(range(*p)) for p in parts])
    assert len(ds) == len(ref) and ds.cumulative_sizes == ref.cumulative_sizes
    assert [ds[i] for i in range(-len(ds), len(ds))] == [ref[i] for i in range(-len(ref), len(ref))]
    assert (Range(0, 2) + Range(5, 6))[2] == 5
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="empty"):
        data.ConcatDataset([])


class Stream(data.IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)


def test_chain_and_subset():
    assert list(Stream([1, 2]) + Stream([3])) == [1, 2, 3]
    with pytest.raises(TypeError, match="IterableDataset"):
        data.ConcatDataset([Stream([1])])
    sub = data.Subset(Range(0, 10), [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [7, 2, 5]
    assert sub.__getitems__([2, 0]) == [5, 7]


@pytest.mark.parametrize("n, fractions", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1])])
def test_random_split_fraction_lengths_match_torch(n, fractions):
    ours = data.random_split(Range(0, n), fractions, generator=vl.Generator().manual_seed(0))
    theirs = tud.random_split(range(n), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    items = sorted(x for s in ours for x in (s[i] for i in range(len(s))))
    assert items == list(range(n))  # disjoint and complete


@pytest.mark.parametrize("lengths", [[1], [0, 1], [1, 0], [0, 0, 1]])
def test_random_split_int_lengths_summing_to_one_are_fractions_as_in_torch(lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both libraries warn about the empty splits
        ours = data.random_split(Range(0, 5), lengths, generator=vl.Generator().manual_seed(0))
        theirs = tud.random_split(range(5), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs] == [5 * x for x in lengths]


def test_random_split_repeats_with_seed_and_checks_lengths():
    a = data.random_split(Range(0, 20), [5, 15], generator=vl.Generator().manual_seed(3))
    b = data.random_split(Range(0, 20), [5, 15], generator=vl.Generator().manual_seed(3))
    c = data.random_split(Range(0, 20), [5, 15], generator=vl.Generator().manual_seed(4))
    assert a[0].indices == b[0].indices != c[0].indices
    vl.manual_seed(1)
    d = data.random_split(Range(0, 20), [10, 10])
    vl.manual_seed(1)
    assert data.random_split(Range(0, 20), [10, 10])[1].indices == d[1].indices
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(Range(0, 20), [5, 5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data.random_split(Range(0, 2), [0.9, 0.1])  # rounding gives the second split one item...
        data.random_split(Range(0, 1), [0.5, 0.5])  # ...but here one split must stay empty
    assert any("Length of split at index 1 is 0" in str(w.message) for w in caught)


# ----------------------------------------------------------------------------------------------- samplers

def test_sequential_and_batch_sampler_match_torch():
    assert list(data.SequentialSampler(range(5))) == list(tud.SequentialSampler(range(5)))
    for drop_last in (False, True):
        for bs in (1, 3, 5, 7):
            ours = data.BatchSampler(data.SequentialSampler(range(10)), bs, drop_last)
            ref = tud.BatchSampler(tud.SequentialSampler(range(10)), bs, drop_last)
            assert list(ours) == list(ref) and len(ours) == len(ref)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch_size"):
            data.BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last"):
        data.BatchSampler(range(3), 2, 0)


def test_random_sampler():
    s = data.RandomSampler(range(10), generator=vl.Generator().manual_seed(0))
    first, second = list(s), list(s)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second and len(s) == 10
    assert list(data.RandomSampler(range(10), generator=vl.Generator().manual_seed(0))) == first
    # More samples than items without replacement: whole permutations, then part of one.
    long = list(data.RandomSampler(range(4), num_samples=10, generator=vl.Generator().manual_seed(1)))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    assert len(set(long[8:])) == 2
    rep = list(data.RandomSampler(range(3), replacement=True, num_samples=300,
                                  generator=vl.Generator().manual_seed(2)))
    assert len(rep) == 300 and set(rep) == {0, 1, 2} and max(collections.Counter(rep).values()) < 150
    vl.manual_seed(5)
    a = list(data.RandomSampler(range(50)))
    vl.manual_seed(5)
    assert list(data.RandomSampler(range(50))) == a
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            data.RandomSampler(range(10), num_samples=bad)
    with pytest.raises(TypeError, match="replacement"):
        data.RandomSampler(range(10), replacement=1)


def test_subset_and_weighted_samplers():
    idx = [10, 20, 30, 40]
    s = list(data.SubsetRandomSampler(idx, generator=vl.Generator().manual_seed(0)))
    assert sorted(s) == idx
    w = [0.0, 1.0, 3.0, 0.0]
    draws = list(data.WeightedRandomSampler(w, 4000, generator=vl.Generator().manual_seed(0)))
    counts = collections.Counter(draws)
    assert set(counts) == {1, 2} and 2.6 < counts[2] / counts[1] < 3.4
    no_rep = list(data.WeightedRandomSampler(vl.tensor(w), 2, replacement=False))
    assert sorted(no_rep) == [1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        data.WeightedRandomSampler(w, 3, replacement=False)
    with pytest.raises(ValueError, match="1d sequence"):
        data.WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="non-negative"):
        data.WeightedRandomSampler([1.0, -1.0], 2)


@pytest.mark.parametrize("n, replicas, drop_last",
                         [(10, 3, False), (10, 3, True), (9, 3, False), (2, 4, False)])
def test_distributed_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    for rank in range(replicas):
        ours = data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        ref = tud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref) and len(ours) == len(ref)


def test_distributed_sampler_shuffle_partitions_and_epochs():
    shards = [data.DistributedSampler(range(12), 3, r, seed=7) for r in range(3)]
    first = [list(s) for s in shards]
    assert sorted(sum(first, [])) == list(range(12))  # disjoint and complete
    assert first == [list(data.DistributedSampler(range(12), 3, r, seed=7)) for r in range(3)]
    for s in shards:
        s.set_epoch(1)
    assert [list(s) for s in shards] != first
    with pytest.raises(ValueError, match="Invalid rank"):
        data.DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        data.DistributedSampler(range(4))


# ----------------------------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")


def _sample_pairs():
    """The same batches as (visionlite input, torch input)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    ints = [rng.integers(0, 9, (4,)) for _ in range(3)]
    return [
        ([vl.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]),
        (arrays, arrays),
        (ints, ints),
        ([1.5, 2.0, -3.0], [1.5, 2.0, -3.0]),
        ([1, 2, 3], [1, 2, 3]),
        ([True, False], [True, False]),
        ([np.float32(1.5), np.float32(2.5)], [np.float32(1.5), np.float32(2.5)]),
        (["a", "b"], ["a", "b"]),
        ([(vl.tensor(a), i) for i, a in enumerate(arrays)],
         [(torch.tensor(a), i) for i, a in enumerate(arrays)]),
        ([[1, 2.0], [3, 4.0]], [[1, 2.0], [3, 4.0]]),
        ([{"img": a, "label": i, "name": str(i)} for i, a in enumerate(arrays)],
         [{"img": a, "label": i, "name": str(i)} for i, a in enumerate(arrays)]),
        ([Point(vl.tensor(a), 1.0) for a in arrays], [Point(torch.tensor(a), 1.0) for a in arrays]),
        ([{"nested": [(1, "x"), (2, "y")]}] * 2, [{"nested": [(1, "x"), (2, "y")]}] * 2),
    ]


@pytest.mark.parametrize("case", range(len(_sample_pairs())))
def test_default_collate_matches_torch(case):
    ours_in, torch_in = _sample_pairs()[case]
    assert_same(data.default_collate(ours_in), tud.default_collate(torch_in))


@pytest.mark.parametrize("case", range(len(_sample_pairs())))
def test_default_convert_matches_torch(case):
    ours_in, torch_in = _sample_pairs()[case]
    for ours, theirs in zip(ours_in, torch_in):
        assert_same(data.default_convert(ours), tud.default_convert(theirs))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, but got \[3\] at entry 0 and \[4\] at entry 1"):
        data.default_collate([vl.zeros(3), vl.zeros(4)])
    with pytest.raises(RuntimeError, match="equal size"):
        data.default_collate([np.zeros(3), np.zeros(2)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        data.default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="numpy array of dtype"):
        data.default_collate([np.array(["a"]), np.array(["b"])])
    from PIL import Image

    with pytest.raises(TypeError, match="ToTensor"):
        data.default_collate([Image.new("RGB", (2, 2))] * 2)
    with pytest.raises(TypeError, match="found <class 'NoneType'>"):
        data.default_collate([None, None])


def test_default_collate_keeps_autograd():
    a = vl.ones(2, requires_grad=True)
    batch = data.default_collate([a, a * 2])
    batch.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])
