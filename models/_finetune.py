"""Helpers for fine-tuning a pretrained classifier: find and replace its head, freeze its backbone (with
BatchNorm statistics frozen or still updating, a separate choice), and split its parameters into optimizer
groups by name pattern.

Typical use::

    model = resnet50(weights="DEFAULT")          # loads all 1000-class weights with strict=True
    replace_head(model, num_classes=10)          # then swap the last layer, explicitly
    freeze_backbone(model, freeze_bn_stats=True)
    groups = param_groups(model, [("fc.*", {"lr": 1e-2})], default={"lr": 1e-3}, weight_decay=1e-4)
    optimizer = visionlite.optim.SGD(groups, lr=1e-3, momentum=0.9)
"""
import copy
import fnmatch
import math

import visionlite as vl
from visionlite import nn

__all__ = ["ModelEMA", "count_parameters", "drop_aux_heads", "freeze_backbone", "freeze_batchnorm",
           "get_head", "load_finetuned", "param_groups", "replace_head", "unfreeze_batchnorm"]


def _is_norm(module):
    # BatchNorm*, GroupNorm, LayerNorm, InstanceNorm, LocalResponseNorm...: their parameters are not weights
    # to decay, and matching on the class name also covers user-defined norm layers.
    return "Norm" in type(module).__name__


def get_head(model):
    """Qualified name of ``model``'s classification layer: its last ``Linear`` in registration order, else its
    last ``Conv2d``/``Conv3d`` (SqueezeNet and S3D classify with a 1x1 convolution). E.g. ``"fc"``,
    ``"classifier.6"``."""
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if linears:
        return linears[-1]
    convs = [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    if convs:
        return convs[-1]
    raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer to treat as its head; pass name=")


def _parent(model, name):
    """The module holding ``name``'s last component, and that component."""
    *path, leaf = name.split(".")
    parent = model
    for part in path:
        parent = getattr(parent, part)
    return parent, leaf


def replace_head(model, num_classes, name=None):
    """Replace ``model``'s classification layer by a freshly initialised one with ``num_classes`` outputs.

    Args:
        model: a classifier (works for every model in visionlite.models).
        num_classes: new number of outputs.
        name: qualified name of the layer to replace (default: :func:`get_head`).
    Returns the new layer. Its initialisation is PyTorch's default for the layer type (Linear), or
    TorchVision's ``normal(0, 0.01)`` for SqueezeNet's final 1x1 convolution; seed with ``vl.manual_seed``.
    """
    name = name or get_head(model)
    parent, leaf = _parent(model, name)
    old = getattr(parent, leaf)
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    elif isinstance(old, nn.Conv3d):  # S3D's classifier: PyTorch's default initialisation, as TorchVision's
        new = nn.Conv3d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding,
                        bias=old.bias is not None)
    elif isinstance(old, nn.Conv2d):
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding,
                        bias=old.bias is not None)
        nn.init.normal_(new.weight, mean=0.0, std=0.01)
        if new.bias is not None:
            nn.init.zeros_(new.bias)
    else:
        raise TypeError(f"{name!r} is a {type(old).__name__}; replace_head handles Linear, Conv2d and Conv3d "
                        f"heads")
    new = new.to(old.weight.device)
    setattr(parent, leaf, new)
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes
    return new


def drop_aux_heads(model):
    """Remove GoogLeNet's/Inception v3's auxiliary classifiers, so the model returns plain logits.

    They are training-time regularisers of the original 1000-class training (untrained in the GoogLeNet
    checkpoint); ``scripts/finetune.py`` drops them, so its checkpoints hold no ``aux*``/``AuxLogits`` keys.
    Returns ``model``; other models pass through unchanged.
    """
    if getattr(model, "aux_logits", False):
        model.aux_logits = False
        for name in ("aux1", "aux2", "AuxLogits"):
            if getattr(model, name, None) is not None:
                setattr(model, name, None)
    return model


# A fine-tuning checkpoint names its model and classes; these keys say how to rebuild it.
_CHECKPOINT_KEYS = ("model", "model_name", "classes")


def _read(path, map_location):
    try:
        ckpt = vl.load(path, map_location=map_location)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {path}: no such file") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ValueError(f"checkpoint {path}: cannot read it ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} is not a scripts/finetune.py checkpoint: it holds a {type(ckpt).__name__}")
    return ckpt


_TRANSFORM_KEYS = ("crop_size", "resize_size", "mean", "std", "interpolation", "antialias")


