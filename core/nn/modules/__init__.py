"""All nn modules (one file per kind of layer)."""
# --- module base, containers, linear, activations, losses, dropout, embedding, rnn, attention
from ..module import Module  # noqa: F401
# --- conv, pooling, normalization, upsampling
