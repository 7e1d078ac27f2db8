"""``visionlite.backends.mkl``: queried by PyTorch scripts; visionlite calls MKL only through numpy."""


def is_available():
    """False: visionlite has no MKL-specific code path."""
    return False