def _check_fields(ckpt, path):
    """ValueError naming the field of a (damaged or hand-made) checkpoint that has the wrong type."""
    classes, name, weights = ckpt["classes"], ckpt["model_name"], ckpt["model"]
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (list, tuple)) or not classes:
        raise ValueError(f"{path}: 'classes' must be a non-empty list of class names, got "
                         f"{type(classes).__name__} {classes!r:.60}")
    if not isinstance(name, str):
        raise ValueError(f"{path}: 'model_name' must be a model's name such as 'resnet50', got "
                         f"{type(name).__name__}")
    if not hasattr(weights, "keys"):
        raise ValueError(f"{path}: 'model' must be the model's state dict, got {type(weights).__name__}")
    tf = ckpt.get("transform")
    if tf is not None and not isinstance(tf, dict):
        raise ValueError(f"{path}: 'transform' must be a dict of ImageClassification arguments, got "
                         f"{type(tf).__name__}")
    unknown = sorted(set(tf or ()) - set(_TRANSFORM_KEYS))
    if unknown:
        raise ValueError(f"{path}: 'transform' has unknown ImageClassification arguments {unknown}; "
                         f"expected some of {list(_TRANSFORM_KEYS)}")


def load_finetuned(path, map_location="cpu"):
    """Rebuild the classifier saved by ``scripts/finetune.py`` (``best.safetensors`` or ``last.safetensors``).

    ``path`` is the file, or the dict ``visionlite.load`` read from it.

    Returns ``(model, classes, preprocess)``: the model in eval mode with the checkpoint's weights (strict),
    its class names (``list[str]``, output ``i`` is ``classes[i]``), and the evaluation transform the run
    validated with (an ``ImageClassification`` preset taking a PIL image or a uint8 ``(3, H, W)`` tensor to a
    normalised float ``(3, S, S)`` tensor). Checkpoints written before the transform was recorded get the
    ImageNet preset at the model's default size.
    """
    from visionlite.transforms.presets import ImageClassification

    from ._api import get_model

    if isinstance(path, dict):
        ckpt, path = path, "the checkpoint"
    else:
        ckpt = _read(path, map_location)
    missing = [k for k in _CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"{path} is not a scripts/finetune.py checkpoint: it lacks {', '.join(missing)} "
                         "(for a plain state dict, build the model and call load_state_dict)")
    _check_fields(ckpt, path)
    classes = [str(c) for c in ckpt["classes"]]
    model = drop_aux_heads(get_model(ckpt["model_name"], weights=None))
    replace_head(model, len(classes))
    try:
        model.load_state_dict(ckpt["model"], strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: its weights do not fit a {ckpt['model_name']} with {len(classes)} classes "
                         f"(the number of names in 'classes'): {err}") from None
    tf = dict(ckpt.get("transform") or {})
    if not tf:
        size = getattr(model, "image_size", None)
        tf = {"crop_size": size if isinstance(size, int) else 224}
        tf["resize_size"] = round(tf["crop_size"] * 256 / 224)
    preprocess = ImageClassification(**tf)
    return model.eval(), classes, preprocess


# ------------------------------------------------------------------------------------------- freezing

class _FrozenStats:
    """Mixin for a norm layer that stays in eval mode: it normalises with its running statistics and never
    updates them, whatever ``model.train()`` says."""

    @property
    def training(self):
        return False

    @training.setter
    def training(self, mode):
        pass


_FROZEN_CLASSES = {}


def _frozen_class(cls):
    if cls not in _FROZEN_CLASSES:
        _FROZEN_CLASSES[cls] = type(cls.__name__, (_FrozenStats, cls), {"__module__": cls.__module__,
                                                                         "_unfrozen_class": cls})
    return _FROZEN_CLASSES[cls]


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]


def freeze_batchnorm(model):
    """Keep every BatchNorm layer of ``model`` in eval mode: running statistics are used and no longer
    updated, even during ``model.train()``. Parameters (affine weight and bias) are untouched; see
    :func:`freeze_backbone`. The state dict is unchanged. Returns the number of layers frozen."""
    layers = [m for m in _batchnorms(model) if not isinstance(m, _FrozenStats)]
    for m in layers:
        m.__class__ = _frozen_class(type(m))
    return len(layers)


def unfreeze_batchnorm(model):
    """Undo :func:`freeze_batchnorm`: BatchNorm layers follow ``train()``/``eval()`` again."""
    for m in _batchnorms(model):
        if isinstance(m, _FrozenStats):
            m.__class__ = type(m)._unfrozen_class
            m.training = model.training


