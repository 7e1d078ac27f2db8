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


# Scaled-dot-product attention kernel switches (``torch.backends.cuda.enable_flash_sdp`` and friends).
# visionlite has one attention implementation, so they are recorded and read back, nothing more.
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def enable_flash_sdp(enabled):
    _sdp["flash"] = bool(enabled)


def flash_sdp_enabled():
    return _sdp["flash"]


def enable_mem_efficient_sdp(enabled):
    _sdp["mem_efficient"] = bool(enabled)


def mem_efficient_sdp_enabled():
    return _sdp["mem_efficient"]


def enable_math_sdp(enabled):
    _sdp["math"] = bool(enabled)


def math_sdp_enabled():
    return _sdp["math"]


def enable_cudnn_sdp(enabled):
    _sdp["cudnn"] = bool(enabled)


def cudnn_sdp_enabled():
    return _sdp["cudnn"]


def is_flash_attention_available():
    """False: visionlite has no flash-attention kernel."""
    return False


class sdp_kernel:  # noqa: N801  (torch.backends.cuda.sdp_kernel, a context manager)
    """Set the attention kernel switches inside a ``with`` block and restore them afterwards."""

    def __init__(self, enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
        self._new = {"flash": enable_flash, "math": enable_math, "mem_efficient": enable_mem_efficient,
                     "cudnn": enable_cudnn}

    def __enter__(self):
        self._old = dict(_sdp)
        _sdp.update({k: bool(v) for k, v in self._new.items()})
        return self

    def __exit__(self, *exc):
        _sdp.update(self._old)
        return False


def preferred_linalg_library(backend=None):
    """The linear-algebra library PyTorch would use; visionlite uses numpy/cupy's, reported as "default"."""
    return "default"
