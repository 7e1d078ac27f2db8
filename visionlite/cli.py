"""The ``visionlite`` command: fetch pretrained weights, manage their cache, classify images, list models.

    visionlite download resnet50 mobilenet_v3_small.IMAGENET1K_V1
    visionlite cache list | verify | clear [FILE...]
    visionlite classify cat.jpg dog.png --model resnet50
    visionlite classify cat.jpg --checkpoint runs/pets/best.safetensors
    visionlite detect street.jpg --model fasterrcnn_mobilenet_v3_large_320_fpn --out street_boxes.png
    visionlite models [--include 'resnet*'] [--all-weights]

Run ``visionlite COMMAND --help`` for the options of each command.
"""
import argparse
import logging
import os
import sys

__all__ = ["main", "resolve_weights"]

logger = logging.getLogger("visionlite.cli")


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def resolve_weights(spec):
    """A weights enum member from ``MODEL`` (its default weights), ``MODEL.WEIGHTS`` or ``Enum.MEMBER``.

    E.g. ``"resnet50"``, ``"resnet50.IMAGENET1K_V1"``, ``"ResNet50_Weights.IMAGENET1K_V1"``.
    """
    from visionlite.models import get_model_weights, get_weight, list_models

    model, _, member = spec.partition(".")
    if model.lower() in list_models():
        enum = get_model_weights(model.lower())
        return enum.verify(member or "DEFAULT")
    if member:
        return get_weight(spec)
    raise ValueError(f"Unknown model {spec!r}; `visionlite models` lists them")


# ------------------------------------------------------------------------------------------- download

def _cmd_download(args):
    from visionlite import hub

    for spec in args.specs:
        if spec.startswith(("http://", "https://")):
            known = _weights_by_file().get(spec.rsplit("/", 1)[-1])  # a registry file: its size and hash
            if known is not None and known.url == spec:
                path = hub.cached_file(spec, progress=args.progress, sha256=known.sha256,
                                       max_bytes=hub.size_limit(known.meta.get("_file_size")))
            else:
                path = hub.cached_file(spec, progress=args.progress)
        else:
            weights = resolve_weights(spec)
            path = hub.cached_file(weights.url, progress=args.progress, sha256=weights.sha256,
                                   max_bytes=hub.size_limit(weights.meta.get("_file_size")))
            spec = f"{spec} ({weights!r})"
        print(f"{spec}: {path}")
    return 0


# ---------------------------------------------------------------------------------------------- cache

def _weights_by_file():
    """``{file name: weights member}`` over the whole registry."""
    from visionlite.models import get_model_weights, list_models

    found = {}
    for name in list_models():
        for member in get_model_weights(name):
            found.setdefault(member.file_name, member)
    return found