def freeze_backbone(model, trainable=None, freeze_bn_stats=True):
    """Stop gradients for every parameter except the head (or those matching ``trainable``).

    Args:
        model: the model to freeze in place.
        trainable: fnmatch pattern(s) on parameter names that stay trainable (default: the head found by
            :func:`get_head`, e.g. ``"fc.*"``).
        freeze_bn_stats: the separate BatchNorm choice. True (the usual choice with a frozen backbone and
            small batches): BatchNorm layers stay in eval mode, so their running statistics keep the
            pretrained values (see :func:`freeze_batchnorm`). False: they keep adapting their running
            statistics to the new data during training, while their affine parameters stay frozen.
    Returns the names of the parameters left trainable.
    """
    patterns = [trainable] if isinstance(trainable, str) else list(trainable or [get_head(model) + ".*"])
    kept = []
    for name, p in model.named_parameters():
        keep = any(fnmatch.fnmatchcase(name, pat) for pat in patterns)
        p.requires_grad_(keep)
        if keep:
            kept.append(name)
    if not kept:
        raise ValueError(f"No parameter matches {patterns}: everything would be frozen. Parameter names look "
                         f"like {[n for n, _ in list(model.named_parameters())[-2:]]}")
    if freeze_bn_stats:
        freeze_batchnorm(model)
    return kept


# ----------------------------------------------------------------------------------- parameter groups

def param_groups(model, rules=(), default=None, weight_decay=0.0, no_decay_norm_and_bias=True,
                 trainable_only=True):
    """Split ``model``'s parameters into optimizer parameter groups by name pattern.

    Args:
        rules: ``(pattern, options)`` pairs; a parameter takes the options of the first fnmatch pattern its
            name matches (e.g. ``[("fc.*", {"lr": 1e-2}), ("layer4.*", {"lr": 1e-3})]``).
        default: options for parameters matching no rule (e.g. ``{"lr": 1e-4}`` for the backbone).
        weight_decay: weight decay of every group, unless its options set one.
        no_decay_norm_and_bias: give biases and normalization-layer parameters ``weight_decay=0`` (usual).
        trainable_only: leave out parameters with ``requires_grad=False`` (frozen ones).
    Returns a list of dicts ``{"params": [...], "weight_decay": ..., **options}`` for any visionlite
    optimizer; empty groups are left out.
    """
    norm_params = {id(p) for m in model.modules() if _is_norm(m) for p in m.parameters(recurse=False)}
    rules = list(rules) + [("*", dict(default or {}))]
    groups = {}
    for name, p in model.named_parameters():
        if trainable_only and not p.requires_grad:
            continue
        index = next(i for i, (pattern, _) in enumerate(rules) if fnmatch.fnmatchcase(name, pattern))
        no_decay = no_decay_norm_and_bias and (name.endswith("bias") or id(p) in norm_params)
        groups.setdefault((index, no_decay), []).append(p)
    out = []
    for (index, no_decay), params in sorted(groups.items()):
        options = {"weight_decay": weight_decay, **rules[index][1]}
        if no_decay:
            options["weight_decay"] = 0.0
        out.append({"params": params, **options})
    return out


def count_parameters(model, trainable_only=False):
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(math.prod(p.shape) for p in model.parameters() if p.requires_grad or not trainable_only)


# ------------------------------------------------------------------------------------------------- EMA

class ModelEMA:
    """An exponential moving average of a model's weights, often a little more accurate than the model.

    After each optimizer step call ``ema.update(model)``: every floating-point parameter and buffer becomes
    ``decay * ema + (1 - decay) * current`` (integer buffers such as BatchNorm's batch counter are copied).
    With ``warmup`` the decay starts low, ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early
    averages are not dominated by the random initial head. Evaluate ``ema.module`` (kept in eval mode).
    """

    def __init__(self, model, decay=0.999, warmup=True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.updates = 0

    def current_decay(self):
        n = self.updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    def update(self, model):
        """Move the average towards ``model``'s current weights."""
        d = self.current_decay()
        self.updates += 1
        current = model.state_dict()
        with vl.no_grad():
            for name, avg in self.module.state_dict().items():
                new = current[name].detach()
                if avg.is_floating_point():
                    avg.lerp_(new.to(avg.dtype), 1.0 - d)
                else:
                    avg.copy_(new)

    def state_dict(self):
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state):
        self.module.load_state_dict(state["module"], strict=True)
        self.updates = int(state["updates"])
        self.decay = float(state["decay"])
