"""``visionlite.backends.mps``: Apple GPUs are not supported, so both queries answer False."""


def is_available():
    return False


def is_built():
    return False