def _cmd_cache(args):
    from visionlite import hub

    folder = os.path.join(hub.get_dir(), "checkpoints")
    if args.action == "list":
        known = _weights_by_file()
        items = hub.list_cached()
        print(f"{folder}: {len(items)} file(s), {sum(i.size for i in items) / 1e6:.1f} MB")
        for item in items:
            owner = known.get(item.name)
            print(f"  {item.name:48s} {item.size / 1e6:9.1f} MB  {owner!r}" if owner else
                  f"  {item.name:48s} {item.size / 1e6:9.1f} MB")
        _print_partial(hub.list_partial())
        return 0
    if args.action == "verify":
        return _verify_cache(hub)
    if args.action == "clear":
        names = args.files or None
        items = [i for i in hub.list_cached() + hub.list_partial() if names is None or i.name in names]
        if names:
            unknown = sorted(set(names) - {i.name for i in items})
            if unknown:
                raise CLIError(f"not in the cache ({folder}): {', '.join(unknown)}")
        if not items:
            print(f"{folder}: nothing to delete")
            return 0
        if not args.yes and sys.stdin.isatty():
            answer = input(f"Delete {len(items)} file(s) from {folder}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        for name in hub.clear_cache(names=sorted({i.name for i in items})):
            print(f"deleted {name}")
        return 0
    raise CLIError(f"unknown cache action {args.action!r}")


def _print_partial(parts):
    if parts:
        print(f"{len(parts)} partial download(s) of killed processes (the next download of the file resumes "
              "from it; `visionlite cache clear FILE` removes it):")
    for item in parts:
        print(f"  {item.name:48s} {item.size / 1e6:9.1f} MB  partial")


_STATUS = {
    "ok": "ok (full SHA-256)",
    "ok-prefix": "ok (hash prefix) - only the 32-bit prefix in its name is checked, no full SHA-256 pinned",
    "corrupt": "CORRUPT",
    "unverifiable": "unverifiable (no known hash)",
}


def _verify_cache(hub):
    known = _weights_by_file()
    sha256s = {name: member.sha256 for name, member in known.items() if member.sha256}
    bad = prefix_only = 0
    for item, status in hub.verify_cached(sha256s=sha256s):
        bad += status == "corrupt"
        prefix_only += status == "ok-prefix"
        print(f"  {item.name:48s} {_STATUS[status]}")
    _print_partial(hub.list_partial())
    if prefix_only:
        print(f"{prefix_only} file(s) checked by hash prefix only: a 32-bit prefix catches damage, not a "
              "deliberately forged file")
    if bad:
        print(f"{bad} corrupt file(s): delete them with `visionlite cache clear FILE`; they are fetched "
              "again on next use")
    return 1 if bad else 0


# ------------------------------------------------------------------------------------------- classify

def _cmd_classify(args):
    import numpy as np
    from PIL import Image

    import visionlite as vl

    # Check what needs no download first, so a typo never costs a large fetch.
    weights = _registry_weights(args) if args.checkpoint is None else None
    for path in args.images:
        if not os.path.isfile(path):
            raise CLIError(f"cannot read image {path}: no such file")
    model, categories, preprocess, title = (_finetuned_classifier(args) if args.checkpoint is not None
                                            else _registry_classifier(args, weights))
    model = model.eval().to(args.device)
    for path in args.images:
        try:
            with Image.open(path) as img:
                x = preprocess(img.convert("RGB"))
        except (OSError, ValueError) as err:
            raise CLIError(f"cannot read image {path}: {err}") from None
        with vl.no_grad():
            probs = model(x.unsqueeze(0).to(args.device)).softmax(-1)[0]
        probs = np.asarray(probs.cpu().numpy(), dtype=np.float64)
        top = np.argsort(-probs, kind="stable")[:args.topk]
        print(f"{path}  ({title})")
        for rank, idx in enumerate(top, 1):
            print(f"  {rank}. {categories[idx]:32s} {100 * probs[idx]:6.2f}%")
    return 0


def _registry_weights(args):
    """The registered weights ``--model``/``--weights`` name, checked to be a classifier's (no download)."""
    model_name = args.model or "resnet50"
    spec = model_name if args.weights is None else f"{model_name}.{args.weights}"
    weights = resolve_weights(spec)
    if weights.meta["categories"] is None:
        raise CLIError(f"{weights!r} has no category names (it is a feature extractor), so it can't classify")
    return weights


def _registry_classifier(args, weights):
    """``(model, categories, preprocess, title)`` from registered pretrained weights."""
    from visionlite.models import get_model

    model_name = args.model or "resnet50"
    model = get_model(model_name.lower(), weights=weights, progress=args.progress)
    return model, weights.meta["categories"], weights.transforms(), f"{model_name}, {weights!r}"


def _finetuned_classifier(args):
    """``(model, categories, preprocess, title)`` from a ``scripts/finetune.py`` checkpoint."""
    from visionlite.models import load_finetuned

    if args.weights is not None:
        raise CLIError("--weights and --checkpoint exclude each other: the checkpoint holds the weights")
    if not os.path.isfile(args.checkpoint):
        raise CLIError(f"--checkpoint {args.checkpoint}: no such file")
    ckpt = _read_checkpoint(args.checkpoint, "--checkpoint")
    name = str(ckpt.get("model_name")) if isinstance(ckpt, dict) else None
    if args.model is not None and name is not None and args.model.lower() != name.lower():
        raise CLIError(f"{args.checkpoint} holds a {name}, not a {args.model}: drop --model")
    try:
        model, classes, preprocess = load_finetuned(ckpt if isinstance(ckpt, dict) else args.checkpoint)
    except (ValueError, KeyError, RuntimeError) as err:
        raise CLIError(f"--checkpoint {args.checkpoint}: {err}") from None
    return model, classes, preprocess, f"{name} fine-tuned, {os.path.basename(args.checkpoint)}"


# --------------------------------------------------------------------------------------------- detect

# COCO's person skeleton (1-based keypoint pairs in COCO's annotation file), drawn for Keypoint R-CNN.
_COCO_SKELETON = [(16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
                  (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]


def _detection_builder(name):
    from visionlite.models import detection

    builder = getattr(detection, name, None) if name and name[0].islower() else None
    if builder is None or name not in detection.__all__:
        choices = ", ".join(n for n in detection.__all__ if n[0].islower())
        raise CLIError(f"unknown detection model {name!r}; choose one of: {choices}")
    return builder


def _read_checkpoint(path, option):
    import visionlite as vl

    try:
        return vl.load(path, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CLIError(f"{option} {path}: cannot read it ({err})") from None


def _load_detector(args):
    """``(model, category names by label)`` from --checkpoint, a local --weights file, or registry weights."""
    from visionlite.models import get_model_weights

    if args.checkpoint is not None:
        if not os.path.isfile(args.checkpoint):
            raise CLIError(f"--checkpoint {args.checkpoint}: no such file")
        ckpt = _read_checkpoint(args.checkpoint, "--checkpoint")
        if not isinstance(ckpt, dict) or not {"model", "model_name", "classes"} <= set(ckpt):
            raise CLIError(f"{args.checkpoint} is not a scripts/finetune_detection.py checkpoint (it needs "
                           "model, model_name and classes); for a plain state dict use --weights FILE")
        name = ckpt["model_name"]
        if args.model is not None and args.model != name:
            raise CLIError(f"{args.checkpoint} holds a {name}, not a {args.model}: drop --model or pass "
                           f"--model {name}")
        categories = ["__background__"] + list(ckpt["classes"])
        model = _detection_builder(name)(weights=None, weights_backbone=None, num_classes=len(categories),
                                         **dict(ckpt.get("model_kwargs") or {}))
        model.load_state_dict(ckpt["model"], strict=True)
        return model, categories
    name = args.model or "fasterrcnn_mobilenet_v3_large_320_fpn"
    builder = _detection_builder(name)
    enum = get_model_weights(builder)
    coco = list(enum.DEFAULT.meta["categories"])
    if args.weights is not None and os.path.isfile(args.weights):
        state = _read_checkpoint(args.weights, "--weights")
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        num_classes = args.num_classes or len(coco)
        model = builder(weights=None, weights_backbone=None, num_classes=num_classes)
        try:
            model.load_state_dict(state, strict=True)
        except (RuntimeError, KeyError, ValueError) as err:
            raise CLIError(f"{args.weights} does not fit {name} with {num_classes} classes ({err}); "
                           "check --model and --num-classes") from None
        categories = coco if num_classes == len(coco) else [str(i) for i in range(num_classes)]
        return model, categories
    weights = enum.verify(args.weights or "DEFAULT")
    model = builder(weights=weights, progress=args.progress)
    return model, list(weights.meta["categories"])


def _cmd_detect(args):
    import numpy as np
    from PIL import Image

    import visionlite as vl
    from visionlite.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks

    for path in args.images:
        if not os.path.isfile(path):
            raise CLIError(f"cannot read image {path}: no such file")
    if args.out is not None and len(args.images) > 1:
        raise CLIError("--out names one file: give one image, or leave --out out (IMAGE_detections.png each)")
    if not 0.0 <= args.score_thresh <= 1.0:
        raise CLIError(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    model, categories = _load_detector(args)
    model = model.eval().to(args.device)
    for path in args.images:
        try:
            with Image.open(path) as img:
                pixels = np.asarray(img.convert("RGB"))
        except (OSError, ValueError) as err:
            raise CLIError(f"cannot read image {path}: {err}") from None
        image = vl.tensor(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        with vl.no_grad():
            out = model([(image.float() / 255).to(args.device)])[0]
        keep = np.flatnonzero(out["scores"].cpu().numpy() >= args.score_thresh)
        scores = out["scores"].cpu().numpy()[keep]
        labels = out["labels"].cpu().numpy()[keep]
        names = [categories[k] if 0 <= k < len(categories) else str(k) for k in labels.tolist()]
        drawn = image
        if "masks" in out and len(keep):
            masks = out["masks"].cpu().numpy()[keep][:, 0] > 0.5
            drawn = draw_segmentation_masks(drawn, vl.tensor(masks), alpha=0.5)
        if len(keep):
            boxes = out["boxes"].cpu().numpy()[keep]
            captions = [f"{n}: {s:.2f}" for n, s in zip(names, scores)]
            drawn = draw_bounding_boxes(drawn, vl.tensor(boxes), captions, width=2)
        if "keypoints" in out and len(keep):
            kps = out["keypoints"].cpu().numpy()[keep]
            skeleton = [(i - 1, j - 1) for i, j in _COCO_SKELETON] if kps.shape[1] == 17 else None
            drawn = draw_keypoints(drawn, vl.tensor(kps[..., :2]), connectivity=skeleton, colors="blue",
                                   radius=3, visibility=vl.tensor(kps[..., 2] > 0))
        target = args.out or os.path.splitext(os.path.basename(path))[0] + "_detections.png"
        Image.fromarray(np.ascontiguousarray(drawn.numpy().transpose(1, 2, 0))).save(target)
        print(f"{path}: {len(keep)} detection(s) with score >= {args.score_thresh} -> {target}")
        for n, s, b in zip(names, scores, out["boxes"].cpu().numpy()[keep]):
            print(f"  {n:20s} {s:.3f}  [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}]")
    return 0


# --------------------------------------------------------------------------------------------- models

def _cmd_models(args):
    from visionlite import hub
    from visionlite.models import get_model_weights, list_models

    cached = {i.name for i in hub.list_cached()}
    names = list_models(include=args.include, exclude=args.exclude)
    print(f"{'model':20s} {'weights':22s} {'params':>8s} {'acc@1':>7s} {'acc@5':>7s} {'file MB':>8s}  cached")
    for name in names:
        enum = get_model_weights(name)
        members = list(enum) if args.all_weights else [enum.DEFAULT]
        for member in members:
            meta = member.meta
            metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
            label = member.name + ("*" if args.all_weights and member is enum.DEFAULT else "")
            print(f"{name:20s} {label:22s} {meta['num_params'] / 1e6:7.1f}M {_pct(metrics.get('acc@1'))} "
                  f"{_pct(metrics.get('acc@5'))} {meta.get('_file_size', float('nan')):8.1f}  "
                  f"{'yes' if member.file_name in cached else ''}")
    if args.all_weights:
        print("* the DEFAULT weights")
    return 0


def _pct(value):
    return f"{value:7.3f}" if isinstance(value, (int, float)) and value == value else f"{'-':>7s}"


# ----------------------------------------------------------------------------------------------- main

def _parser():
    parser = argparse.ArgumentParser(prog="visionlite", description=__doc__.split("\n\n")[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="only print results and errors")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("download", help="download and verify pretrained weights into the cache")
    p.add_argument("specs", nargs="+", metavar="MODEL[.WEIGHTS]",
                   help="e.g. resnet50 (its DEFAULT weights), resnet50.IMAGENET1K_V1, or a weights URL")
    p.set_defaults(run=_cmd_download)

    p = sub.add_parser("cache", help="list, verify or clear the weights cache")
    p.add_argument("action", choices=["list", "verify", "clear"])
    p.add_argument("files", nargs="*", help="for clear: only these file names (default: all)")
    p.add_argument("-y", "--yes", action="store_true", help="clear without asking")
    p.set_defaults(run=_cmd_cache)

    p = sub.add_parser("classify", help="top-k classes of images with a pretrained or fine-tuned model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", default=None, help="registered model name (default: resnet50)")
    p.add_argument("--weights", default=None, help="weights name (default: the model's DEFAULT)")
    p.add_argument("--checkpoint", default=None,
                   help="a scripts/finetune.py checkpoint (best.safetensors): its model, classes and "
                   "preprocessing")
    p.add_argument("--topk", type=int, default=5, help="number of classes to show (default: 5)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.set_defaults(run=_cmd_classify)

    p = sub.add_parser("detect", help="detect objects in images and save them drawn (boxes, masks, "
                       "keypoints)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", default=None,
                   help="detection model (default: fasterrcnn_mobilenet_v3_large_320_fpn, or the "
                   "checkpoint's)")
    p.add_argument("--weights", default=None,
                   help="weights name (default: DEFAULT, downloaded once) or a local state-dict file")
    p.add_argument("--num-classes", type=int, default=None,
                   help="with a local --weights file: its number of classes (default: COCO's 91)")
    p.add_argument("--checkpoint", default=None, help="a scripts/finetune_detection.py checkpoint")
    p.add_argument("--score-thresh", type=float, default=0.5, help="lowest score drawn (default: 0.5)")
    p.add_argument("--out", default=None, help="output image (default: IMAGE_detections.png here)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.set_defaults(run=_cmd_detect)

    p = sub.add_parser("models", help="list the models with their parameter counts and accuracy")
    p.add_argument("--include", action="append", help="fnmatch pattern(s) of model names to show")
    p.add_argument("--exclude", action="append", help="fnmatch pattern(s) of model names to hide")
    p.add_argument("--all-weights", action="store_true", help="one line per weights entry")
    p.set_defaults(run=_cmd_models)

    from visionlite.onnx.cli import add_parser as add_export  # `visionlite export` (its own module)

    add_export(sub)
    return parser


def main(argv=None):
    """Entry point of the ``visionlite`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if args.progress and not sys.stderr.isatty():
        args.progress = False
    from visionlite.download import DownloadError

    try:
        return args.run(args)
    except CLIError as err:
        print(f"visionlite {args.command}: {err}", file=sys.stderr)
        return 2
    except (DownloadError, ValueError, KeyError, OSError) as err:
        # Registry look-ups, download and cache errors carry messages written for users.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"visionlite {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
