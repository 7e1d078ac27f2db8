"""``visionlite.backends.opt_einsum``: einsum contraction-order switches, accepted for compatibility."""

enabled = True  # no-op
strategy = "auto"  # no-op


def is_available():
    """False: visionlite's einsum does not call the opt_einsum package."""
    return False
