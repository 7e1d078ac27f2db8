"""Fine-tune a registered visionlite model on an image folder.

    python scripts/finetune.py DATA --model resnet18 --epochs 10 --out runs/pets
    python scripts/finetune.py DATA --model resnet18 --out runs/pets --resume     # continue after a stop

DATA is an ImageFolder root (``DATA/<class>/<image>``) split by ``--val-split``, or holds ``train/`` and
``val/`` ImageFolders. The model starts from pretrained weights (``--weights DEFAULT``, downloaded once and
cached; ``--weights none`` for random initialisation) with a new head for DATA's classes. Training uses
parameter groups (the backbone at ``--backbone-lr-mult`` times the head's learning rate, no weight decay on
norms and biases), optionally a frozen backbone (``--freeze-backbone``; BatchNorm statistics stay frozen
unless ``--train-bn-stats``), linear warmup then cosine decay, label smoothing, gradient accumulation and
an EMA copy of the weights.

Each epoch writes to ``--out``: ``last.safetensors`` (model, optimizer, scheduler, EMA, epoch and RNG
states, for ``--resume``), ``best.safetensors`` (the best weights by validation accuracy), ``metrics.csv``
and ``metrics.png`` (loss and accuracy curves). Checkpoints use visionlite's safetensors format: loading
one never runs code.

Under ``mpiexec -n N python scripts/finetune.py ...`` (``pip install visionlite[distributed]``) the N
processes train one model together: each takes its share of every epoch (``DistributedSampler``,
``--batch-size`` per process), gradients are averaged by ``DistributedDataParallel``, validation is split
between them and its sums combined, and rank 0 alone prints, writes the metrics and the checkpoints (which
hold the plain model, interchangeable with single-process runs). ``--sync-bn`` makes BatchNorm use the
statistics of the whole global batch.
"""
import argparse
import contextlib
import csv
import math
import os
import random
import sys
import time

import numpy as np
from plot_metrics import plot_metrics  # scripts/plot_metrics.py, beside this file

import visionlite as vl
from visionlite import data, nn
from visionlite import models as vm
from visionlite.download import DownloadError

CSV_FIELDS = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_acc_ema", "seconds"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------------ data

def build_transforms(img_size, weights):
    """Training augmentation and the evaluation preset, both ending in normalised ``(3, S, S)`` tensors."""
    from visionlite import transforms as T
    from visionlite.transforms.presets import ImageClassification

    preset = weights.transforms.keywords if weights is not None else {}
    mean, std = preset.get("mean", MEAN), preset.get("std", STD)
    train = T.Compose([T.RandomResizedCrop(img_size, scale=(0.35, 1.0), antialias=True),
                       T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
    # The weights' preset at the training resolution: resize to 256/224 of the crop, centre crop.
    resize = round(img_size * preset.get("resize_size", 256) / preset.get("crop_size", 224))
    extra = {"interpolation": preset["interpolation"]} if "interpolation" in preset else {}  # SWAG: bicubic
    val = ImageClassification(crop_size=img_size, resize_size=resize, mean=mean, std=std, **extra)
    return train, val


def eval_transform_spec(val):
    """The evaluation preset's arguments, saved in checkpoints so ``models.load_finetuned`` (and
    ``visionlite classify --checkpoint``) preprocess as validation did."""
    return {"crop_size": val.crop_size[0], "resize_size": val.resize_size[0], "mean": list(val.mean),
            "std": list(val.std), "interpolation": val.interpolation.value}


def build_datasets(root, val_split, train_tf, val_tf, seed):
    """``(train, val, class names)``; a single folder is split by a seeded permutation (stable on resume)."""
    from visionlite.datasets import ImageFolder

    if os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "val")):
        train = ImageFolder(os.path.join(root, "train"), transform=train_tf)
        val = ImageFolder(os.path.join(root, "val"), transform=val_tf)
        if train.classes != val.classes:
            raise SystemExit(f"{root}: train/ and val/ have different classes")
        return train, val, train.classes
    full_train = ImageFolder(root, transform=train_tf)
    full_val = ImageFolder(root, transform=val_tf)
    n = len(full_train)
    n_val = max(1, int(round(n * val_split)))
    if not 0 < n_val < n:
        raise SystemExit(f"{root}: {n} images cannot be split with --val-split {val_split}")
    order = np.random.default_rng(seed).permutation(n).tolist()
    return data.Subset(full_train, order[n_val:]), data.Subset(full_val, order[:n_val]), full_train.classes


