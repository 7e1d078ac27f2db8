"""Fine-tune a visionlite detector (TorchVision's object-detection fine-tuning recipe) on a small dataset.

    python scripts/finetune_detection.py DATA --epochs 10 --out runs/det
    python scripts/finetune_detection.py DATA --model maskrcnn_resnet50_fpn --out runs/seg    # + masks
    python scripts/finetune_detection.py DATA --out runs/det --resume          # continue after a stop
    python scripts/finetune_detection.py --make-shapes data/shapes             # generate a toy dataset

DATA holds ``train/`` and ``val/`` folders, or is one folder split by ``--val-split``. Each folder is COCO
(``annotations.json`` with its images under ``images/``) or the simple format of
``visionlite.datasets.DetectionFolder`` (``images/``, ``labels/<name>.json``, optional ``masks/`` and
``classes.txt``). ``--make-shapes ROOT`` writes such a dataset of rendered shapes (both formats) offline.

The model (``--model``, any detection builder; default ``fasterrcnn_mobilenet_v3_large_320_fpn``) starts
from ``--weights`` (``DEFAULT``: the COCO weights, downloaded once; ``none``: random, with
``--weights-backbone`` for the backbone), and its box predictor (and mask predictor) is replaced by one
for DATA's classes (``FastRCNNPredictor``, ``MaskRCNNPredictor``; new classification heads for RetinaNet
and FCOS). Training: the v2 joint transforms (horizontal flip; boxes and masks follow the image), SGD with
momentum and weight decay, a linear warmup then cosine decay per iteration.

Each epoch writes to ``--out``: ``last.safetensors`` (model, optimizer, scheduler, epoch, RNG states: for
``--resume``, and for ``visionlite detect --checkpoint``), ``best.safetensors`` (the weights with the best
box AP), ``metrics.csv`` (loss, COCO AP@[.5:.95]/AP50/AP75/AR@100 for boxes, and masks with Mask R-CNN)
and ``metrics.png``.
"""
import argparse
import csv
import math
import os
import random
import sys
import time

import numpy as np
from finetune import read_metrics, rng_states, set_rng_states  # scripts/finetune.py, beside this file
from plot_metrics import plot_metrics

import visionlite as vl
from visionlite import data
from visionlite import models as vm
from visionlite.download import DownloadError

METRICS = ("AP", "AP50", "AP75", "AR100")
CSV_FIELDS = (["epoch", "lr", "train_loss"] + [f"bbox_{m}" for m in METRICS] + [f"segm_{m}" for m in METRICS]
              + ["seconds"])
PANELS = [("loss", ["train_loss"]), ("box mAP", [f"bbox_{m}" for m in METRICS[:3]]),
          ("mask mAP", [f"segm_{m}" for m in METRICS[:3]])]
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "best_ap", "classes", "rng", "model_name",
                   "epochs", "model_kwargs")


# ------------------------------------------------------------------------------------------------ data

def build_transforms(train):
    """v2 joint transforms: the image becomes float in [0, 1]; boxes and masks follow any flip."""
    from visionlite.transforms import v2 as T

    steps = [T.ToImage()]
    if train:
        steps.append(T.RandomHorizontalFlip(0.5))
    steps += [T.ToDtype(vl.float32, scale=True), T.ToPureTensor()]
    return T.Compose(steps)


class _Complete(data.Dataset):
    """A detection dataset whose targets always hold ``boxes`` (K, 4), ``labels`` (K,) and an int
    ``image_id`` (COCO images without annotations come with only an ``image_id``), without ``masks`` unless
    they are wanted."""

    def __init__(self, dataset, with_masks):
        self.dataset, self.with_masks = dataset, with_masks

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image, target = self.dataset[index]
        target = dict(target)
        if "boxes" not in target:
            h, w = image.shape[-2:]
            target["boxes"] = vl.zeros(0, 4)
            target["labels"] = vl.zeros(0, dtype=vl.int64)
            if self.with_masks:
                target["masks"] = vl.zeros(0, h, w, dtype=vl.uint8)
        if not self.with_masks:
            target.pop("masks", None)
        elif "masks" not in target:
            raise SystemExit("this model predicts masks, but the dataset has none: give masks "
                             "(COCO segmentation or masks/ PNGs) or pick a box-only --model")
        target["image_id"] = int(target.get("image_id", index))
        return image, target


