"""Containers of joint transforms: each passes the whole sample along, so boxes and masks stay with
their image whichever transforms run."""
from collections.abc import Sequence

from .. import _random as R

__all__ = ["Compose", "RandomApply", "RandomChoice", "RandomOrder"]


def _sample(inputs):
    return inputs if len(inputs) > 1 else inputs[0]


def _check(transforms):
    if not isinstance(transforms, Sequence):
        raise TypeError("Argument transforms should be a sequence of callables")
    if not transforms:
        raise ValueError("Pass at least one transform")
    return transforms


def _listing(name, transforms, head=""):
    return name + "(" + head + "".join(f"\n    {t}" for t in transforms) + "\n)"


class Compose:
    """Apply joint transforms one after another (each takes and returns the whole sample)."""

    def __init__(self, transforms):
        self.transforms = _check(transforms)

    def __call__(self, *inputs):
        sample = _sample(inputs)
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self):
        return _listing("Compose", self.transforms)


class RandomApply(Compose):
    """Apply all of ``transforms`` with probability ``p``, or none of them."""

    def __init__(self, transforms, p=0.5):
        super().__init__(transforms)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"`p` should be a floating point value in the interval [0.0, 1.0], got {p}.")
        self.p = p

    def __call__(self, *inputs):
        if R.rand() >= self.p:
            return _sample(inputs)
        return super().__call__(*inputs)

    def __repr__(self):
        return _listing("RandomApply", self.transforms, head=f"\n    p={self.p}")


class RandomChoice:
    """Apply one of ``transforms``, picked with probabilities ``p`` (uniform if None; normalised)."""

    def __init__(self, transforms, p=None):
        self.transforms = _check(transforms)
        if p is None:
            p = [1] * len(transforms)
        elif len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        total = sum(p)
        self.p = [w / total for w in p]

    def __call__(self, *inputs):
        return self.transforms[R.choice(len(self.transforms), self.p)](*inputs)

    def __repr__(self):
        return _listing("RandomChoice", self.transforms, head=f"\n    p={self.p}")


class RandomOrder(Compose):
    """Apply all of ``transforms`` in a random order."""

    def __call__(self, *inputs):
        sample = _sample(inputs)
        for i in R.randperm(len(self.transforms)).tolist():
            sample = self.transforms[i](sample)
        return sample

    def __repr__(self):
        return _listing("RandomOrder", self.transforms)