# ----------------------------------------------------------------------------------------- model, optim

def resolve_weights(args):
    """The weights enum member named by ``--weights``, or None for ``--weights none``."""
    return None if args.weights.lower() == "none" else vm.get_model_weights(args.model).verify(args.weights)


drop_aux_heads = vm.drop_aux_heads  # the library's; scripts that import it from here keep working


def build_model(args, weights, num_classes):
    """The model with ``weights`` (loaded with strict=True) and a new head for ``num_classes`` classes."""
    model = drop_aux_heads(vm.get_model(args.model, weights=weights))
    fixed = getattr(model, "image_size", None)  # the Vision Transformer is built for one input size
    if isinstance(fixed, int) and fixed != args.img_size:
        raise SystemExit(f"{args.model} takes {fixed}x{fixed} images (its positional embeddings are sized "
                         f"for them): pass --img-size {fixed}")
    head = vm.get_head(model)
    if weights is None or len(weights.meta["categories"] or ()) != num_classes:
        vm.replace_head(model, num_classes)
    return model, head


def lr_factor(step, warmup_steps, total_steps):
    """Linear warmup from ~0 to 1 over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_optimizer(args, model, head, steps_per_epoch):
    groups = vm.param_groups(model, [(f"{head}.*", {"lr": args.lr})],
                          default={"lr": args.lr * args.backbone_lr_mult}, weight_decay=args.weight_decay)
    if args.opt == "sgd":
        optimizer = vl.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    else:
        optimizer = vl.optim.AdamW(groups, lr=args.lr)
    total = args.epochs * steps_per_epoch
    warmup = min(total, max(1, round(args.warmup_epochs * steps_per_epoch)))
    scheduler = vl.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total))
    return optimizer, scheduler


# --------------------------------------------------------------------------------------- train / eval

def _progress(iterable, desc, enabled):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


def train_one_epoch(model, loader, criterion, optimizer, scheduler, ema, args, epoch):
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    optimizer.zero_grad()
    bar = _progress(loader, f"epoch {epoch} train", args.progress)
    n_batches = len(loader)
    for i, (images, targets) in enumerate(bar):
        images, targets = images.to(args.device), targets.to(args.device)
        stepping = (i + 1) % args.accum_steps == 0 or i + 1 == n_batches
        # Several processes: only a step's last micro-batch averages gradients between them.
        quiet = model.no_sync() if hasattr(model, "no_sync") and not stepping else contextlib.nullcontext()
        with quiet:
            logits = model(images)
            loss = criterion(logits, targets)
            # Gradients of the group's micro-batches add up to the gradient of their mean loss; the last
            # group of an epoch may be shorter than accum_steps.
            group_size = min(args.accum_steps, n_batches - (i // args.accum_steps) * args.accum_steps)
            (loss / group_size).backward()
        if stepping:
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
            if ema is not None:
                ema.update(model.module if hasattr(model, "no_sync") else model)  # the DDP-wrapped model
        n = targets.shape[0]
        total_loss += float(loss.item()) * n
        correct += int((logits.argmax(1) == targets).sum().item())
        seen += n
        if args.progress:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return global_means(total_loss, correct, seen)


def evaluate(model, loader, criterion, args, desc="val"):
    """``(mean loss, accuracy)`` of ``model`` in eval mode over ``loader``."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with vl.no_grad():
        for images, targets in _progress(loader, desc, args.progress):
            images, targets = images.to(args.device), targets.to(args.device)
            logits = model(images)
            total_loss += float(criterion(logits, targets).item()) * targets.shape[0]
            correct += int((logits.argmax(1) == targets).sum().item())
            seen += targets.shape[0]
    return global_means(total_loss, correct, seen)


def global_means(total_loss, correct, seen):
    """``(mean loss, accuracy)`` from this process's sums, or from all processes' sums under mpiexec."""
    from visionlite import distributed as dist

    if dist.is_initialized():
        sums = vl.tensor([total_loss, float(correct), float(seen)], dtype=vl.float64)
        dist.all_reduce(sums)
        total_loss, correct, seen = sums.tolist()
    return total_loss / seen, correct / seen


