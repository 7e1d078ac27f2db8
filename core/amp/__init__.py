"""``visionlite.amp``: automatic mixed precision, as ``torch.amp`` — ``autocast`` regions that run
matmuls/convolutions in bfloat16 (cpu) or float16 (cuda) and precision-sensitive ops in float32, and
``GradScaler`` for dynamic loss scaling. The per-thread state lives in ``visionlite.core.amp_state``."""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_fwd", "custom_bwd", "GradScaler", "is_autocast_available"]
