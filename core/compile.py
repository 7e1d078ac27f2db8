"""``visionlite.compile``, as ``torch.compile``: visionlite has no graph compiler, so this returns the
model (or function) unchanged; used as a decorator, with or without arguments, it does the same."""

__all__ = ["compile"]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):  # noqa: A001  (torch.compile)
    """``model`` itself: the options are accepted and ignored (there is nothing to compile)."""
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError(f"compile(): model must be callable, got {type(model).__name__}")
    return model
