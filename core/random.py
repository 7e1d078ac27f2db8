"""Random numbers: ``Generator`` objects and the default generator behind ``manual_seed``.

A Generator wraps numpy's PCG64; tensors on a GPU draw from a cupy generator seeded from the same
seed, so a seed fixes the numbers on every run for each device.
"""
import numpy as np

from .backend import array_module, module_for


class Generator:
    """A source of random numbers: ``g = Generator().manual_seed(0)``; pass it as ``generator=g``."""

    def __init__(self, device="cpu"):
        self.device = device
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator."""
        seed = int(seed)
        if seed < 0:
            seed += 2**64
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        self._cupy = None
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state (a picklable dict), for checkpoints."""
        return {"seed": self._seed, "bit_generator": self._np.bit_generator.state}

    def set_state(self, state):
        self._seed = state["seed"]
        self._np = np.random.Generator(np.random.PCG64())
        self._np.bit_generator.state = state["bit_generator"]
        self._cupy = None

    def numpy_generator(self):
        return self._np

    def for_module(self, xp):
        """A numpy- or cupy-style generator for arrays of module ``xp``."""
        if xp is np:
            return self._np
        if self._cupy is None:
            self._cupy = xp.random.Generator(xp.random.XORWOW(self._np.integers(2**63)))
        return self._cupy


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and so every random op that is not given its own)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _gen(generator, xp):
    return (generator or default_generator).for_module(xp)


def _fill_uniform(t, a, b, generator):
    xp = array_module(t._data)
    t._data[...] = _gen(generator, xp).uniform(a, b, size=t._data.shape).astype(t._data.dtype)
    t._version[0] += 1
    return t


def _fill_normal(t, mean, std, generator):
    xp = array_module(t._data)
    t._data[...] = (_gen(generator, xp).standard_normal(size=t._data.shape) * std + mean).astype(t._data.dtype)
    t._version[0] += 1
    return t


def _fill_bernoulli(t, p, generator):
    xp = array_module(t._data)
    p = p._data if hasattr(p, "_data") else p
    t._data[...] = (_gen(generator, xp).random(size=t._data.shape) < p).astype(t._data.dtype)
    t._version[0] += 1
    return t


def _fill_randint(t, low, high, generator):
    if high is None:
        low, high = 0, low
    xp = array_module(t._data)
    t._data[...] = _gen(generator, xp).integers(low, high, size=t._data.shape).astype(t._data.dtype)
    t._version[0] += 1
    return t


def _fill_exponential(t, lambd, generator):
    xp = array_module(t._data)
    t._data[...] = (_gen(generator, xp).exponential(1.0 / lambd, size=t._data.shape)).astype(t._data.dtype)
    t._version[0] += 1
    return t


def random_array(kind, shape, dtype, device, generator=None, **kw):
    """A raw array of random numbers: kind 'uniform', 'normal', 'integers' or 'permutation'."""
    xp = module_for(device)
    g = _gen(generator, xp)
    if kind == "uniform":
        return g.random(size=shape, dtype=np.float64 if dtype == np.float64 else np.float32).astype(dtype, copy=False)
    if kind == "normal":
        return g.standard_normal(size=shape, dtype=np.float64 if dtype == np.float64 else np.float32).astype(
            dtype, copy=False)
    if kind == "integers":
        return g.integers(kw["low"], kw["high"], size=shape).astype(dtype, copy=False)
    if kind == "permutation":
        return g.permutation(kw["n"]).astype(dtype, copy=False)
    raise ValueError(kind)
