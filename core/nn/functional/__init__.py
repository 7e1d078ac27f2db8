"""visionlite.nn.functional: stateless layer functions, as ``torch.nn.functional``."""
# --- activations, linear, losses, dropout, embedding, attention
# --- conv, pooling, normalization, interpolation, padding