# -------------------------------------------------------------------------------- several processes

def setup_distributed(args):
    """Under ``mpiexec -n N`` (N > 1): join the process group and return ``(rank, N)``; else ``(0, 1)``."""
    from visionlite import distributed as dist

    if dist.launched_world_size() < 2:
        return 0, 1
    dist.init_process_group("nccl" if str(args.device).startswith("cuda") else "mpi")
    return dist.get_rank(), dist.get_world_size()


def sync_buffers(model, ema):
    """Copy rank 0's buffers (BatchNorm statistics) of ``model`` and the EMA copy to every process."""
    from visionlite import distributed as dist

    for module in (model, ema.module if ema is not None else None):
        if module is not None:
            for b in module.buffers():
                if b is not None:
                    dist.broadcast(b, src=0)


def shard_loaders(train_set, val_set, args, rank, world):
    """Per-process loaders: a DistributedSampler share of the training set (``set_epoch`` reshuffles) and
    every ``world``-th validation sample from ``rank`` (no padding, so combined sums are exact)."""
    train_sampler = data.DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                            seed=args.seed)
    train_loader = data.DataLoader(train_set, batch_size=args.batch_size, sampler=train_sampler,
                                   num_workers=args.workers)
    val_part = data.Subset(val_set, list(range(rank, len(val_set), world)))
    val_loader = data.DataLoader(val_part, batch_size=args.batch_size, num_workers=args.workers)
    return train_loader, val_loader, train_sampler


# --------------------------------------------------------------------------------------- checkpoints

def rng_states():
    return {"visionlite": vl.get_rng_state(), "numpy": list(np.random.get_state()),
            "python": random.getstate()}


def all_rng_states():
    """This process's RNG states, or every process's (a list by rank) under mpiexec."""
    from visionlite import distributed as dist

    if not dist.is_initialized():
        return rng_states()
    states = [None] * dist.get_world_size()
    dist.all_gather_object(states, rng_states())
    return states


def set_rng_states(states):
    vl.set_rng_state(states["visionlite"])
    np.random.set_state(tuple(states["numpy"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path, model, optimizer, scheduler, ema, epoch, best_acc, classes, args, rows=(),
                    rng=None, transform=None):
    rng = rng_states() if rng is None else rng
    vl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "ema": ema.state_dict() if ema is not None else None,
             "epoch": epoch, "best_acc": best_acc, "classes": list(classes), "rng": rng,
             "model_name": args.model, "epochs": args.epochs, "metrics": list(rows),
             "transform": transform}, path)


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "ema", "epoch", "best_acc", "classes", "rng",
                   "model_name", "epochs")


def _read_checkpoint(path, device):
    """The dict saved by :func:`save_checkpoint`, or a SystemExit saying why ``path`` is not one."""
    try:
        ckpt = vl.load(path, map_location=device)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        raise SystemExit(f"--resume: cannot read {path} ({type(e).__name__}: {e}); resume from the "
                         "last.safetensors that finetune.py wrote in its --out folder") from None
    is_dict = isinstance(ckpt, dict)
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt] if is_dict else list(CHECKPOINT_KEYS)
    if missing:
        kind = "a best-weights file (best.safetensors)" if is_dict and "val_acc" in ckpt else (
            "not a finetune.py checkpoint")
        raise SystemExit(f"--resume: {path} is {kind}: it lacks {', '.join(missing)}. Resume from the "
                         "last.safetensors that finetune.py wrote in its --out folder; to start from other "
                         "weights, use --weights (a new run)")
    return ckpt


