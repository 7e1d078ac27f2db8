"""Helpers shared by the model families: channel rounding, builder argument checks, loading weights. The
conv-norm-activation and squeeze-excitation blocks live in ``visionlite.ops`` (re-exported here)."""
from collections import OrderedDict

from visionlite import nn
from visionlite.ops.misc import Conv2dNormActivation, SqueezeExcitation

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "IntermediateLayerGetter"]


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


def _ovewrite_value_param(param, actual, expected):
    """``expected`` (what the weights fix), refusing an ``actual`` value the caller gave that differs."""
    if actual is not None and actual != expected:
        raise ValueError(f"The parameter '{param}' expected value {expected} but got {actual} instead: the "
                         "pretrained weights fix it. Pass weights=None to choose it freely.")
    return expected


class IntermediateLayerGetter(nn.ModuleDict):
    """Runs ``model``'s direct children in registration order and returns the outputs of some of them.

    Only the children up to the last one named in ``return_layers`` are kept, so the state-dict keys are the
    model's own (``layer1.0.conv1.weight``). The model must call its children once each, in the order they
    were registered (true of ResNet and of a ``features`` Sequential).

    Args:
        model: the network whose children are run.
        return_layers: ``{child name: output name}``, e.g. ``{"layer4": "out", "layer3": "aux"}``.
    Returns, from ``forward(x)``: an ``OrderedDict`` ``{output name: tensor}`` in the children's order.
    """

    def __init__(self, model, return_layers):
        children = [name for name, _ in model.named_children()]
        missing = [name for name in return_layers if name not in children]
        if missing:
            raise ValueError(f"return_layers are not present in model: {missing} are not among its direct "
                             f"children {children}")
        wanted = {str(k) for k in return_layers}
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            wanted.discard(name)
            if not wanted:
                break
        super().__init__(layers)
        self.return_layers = return_layers

    def forward(self, x):
        names = {str(k): v for k, v in self.return_layers.items()}
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in names:
                out[names[name]] = x
        return out
