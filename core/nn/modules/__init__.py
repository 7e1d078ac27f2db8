"""All nn modules (one file per kind of layer)."""
# --- module base, containers, linear, activations, losses, dropout, embedding, rnn, attention
# --- conv, pooling, normalization, upsampling