def open_folder(folder, train, with_masks):
    """``(dataset, class names, COCO ground truth or None)`` of one COCO or DetectionFolder folder."""
    from visionlite.datasets import CocoDetection, DetectionFolder, wrap_dataset_for_transforms_v2

    ann = os.path.join(folder, "annotations.json")
    tf = build_transforms(train)
    if os.path.exists(ann):
        import json

        coco = CocoDetection(os.path.join(folder, "images"), ann, transforms=tf)
        keys = ["boxes", "labels", "image_id"] + (["masks"] if with_masks else [])
        dataset = wrap_dataset_for_transforms_v2(coco, target_keys=keys)
        cats = sorted(coco.cats.values(), key=lambda c: c["id"])
        # Labels are COCO category ids; names by id, with "" for unused ids (and 0, the background).
        names = [""] * (max([c["id"] for c in cats], default=0) + 1)
        for c in cats:
            names[c["id"]] = c["name"]
        with open(ann) as f:
            gt = json.load(f)
        return _Complete(dataset, with_masks), names[1:], gt
    if os.path.isdir(os.path.join(folder, "labels")):
        dataset = DetectionFolder(folder, transforms=tf)
        return _Complete(dataset, with_masks), list(dataset.classes), None
    raise SystemExit(f"{folder}: neither COCO (annotations.json + images/) nor the folder format (images/ + "
                     "labels/); see --help")


def build_datasets(root, val_split, with_masks, seed):
    """``(train, val, class names, COCO ground truth of val)``."""
    from visionlite.utils.coco_eval import targets_to_coco

    if not os.path.isdir(root):
        raise SystemExit(f"{root}: no such folder (make a toy one with --make-shapes {root})")
    if os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "val")):
        train, classes, _ = open_folder(os.path.join(root, "train"), True, with_masks)
        val, val_classes, gt = open_folder(os.path.join(root, "val"), False, with_masks)
        if val_classes != classes:
            raise SystemExit(f"{root}: train/ and val/ have different classes ({classes} vs {val_classes})")
    else:
        train, classes, gt = open_folder(root, True, with_masks)
        val = open_folder(root, False, with_masks)[0]
        n = len(train)
        n_val = max(1, int(round(n * val_split)))
        if not 0 < n_val < n:
            raise SystemExit(f"{root}: {n} images cannot be split with --val-split {val_split}")
        order = np.random.default_rng(seed).permutation(n).tolist()
        train, val = data.Subset(train, order[n_val:]), data.Subset(val, order[:n_val])
        gt = None  # rebuilt below for the held-out images only
    if gt is None:
        gt = targets_to_coco((val[i] for i in range(len(val))), ["__background__"] + list(classes))
    return train, val, classes, gt


def collate(batch):
    return tuple(zip(*batch))


# ----------------------------------------------------------------------------------------------- model

def _weights(spec, enum_of):
    if spec is None or str(spec).lower() == "none":
        return None
    return enum_of().verify(spec)


def build_model(args, num_classes):
    """The detector with new predictors for ``num_classes`` (background included)."""
    from visionlite.models import detection

    builder = getattr(detection, args.model, None)
    if builder is None:
        raise SystemExit(f"unknown detection model {args.model!r}; pick one of "
                         f"{', '.join(n for n in detection.__all__ if n[0].islower())}")
    weights = _weights(args.weights, lambda: vm.get_model_weights(builder))
    import inspect

    wb_enum = inspect.signature(builder, eval_str=True).parameters["weights_backbone"].annotation
    wb_enum = next(a for a in getattr(wb_enum, "__args__", (wb_enum,)) if a is not type(None))
    weights_backbone = _weights(args.weights_backbone, lambda: wb_enum) if weights is None else None
    kwargs = model_kwargs(args)
    if weights is None:
        model = builder(weights=None, weights_backbone=weights_backbone, num_classes=num_classes, **kwargs)
    else:
        model = builder(weights=weights, **kwargs)
        replace_predictors(model, num_classes)
    return model


def model_kwargs(args):
    """Builder keyword arguments that change the model's structure or behaviour, kept in checkpoints."""
    out = {}
    if args.min_size is not None:
        out["min_size"] = args.min_size
    if args.max_size is not None:
        out["max_size"] = args.max_size
    if args.box_batch_size_per_image is not None:
        out["box_batch_size_per_image"] = args.box_batch_size_per_image
    if args.box_score_thresh is not None:
        out["box_score_thresh"] = args.box_score_thresh
    return out


