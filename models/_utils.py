"""Helpers shared by the model families: channel rounding, builder argument checks, loading weights. The
conv-norm-activation and squeeze-excitation blocks live in ``visionlite.ops`` (re-exported here)."""
from visionlite.ops.misc import Conv2dNormActivation, SqueezeExcitation

__all__ = ["Conv2dNormActivation", "SqueezeExcitation"]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more than 10%
    below ``v``: the channel rounding of the MobileNet papers."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _ovewrite_named_param(kwargs, param, new_value):
    """Set ``kwargs[param]`` to what the weights need, refusing a conflicting value the caller passed."""
    if param in kwargs and kwargs[param] != new_value:
        raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} "
                         f"instead: the pretrained weights fix it. To use another value, load the weights "
                         f"first and then replace the layer (see visionlite.models.replace_head).")
    kwargs[param] = new_value


def _reject_pretrained(kwargs, weights_enum):
    if "pretrained" in kwargs:
        raise TypeError(f"'pretrained' is not an argument of visionlite's builders: pass "
                        f"weights={weights_enum.__name__}.DEFAULT (or weights='DEFAULT') for pretrained "
                        f"weights, or weights=None.")


def _load_weights(model, weights, progress):
    """Load ``weights`` (a WeightsEnum member) into ``model`` with ``strict=True``: no key may be missing or
    unexpected, so a mismatch between architecture and checkpoint is an error, never a silent partial load."""
    model.load_state_dict(weights.get_state_dict(progress=progress), strict=True)
    return model