def load_checkpoint(path, model, optimizer, scheduler, ema, classes, args):
    """Restore everything saved by :func:`save_checkpoint`; returns ``(epoch done, best accuracy, metric
    rows)``."""
    ckpt = _read_checkpoint(path, args.device)
    if ckpt["model_name"] != args.model or list(ckpt["classes"]) != list(classes):
        raise SystemExit(f"{path} was written for model {ckpt['model_name']} with classes {ckpt['classes']}; "
                         f"this run has {args.model} with {list(classes)}")
    if int(ckpt["epochs"]) != args.epochs:
        # The learning-rate schedule spans the planned epochs; a different plan would not continue it.
        raise SystemExit(f"{path} belongs to a {ckpt['epochs']}-epoch run: resume with --epochs "
                         f"{ckpt['epochs']}, or start a new run in another --out folder")
    model.load_state_dict(ckpt["model"], strict=True)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if ema is not None:
        if ckpt["ema"] is None:
            raise SystemExit(f"{path} has no EMA weights; resume with --ema-decay 0")
        ema.load_state_dict(ckpt["ema"])
    rng = ckpt["rng"]
    if isinstance(rng, list):  # written under mpiexec: one entry per process
        from visionlite import distributed as dist

        rank = dist.get_rank() if dist.is_initialized() else 0
        rng = rng[rank] if rank < len(rng) else rng[0]
    set_rng_states(rng)
    return int(ckpt["epoch"]), float(ckpt["best_acc"]), list(ckpt.get("metrics") or [])


