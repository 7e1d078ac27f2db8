"""Scalar draws from visionlite's default generator, so ``visionlite.manual_seed`` fixes every transform."""
import visionlite as vl


def rand():
    """A float in [0, 1)."""
    return vl.rand(1).item()


def uniform(low, high):
    """A float in [low, high)."""
    return vl.empty(1).uniform_(float(low), float(high)).item()


def randint(low, high):
    """An int in [low, high)."""
    return int(vl.randint(int(low), int(high), size=(1,)).item())


def randperm(n):
    return vl.randperm(n)


def choice(n, weights=None):
    """An index in [0, n), uniformly or in proportion to ``weights``."""
    if weights is None:
        return randint(0, n)
    total = float(sum(weights))
    u = rand() * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += float(w)
        if u < acc:
            return i
    return n - 1