def replace_predictors(model, num_classes):
    """Swap a pretrained detector's class-specific layers for ``num_classes`` (background included).

    R-CNNs get a new ``FastRCNNPredictor`` (and ``MaskRCNNPredictor``), as TorchVision's tutorial does;
    RetinaNet and FCOS a new final classification conv (``cls_logits``, prior-probability bias) under their
    pretrained conv tower; SSD/SSDlite a new last conv per feature map. Keypoint predictors stay."""
    from visionlite import nn
    from visionlite.models.detection.faster_rcnn import FastRCNNPredictor
    from visionlite.models.detection.mask_rcnn import MaskRCNNPredictor

    roi_heads = getattr(model, "roi_heads", None)
    if roi_heads is not None:
        in_features = roi_heads.box_predictor.cls_score.in_features
        roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes)
        if getattr(roi_heads, "mask_predictor", None) is not None:
            conv5 = roi_heads.mask_predictor.conv5_mask
            roi_heads.mask_predictor = MaskRCNNPredictor(conv5.in_channels, conv5.out_channels, num_classes)
        return model
    head = getattr(getattr(model, "head", None), "classification_head", None)
    if head is not None and hasattr(head, "cls_logits"):  # RetinaNet, FCOS
        old = head.cls_logits
        new = nn.Conv2d(old.in_channels, head.num_anchors * num_classes, 3, stride=1, padding=1)
        nn.init.normal_(new.weight, std=0.01)
        nn.init.constant_(new.bias, -math.log((1 - 0.01) / 0.01))
        head.cls_logits, head.num_classes = new, num_classes
        return model
    if head is not None and hasattr(head, "module_list"):  # SSD, SSDlite
        for i, block in enumerate(head.module_list):
            convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
            old = convs[-1]
            anchors = old.out_channels // head.num_columns
            new = nn.Conv2d(old.in_channels, anchors * num_classes, old.kernel_size, padding=old.padding)
            nn.init.xavier_uniform_(new.weight)
            nn.init.zeros_(new.bias)
            if block is old:
                head.module_list[i] = new
                continue
            *path, leaf = next(n for n, m in block.named_modules() if m is old).split(".")
            parent = block  # SSDlite: the last conv of a small Sequential
            for part in path:
                parent = getattr(parent, part)
            setattr(parent, leaf, new)
        head.num_columns = num_classes
        return model
    raise SystemExit(f"{type(model).__name__}: no predictor swap for pretrained weights here; "
                     "use --weights none (and --weights-backbone) to train it for your classes")


