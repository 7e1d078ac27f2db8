"""Random numbers: ``Generator`` objects and the default generator behind ``manual_seed``.

A Generator wraps numpy's PCG64. Numbers are drawn on the host and copied to the GPU for cuda tensors,
so a seed gives the same numbers on every run and on every device.
"""

import warnings

import numpy as np

from .autograd.versions import bump_version
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
        return self

    def seed(self):
        """Seeds this generator from a non-deterministic source and returns that seed (an int)."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        """The seed this generator was last seeded with (an int)."""
        return self._seed

    def get_state(self):
        """The generator's state (a picklable dict), for checkpoints."""
        return {"seed": self._seed, "bit_generator": self._np.bit_generator.state}

    def set_state(self, state):
        """Restores this generator's state from a ``get_state`` value."""
        self._seed = state["seed"]
        self._np = np.random.Generator(np.random.PCG64())
        self._np.bit_generator.state = state["bit_generator"]

    def numpy_generator(self):
        return self._np

    def for_module(self, xp):
        return self._np


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and so every random op that is not given its own)."""
    return default_generator.manual_seed(seed)


def seed():
    """Seeds the default generator from a non-deterministic source and returns that seed (an int)."""
    return default_generator.seed()


def initial_seed():
    """The seed the default generator was last seeded with (an int)."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (a picklable dict), to restore with ``set_rng_state``."""
    return default_generator.get_state()


def set_rng_state(state):
    """Restores the default generator's state from a ``get_rng_state`` value."""
    default_generator.set_state(state)


def _gen(generator, xp=None):
    return (generator or default_generator)._np


def _put(t, values):
    """Write host ``values`` into tensor ``t`` (copying to the GPU where ``t`` lives there)."""
    xp = array_module(t._data)
    t._data[...] = (
        values.astype(t._data.dtype, copy=False) if xp is np else xp.asarray(values, dtype=t._data.dtype)
    )
    bump_version(t)
    return t


def _fill_uniform(t, a, b, generator):
    return _put(t, _gen(generator).uniform(a, b, size=t._data.shape))


def _fill_normal(t, mean, std, generator):
    return _put(t, _gen(generator).standard_normal(size=t._data.shape) * std + mean)


def _fill_bernoulli(t, p, generator):
    if hasattr(p, "_data"):
        p = p.__array__()
    return _put(t, _gen(generator).random(size=t._data.shape) < p)


def _randint_limits(dt):
    """(lowest, highest) integers ``random_`` may draw for numpy dtype ``dt``, both inclusive.

    As in PyTorch, floating dtypes stop at 2**digits (the last integer they hold exactly with all
    smaller ones), so every draw is exact: 2**24 for float32, 2**53 for float64, 2**11 for half."""
    if dt == np.bool_:
        return 0, 1
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return int(info.min), int(info.max)
    digits = int(round(-np.log2(float(np.finfo(dt).eps)))) + 1
    return -(2**digits), 2**digits


def _fill_randint(t, low, high, generator, open_top=True):
    """Integers in ``[low, high)``; ``high=None`` means up to the dtype's limit, inclusive."""
    lo_lim, hi_lim = _randint_limits(t._data.dtype)
    name = str(t.dtype).replace("visionlite.", "")
    if high is None:
        high, open_top = hi_lim, False
    low, high = int(low), int(high)
    top = high - 1 if open_top else high
    if low > top:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    for what, v in (("from", low), ("to - 1", top)):
        if lo_lim <= v <= hi_lim:
            continue
        msg = f"random_: {what}={v} is out of bounds for {name} (range [{lo_lim}, {hi_lim}])"
        if t.dtype.is_floating_point:  # PyTorch only warns here: such draws round to representable values
            warnings.warn(msg + "; draws beyond it are rounded", UserWarning, stacklevel=3)
        else:
            raise RuntimeError(msg)
    values = _gen(generator).integers(low, top, size=t._data.shape, dtype=np.int64, endpoint=True)
    return _put(t, values)


def _fill_exponential(t, lambd, generator):
    return _put(t, _gen(generator).exponential(1.0 / lambd, size=t._data.shape))


def random_array(kind, shape, dtype, device, generator=None, **kw):
    """A raw array of random numbers on ``device``: kind 'uniform', 'normal', 'integers' or 'permutation'."""
    g = _gen(generator)
    precision = np.float64 if dtype == np.float64 else np.float32
    if kind == "uniform":
        out = g.random(size=shape, dtype=precision)
    elif kind == "normal":
        out = g.standard_normal(size=shape, dtype=precision)
    elif kind == "integers":
        out = g.integers(kw["low"], kw["high"], size=shape)
    elif kind == "permutation":
        out = g.permutation(kw["n"])
    else:
        raise ValueError(f"unknown random kind {kind!r}")
    out = out.astype(dtype, copy=False)
    return out if device.type == "cpu" else module_for(device).asarray(out)
