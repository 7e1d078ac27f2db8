"""``visionlite.backends.cuda``: ``matmul.allow_tf32`` and friends as settable attributes, kept only for
compatibility. cupy's matmuls never use TF32 or reduced-precision reductions here, so they change nothing."""


class _MatmulFlags:
    """``visionlite.backends.cuda.matmul``: settable no-op flags; an unknown name raises, as in PyTorch."""

    __slots__ = (
        "allow_tf32",
        "allow_fp16_reduced_precision_reduction",
        "allow_bf16_reduced_precision_reduction",
    )

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self):
        return (
            "visionlite.backends.cuda.matmul("
            + ", ".join(f"{n}={getattr(self, n)}" for n in self.__slots__)
            + ")"
        )


matmul = _MatmulFlags()


def is_built():
    """True when cupy is installed (visionlite's GPU support), whether or not a GPU is present."""
    import importlib.util

    return importlib.util.find_spec("cupy") is not None
