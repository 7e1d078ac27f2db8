"""``visionlite.utils.checkpoint``, as ``torch.utils.checkpoint``: activation checkpointing.

PyTorch saves memory by dropping a segment's activations in forward and recomputing them in backward.
visionlite runs the segment normally, keeping its activations: values and gradients are the same, the
memory saving is not made. Scripts that checkpoint their blocks therefore run unchanged.
"""
import warnings

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=None,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``; the checkpointing options are accepted and change nothing."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended.", stacklevel=2)
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of modules) in order on ``input``; ``segments`` is accepted
    as PyTorch takes it."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended.", stacklevel=2)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be at least 1, got {segments}")
    for f in (functions.children() if hasattr(functions, "children") else functions):
        input = f(input)
    return input
