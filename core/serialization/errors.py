"""The errors ``visionlite.load`` raises for files it cannot or will not read."""
import pickle


class CheckpointError(RuntimeError):
    """A file is not a checkpoint, is truncated or corrupt, or holds something visionlite cannot represent."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A torch checkpoint's pickle names a global outside the allowlist of tensor and container types."""


def corrupt(name, detail):
    return CheckpointError(f"checkpoint {name} is truncated or corrupt: {detail}")
