"""``visionlite export MODEL[.WEIGHTS] out.onnx [--opset N] [--dynamic-batch]``: a zoo model as ONNX.

``MODEL`` alone uses its DEFAULT weights (downloaded once, verified), ``MODEL.WEIGHTS`` names them,
``--no-weights`` exports the architecture with its initial (random) weights and downloads nothing.
"""

import inspect
import os

_DEFAULT_SIZE = 224


def add_parser(sub):
    """Register the ``export`` command on the ``visionlite`` CLI's subparsers."""
    p = sub.add_parser("export", help="write a model (with its weights) as an ONNX graph")
    p.add_argument("spec", metavar="MODEL[.WEIGHTS]",
                   help="e.g. resnet50 (its DEFAULT weights) or resnet50.IMAGENET1K_V1")
    p.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default: 17)")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="the graph accepts any batch size (default: the fixed --batch)")
    p.add_argument("--batch", type=int, default=1, help="batch size of the example input (default: 1)")
    p.add_argument("--input-size", type=int, default=None,
                   help="height and width of the example input (default: the weights' crop size, else 224)")
    p.add_argument("--no-weights", action="store_true",
                   help="initial (random) weights instead of pretrained ones; downloads nothing")
    p.set_defaults(run=run)
    return p


def _model(spec, no_weights):
    from visionlite.cli import resolve_weights
    from visionlite.models import detection, get_model, get_model_builder, list_models

    name, _, member = spec.partition(".")
    name = name.lower()
    if name not in list_models():
        raise ValueError(f"unknown model {spec!r}; `visionlite models` lists them")
    if name in list_models(module=detection):
        raise ValueError(f"{name} is a detection model: its box selection (score thresholds, NMS) depends on "
                         "the data, which export cannot record yet; classification and segmentation models "
                         "export")
    if no_weights:
        if member:
            raise ValueError(f"{spec!r} names weights, but --no-weights asks for none; drop one of them")
        params = inspect.signature(get_model_builder(name)).parameters
        extra = {"weights_backbone": None} if "weights_backbone" in params else {}
        return get_model(name, weights=None, **extra), None
    weights = resolve_weights(spec)
    return get_model(name, weights=weights), weights


def _input_size(weights, given):
    if given is not None:
        if given < 1:
            raise ValueError(f"--input-size must be positive, got {given}")
        return given
    if weights is not None:
        preset = weights.transforms()
        for attr in ("crop_size", "resize_size"):
            size = getattr(preset, attr, None)
            if size:
                return int(size[0])
    return _DEFAULT_SIZE


def run(args):
    """Build the model, export it, check the file with ``onnx.checker``; prints what it wrote."""
    import visionlite as vl
    from visionlite.onnx import ExportError, export

    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {args.batch}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):  # before building the model (and downloading its weights)
        raise ValueError(f"cannot write {args.out}: the folder {folder} does not exist; create it first")
    model, weights = _model(args.spec, args.no_weights)
    model.eval()
    size = _input_size(weights, args.input_size)
    x = vl.randn(args.batch, 3, size, size)
    dynamic = {"input": {0: "batch"}} if args.dynamic_batch else None
    try:
        proto = export(model, x, args.out, input_names=["input"], opset_version=args.opset,
                       dynamic_axes=dynamic)
    except ExportError as err:
        raise ValueError(f"cannot export {args.spec}: {err}") from None
    import onnx

    onnx.checker.check_model(args.out)
    n_params = sum(int(t.ByteSize()) for t in proto.graph.initializer)
    shape = f"{'N' if args.dynamic_batch else args.batch}x3x{size}x{size}"
    batch = " (dynamic batch)" if args.dynamic_batch else ""
    print(f"{args.out}: {args.spec} ({'initial weights' if weights is None else repr(weights)}), input "
          f"{shape}{batch}, opset {args.opset}, {len(proto.graph.node)} nodes, "
          f"{n_params / 2**20:.1f} MiB of weights")
    return 0