def read_metrics(path, upto_epoch):
    """Rows of ``metrics.csv`` for epochs up to ``upto_epoch`` (later ones came from an interrupted run)."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["epoch"]) <= upto_epoch]


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
    p.add_argument("data", help="ImageFolder root, or a folder with train/ and val/ ImageFolders")
    p.add_argument("--model", default="resnet18", help="registered model name (visionlite models)")
    p.add_argument("--weights", default="DEFAULT", help="weights name, or 'none' for random initialisation")
    p.add_argument("--out", default="runs/finetune", help="checkpoints, metrics.csv, metrics.png")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--img-size", type=int, default=None,
                   help="training crop and evaluation size (default: the weights' crop size, else 224)")
    p.add_argument("--val-split", type=float, default=0.2, help="fraction held out when DATA has no val/")
    p.add_argument("--opt", choices=["sgd", "adamw"], default="sgd")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate of the new head")
    p.add_argument("--backbone-lr-mult", type=float, default=0.1, help="backbone lr = lr * this")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="not applied to norms and biases")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--accum-steps", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--ema-decay", type=float, default=0.999, help="0 turns the EMA copy off")
    p.add_argument("--freeze-backbone", action="store_true", help="train only the new head")
    p.add_argument("--train-bn-stats", action="store_true",
                   help="with --freeze-backbone: let BatchNorm running statistics adapt to the new data")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="CKPT",
                   help="continue from CKPT (default: OUT/last.safetensors)")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                   help="stop after this epoch (e.g. to fit a time slot); continue later with --resume")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sync-bn", action="store_true",
                   help="under mpiexec: BatchNorm statistics over the global batch (SyncBatchNorm)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=sys.stderr.isatty(),
                   help="progress bars (default: on a terminal)")
    args = p.parse_args(argv)
    if args.accum_steps < 1 or args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs, --batch-size and --accum-steps must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    rank, world = setup_distributed(args)
    say = print if rank == 0 else (lambda *a, **k: None)
    if rank:
        args.progress = False
    os.makedirs(args.out, exist_ok=True)
    vl.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)

    weights = resolve_weights(args)
    if args.img_size is None:  # 299 for Inception v3, 384/518 for the SWAG ViTs, 224 for most
        args.img_size = weights.transforms.keywords.get("crop_size", 224) if weights is not None else 224
    train_tf, val_tf = build_transforms(args.img_size, weights)
    train_set, val_set, classes = build_datasets(args.data, args.val_split, train_tf, val_tf, args.seed)
    train_sampler = None
    if world > 1:
        train_loader, val_loader, train_sampler = shard_loaders(train_set, val_set, args, rank, world)
    else:
        train_loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                       num_workers=args.workers)
        val_loader = data.DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)

    try:
        model, head = build_model(args, weights, len(classes))
    except DownloadError as err:  # includes OfflineError and hash mismatches
        raise SystemExit(f"Pretrained weights {weights!r} are unavailable: {err}\n"
                         "Fetch them with `visionlite download` where a network is reachable, or pass "
                         "--weights none to start from random initialisation.") from None
    if args.freeze_backbone:
        vm.freeze_backbone(model, freeze_bn_stats=not args.train_bn_stats)
    model.to(args.device)
    train_model = model
    if world > 1:
        from visionlite.nn.parallel import DistributedDataParallel

        if args.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        train_model = DistributedDataParallel(model)  # rank 0's weights everywhere, gradients averaged
        # Each process draws its own augmentations from here on.
        vl.manual_seed(args.seed + rank)
        np.random.seed(args.seed + rank)
        random.seed(args.seed + rank)
    steps_per_epoch = math.ceil(len(train_loader) / args.accum_steps)
    optimizer, scheduler = build_optimizer(args, model, head, steps_per_epoch)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    ema = vm.ModelEMA(model, decay=args.ema_decay) if args.ema_decay > 0 else None

    last, best = os.path.join(args.out, "last.safetensors"), os.path.join(args.out, "best.safetensors")
    csv_path, png_path = os.path.join(args.out, "metrics.csv"), os.path.join(args.out, "metrics.png")
    start_epoch, best_acc = 1, -1.0
    if args.resume is not None:
        path = args.resume or last
        if not os.path.exists(path):
            raise SystemExit(f"--resume: no checkpoint at {path}")
        done, best_acc, saved_rows = load_checkpoint(path, model, optimizer, scheduler, ema, classes, args)
        start_epoch = done + 1
        say(f"resumed from {path} after epoch {done}")
    rows = read_metrics(csv_path, start_epoch - 1)
    if args.resume is not None and len(saved_rows) > len(rows):  # the CSV lost rows: the checkpoint has them
        rows = [{k: str(v) for k, v in r.items()} for r in saved_rows if int(r["epoch"]) < start_epoch]
        if rank == 0:
            write_metrics(csv_path, rows)

    say(f"{args.model} ({'pretrained ' + repr(weights) if weights else 'random init'}), "
          f"{len(classes)} classes, {len(train_set)} train / {len(val_set)} val images")
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, args.stop_after)
    for epoch in range(start_epoch, last_epoch + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        if train_sampler is not None:
            train_sampler.set_epoch(epoch)
        train_loss, train_acc = train_one_epoch(train_model, train_loader, criterion, optimizer, scheduler,
                                                ema, args, epoch)
        if world > 1:  # every process evaluates (and rank 0 saves) rank 0's BatchNorm statistics
            sync_buffers(model, ema)
        val_loss, val_acc = evaluate(model, val_loader, criterion, args)
        val_acc_ema = evaluate(ema.module, val_loader, criterion, args, "val ema")[1] if ema else float("nan")
        row = {"epoch": epoch, "lr": f"{lr:.6g}", "train_loss": f"{train_loss:.4f}",
               "train_acc": f"{train_acc:.4f}", "val_loss": f"{val_loss:.4f}", "val_acc": f"{val_acc:.4f}",
               "val_acc_ema": f"{val_acc_ema:.4f}", "seconds": f"{time.perf_counter() - start:.1f}"}
        rows.append(row)
        rng = all_rng_states()
        score = max(val_acc, val_acc_ema if ema else -1.0)
        if rank:  # rank 0 reports and writes
            best_acc = max(best_acc, score)
            continue
        print(f"epoch {epoch}/{args.epochs}: train loss {train_loss:.3f} acc {train_acc:.3f} | val loss "
              f"{val_loss:.3f} acc {val_acc:.3f} | ema acc {val_acc_ema:.3f} | {row['seconds']} s",
              flush=True)
        # The row goes to disk before the checkpoint: a crash in between retrains this epoch on resume
        # (whose rows stop at the checkpoint's epoch) instead of losing its row.
        write_metrics(csv_path, rows)
        if score > best_acc:
            best_acc = score
            use_ema = ema is not None and val_acc_ema > val_acc
            vl.save({"model": (ema.module if use_ema else model).state_dict(), "classes": list(classes),
                     "model_name": args.model, "epoch": epoch, "val_acc": score,
                     "transform": eval_transform_spec(val_tf)}, best)
        save_checkpoint(last, model, optimizer, scheduler, ema, epoch, best_acc, classes, args, rows, rng,
                        transform=eval_transform_spec(val_tf))
        plot_metrics(rows, png_path, title=f"{args.model} on {os.path.basename(os.path.abspath(args.data))}")
    say(f"best val accuracy {best_acc:.4f}; checkpoints, metrics.csv and metrics.png in {args.out}")
    if world > 1:
        from visionlite import distributed as dist

        dist.barrier()  # rank 0's files are complete when any process returns
        dist.destroy_process_group()
    return best_acc


if __name__ == "__main__":
    main()