def lr_factor(step, warmup_steps, total_steps):
    """Linear warmup from 1/1000 to 1 over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        alpha = step / warmup_steps
        return 0.001 * (1 - alpha) + alpha
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_optimizer(args, model, steps_per_epoch):
    groups = vm.param_groups(model, default={"lr": args.lr}, weight_decay=args.weight_decay)
    optimizer = vl.optim.SGD(groups, lr=args.lr, momentum=0.9)
    total = args.epochs * steps_per_epoch
    warmup = min(args.warmup_iters, max(1, steps_per_epoch - 1), total)
    scheduler = vl.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total))
    return optimizer, scheduler


# ------------------------------------------------------------------------------------------ train / eval

def _to(target, device):
    return {k: (v.to(device) if isinstance(v, vl.Tensor) else v) for k, v in target.items()}


def train_one_epoch(model, loader, optimizer, scheduler, args, epoch):
    """One pass over ``loader``; returns the mean summed loss and the mean of each loss term."""
    model.train()
    total, count, parts = 0.0, 0, {}
    batches = loader
    if args.progress:
        from tqdm import tqdm

        batches = tqdm(loader, desc=f"train {epoch}", leave=False)
    for images, targets in batches:
        images = [im.to(args.device) for im in images]
        targets = [_to(t, args.device) for t in targets]
        losses = model(images, targets)
        loss = sum(losses.values())
        value = float(loss.item())
        if not math.isfinite(value):
            parts = {k: float(v) for k, v in losses.items()}
            raise SystemExit(f"epoch {epoch}: the loss is {value} ({parts}); lower --lr")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += value * len(images)
        count += len(images)
        for k, v in losses.items():
            parts[k] = parts.get(k, 0.0) + float(v.item()) * len(images)
    return total / max(1, count), {k: v / max(1, count) for k, v in parts.items()}


def evaluate(model, loader, gt, iou_types, args):
    """COCO metrics ``{iou_type: {name: value}}`` of ``model`` on ``loader`` against ``gt``."""
    from visionlite.utils.coco_eval import COCOEvaluator

    model.eval()
    evaluator = COCOEvaluator(gt, iou_types=iou_types)
    with vl.no_grad():
        for images, targets in loader:
            outputs = model([im.to(args.device) for im in images])
            evaluator.update({t["image_id"]: {k: v.cpu() for k, v in o.items()}
                              for t, o in zip(targets, outputs)})
    return evaluator.summarize()


# --------------------------------------------------------------------------------------- checkpoints

def save_checkpoint(path, model, optimizer, scheduler, epoch, best_ap, classes, args, rows):
    vl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch, "best_ap": best_ap,
             "classes": list(classes), "rng": rng_states(), "model_name": args.model, "epochs": args.epochs,
             "model_kwargs": model_kwargs(args), "metrics": list(rows)}, path)


def load_checkpoint(path, model, optimizer, scheduler, classes, args):
    """Restore a :func:`save_checkpoint` file; returns ``(epoch done, best AP)``."""
    try:
        ckpt = vl.load(path, map_location=args.device)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        raise SystemExit(f"--resume: cannot read {path} ({type(e).__name__}: {e})") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise SystemExit(f"--resume: {path} is not a finetune_detection.py checkpoint (it lacks "
                         f"{', '.join(missing)}); resume from the last.safetensors in its --out folder")
    if ckpt["model_name"] != args.model or list(ckpt["classes"]) != list(classes):
        raise SystemExit(f"{path} was written for {ckpt['model_name']} with classes {list(ckpt['classes'])}; "
                         f"this run has {args.model} with {list(classes)}")
    if int(ckpt["epochs"]) != args.epochs:
        raise SystemExit(f"{path} belongs to a {ckpt['epochs']}-epoch run: resume with --epochs "
                         f"{ckpt['epochs']}, or start a new run in another --out folder")
    if dict(ckpt["model_kwargs"]) != model_kwargs(args):
        raise SystemExit(f"{path} was trained with {dict(ckpt['model_kwargs'])}; pass the same --min-size/"
                         "--max-size/--box-batch-size-per-image/--box-score-thresh")
    model.load_state_dict(ckpt["model"], strict=True)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    set_rng_states(ckpt["rng"])
    return int(ckpt["epoch"]), float(ckpt["best_ap"])


def write_metrics(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data", nargs="?", help="dataset folder (train/ + val/, or one folder to split)")
    p.add_argument("--make-shapes", metavar="ROOT",
                   help="write a rendered-shapes dataset (ROOT/train, ROOT/val) and exit")
    p.add_argument("--num-images", type=int, default=200, help="with --make-shapes: training images")
    p.add_argument("--model", default="fasterrcnn_mobilenet_v3_large_320_fpn", help="detection builder name")
    p.add_argument("--weights", default="DEFAULT", help="detector weights, or 'none' for random init")
    p.add_argument("--weights-backbone", default="none",
                   help="backbone weights when --weights none (e.g. DEFAULT for ImageNet)")
    p.add_argument("--out", default="runs/detection")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--weight-decay", type=float, default=1e-4, help="not applied to norms and biases")
    p.add_argument("--warmup-iters", type=int, default=1000, help="at most the first epoch's iterations")
    p.add_argument("--min-size", type=int, default=None, help="resize images to this shorter side")
    p.add_argument("--max-size", type=int, default=None, help="and at most this longer side")
    p.add_argument("--box-batch-size-per-image", type=int, default=None,
                   help="RoIs sampled per image for the box head (TorchVision: 512; fewer is faster)")
    p.add_argument("--box-score-thresh", type=float, default=None,
                   help="R-CNN: lowest score kept at evaluation (TorchVision: 0.05; lower it for a fuller "
                   "precision-recall curve early in training from scratch)")
    p.add_argument("--val-split", type=float, default=0.2, help="fraction held out when DATA has no val/")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="CKPT",
                   help="continue from CKPT (default: OUT/last.safetensors)")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                   help="stop after this epoch; continue later with --resume")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=sys.stderr.isatty())
    args = p.parse_args(argv)
    if args.make_shapes is None and args.data is None:
        p.error("give DATA (or --make-shapes ROOT)")
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be at least 1")
    return args


def make_shapes(root, num_images, seed):
    from visionlite.datasets.shapes import make_shapes_dataset

    make_shapes_dataset(os.path.join(root, "train"), num_images=num_images, seed=seed)
    make_shapes_dataset(os.path.join(root, "val"), num_images=max(1, num_images // 4), seed=seed + 1)
    print(f"wrote {num_images} training and {max(1, num_images // 4)} validation images to {root}")


def main(argv=None):
    args = parse_args(argv)
    if args.make_shapes:
        make_shapes(args.make_shapes, args.num_images, args.seed)
        return None
    os.makedirs(args.out, exist_ok=True)
    vl.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)

    with_masks = "mask" in args.model
    iou_types = ("bbox", "segm") if with_masks else ("bbox",)
    train_set, val_set, classes, gt = build_datasets(args.data, args.val_split, with_masks, args.seed)
    num_classes = len(classes) + 1
    try:
        model = build_model(args, num_classes).to(args.device)
    except DownloadError as err:
        raise SystemExit(f"Pretrained weights are unavailable: {err}\nFetch them with `visionlite download "
                         f"{args.model}` where a network is reachable, or pass --weights none.") from None
    train_loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                   num_workers=args.workers, collate_fn=collate)
    val_loader = data.DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers,
                                 collate_fn=collate)
    optimizer, scheduler = build_optimizer(args, model, len(train_loader))

    last, best = os.path.join(args.out, "last.safetensors"), os.path.join(args.out, "best.safetensors")
    csv_path, png_path = os.path.join(args.out, "metrics.csv"), os.path.join(args.out, "metrics.png")
    start_epoch, best_ap = 1, -1.0
    if args.resume is not None:
        path = args.resume or last
        if not os.path.exists(path):
            raise SystemExit(f"--resume: no checkpoint at {path}")
        done, best_ap = load_checkpoint(path, model, optimizer, scheduler, classes, args)
        start_epoch = done + 1
        print(f"resumed from {path} after epoch {done}")
    rows = read_metrics(csv_path, start_epoch - 1)
    print(f"{args.model} ({args.weights} weights), {len(classes)} classes + background, "
          f"{len(train_set)} train / {len(val_set)} val images", flush=True)
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, args.stop_after)
    for epoch in range(start_epoch, last_epoch + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, loss_parts = train_one_epoch(model, train_loader, optimizer, scheduler, args, epoch)
        metrics = evaluate(model, val_loader, gt, iou_types, args)
        row = {"epoch": epoch, "lr": f"{lr:.6g}", "train_loss": f"{train_loss:.4f}",
               "seconds": f"{time.perf_counter() - start:.1f}"}
        for iou_type, values in metrics.items():
            row.update({f"{iou_type}_{m}": f"{values[m]:.4f}" for m in METRICS})
        rows.append(row)
        summary = " | ".join(f"{t} AP {v['AP']:.3f} AP50 {v['AP50']:.3f} AP75 {v['AP75']:.3f}"
                             for t, v in metrics.items())
        parts = " ".join(f"{k.removeprefix('loss_')} {v:.3f}" for k, v in loss_parts.items())
        print(f"epoch {epoch}/{args.epochs}: loss {train_loss:.3f} ({parts}) | {summary} | "
              f"{row['seconds']} s", flush=True)
        write_metrics(csv_path, rows)
        ap = metrics["bbox"]["AP"]
        if ap > best_ap:
            best_ap = ap
            vl.save({"model": model.state_dict(), "classes": list(classes), "model_name": args.model,
                     "model_kwargs": model_kwargs(args), "epoch": epoch, "bbox_AP": ap}, best)
        save_checkpoint(last, model, optimizer, scheduler, epoch, best_ap, classes, args, rows)
        panels = PANELS if with_masks else PANELS[:2]
        plot_metrics(rows, png_path, title=f"{args.model} on {os.path.basename(os.path.abspath(args.data))}",
                     panels=panels)
    print(f"best box AP {best_ap:.4f}; checkpoints, metrics.csv and metrics.png in {args.out}")
    return best_ap


if __name__ == "__main__":
    main()
