"""``nn.modules.sparse``, as in PyTorch: ``Embedding`` and ``EmbeddingBag`` (defined in ``embedding.py``)."""
from .embedding import Embedding, EmbeddingBag

__all__ = ["Embedding", "EmbeddingBag"]
