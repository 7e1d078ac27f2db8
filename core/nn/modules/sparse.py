"""``nn.modules.sparse``, as in PyTorch: ``Embedding`` (defined in ``embedding.py``)."""
from .embedding import Embedding

__all__ = ["Embedding"]
