"""``visionlite.backends.mkldnn``: oneDNN switches, accepted for compatibility (visionlite never uses it)."""

enabled = True  # no-op


def is_available():
    """False: visionlite has no oneDNN code path."""
    return False
