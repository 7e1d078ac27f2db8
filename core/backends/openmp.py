"""``visionlite.backends.openmp``: queried by PyTorch scripts; visionlite's threads are its own pool."""


def is_available():
    """False: visionlite does not use OpenMP."""
    return False
