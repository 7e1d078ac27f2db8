"""Intermediate features by layer name, in the manner of ``torchvision.models.feature_extraction``.

TorchVision traces the model with torch.fx, so any operation is a node. visionlite has no tracer: its nodes
are the outputs of submodules, named by their qualified names (``"layer1"``, ``"layer4.1.conv2"``). A module
called several times in one forward pass gets TorchVision's suffixes for the later calls
(``"layer1.0.relu"``, ``"layer1.0.relu_1"``, ``"layer1.0.relu_2"``), so the names of module outputs match
TorchVision's node names.
"""
from collections import OrderedDict, defaultdict

import visionlite as vl
from visionlite import nn

__all__ = ["create_feature_extractor", "get_graph_node_names"]


class _Done(Exception):
    """Raised by a hook once every requested node has been captured, to skip the rest of the forward pass."""


def _record_calls(model, on_output):
    """Register forward hooks on every submodule; ``on_output(node_name, output)`` sees each call's output.

    Returns the hook handles.
    """
    counts = defaultdict(int)
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(module, inputs, output, name=name):
            k = counts[name]
            counts[name] += 1
            on_output(name if k == 0 else f"{name}_{k}", output)

        handles.append(module.register_forward_hook(hook))
    return handles, counts


def get_graph_node_names(model, example_input=None):
    """Node names usable as ``return_nodes``, in execution order, as ``(train_nodes, eval_nodes)``.

    Args:
        model: the model.
        example_input: a batch to run once (default: ``(1, 3, 224, 224)`` zeros) to learn the order in which
            modules are called and how often. Both lists are found in eval mode: module outputs do not
            depend on the mode, so they are equal.
    """
    if example_input is None:
        device = next(iter(model.parameters())).device
        example_input = vl.zeros(1, 3, 224, 224, device=device)
    nodes = []
    was_training = model.training
    model.eval()
    handles, _ = _record_calls(model, lambda name, out: nodes.append(name))
    try:
        with vl.no_grad():
            model(example_input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return nodes, list(nodes)


class FeatureExtractor(nn.Module):
    """Runs a model and returns ``{out_name: output}`` for the requested nodes (see
    :func:`create_feature_extractor`). It shares the model's layers; its state-dict keys are the model's."""

    def __init__(self, model, return_nodes):
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        object.__setattr__(self, "_model", model)  # not a submodule: its layers are registered above
        self.return_nodes = dict(return_nodes)
        self.training = model.training

    def train(self, mode=True):
        super().train(mode)
        self._model.train(mode)
        return self

    def forward(self, x):
        """Input as for the model -> ordered dict of the requested outputs in execution order (as
        TorchVision's traced graph gives them); the node ``"x"`` is the input itself."""
        wanted = self.return_nodes
        found = {}
        if "x" in wanted:
            found[wanted["x"]] = x
            if len(found) == len(wanted):
                return OrderedDict(found)

        def keep(name, output):
            if name in wanted:
                found[wanted[name]] = output
                if len(found) == len(wanted):
                    raise _Done

        handles, counts = _record_calls(self._model, keep)
        try:
            self._model(x)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in wanted if wanted[n] not in found]
        if missing:
            raise ValueError(f"Nodes {missing} were not produced by this forward pass; available: "
                             f"{_available(counts)}")
        return OrderedDict(found)


def _available(counts):
    names = []
    for name, k in counts.items():
        names += [name] + [f"{name}_{i}" for i in range(1, k)]
    return names if len(names) <= 30 else names[:30] + ["..."]


def create_feature_extractor(model, return_nodes):
    """A module returning ``model``'s intermediate outputs by node name, e.g. for detection backbones or
    feature visualisation.

    Args:
        model: the model (its layers are shared, not copied).
        return_nodes: list of node names (outputs keyed by the same names) or dict ``{node: output_name}``.
            Nodes are qualified submodule names; see :func:`get_graph_node_names`.
    Returns a module whose ``forward(x)`` gives an ordered dict of tensors. The forward pass stops as soon
    as the last requested node is computed, so later layers cost nothing.
    """
    if isinstance(return_nodes, (list, tuple)):
        return_nodes = {str(n): str(n) for n in return_nodes}
    if not return_nodes:
        raise ValueError("return_nodes is empty: name at least one node, e.g. ['layer4']")
    modules = dict(model.named_modules())
    for node in return_nodes:
        base, _, suffix = node.rpartition("_")
        if node != "x" and node not in modules and not (suffix.isdigit() and base in modules):
            close = [n for n in modules if n and (n.startswith(node) or node.startswith(n))][:10]
            raise ValueError(f"{node!r} is not a submodule of {type(model).__name__}; nodes are qualified "
                             f"module names such as {close or list(modules)[1:6]} (see get_graph_node_names)")
    return FeatureExtractor(model, return_nodes)
