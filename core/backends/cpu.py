"""``visionlite.backends.cpu``, as ``torch.backends.cpu``."""


def get_cpu_capability():
    """The vector ISA level PyTorch would report; visionlite computes through numpy, so ``"DEFAULT"``."""
    return "DEFAULT"
