"""visionlite's main job, offline in a few minutes: pretrained weights from the cache, then a fine-tune.

1. Looks for ResNet-18's official ImageNet weights in the local cache (never the network, unless
   ``--allow-download``). Found: it classifies the sample photos. Absent: it says so and how to get them.
2. Fine-tunes ResNet-18 (from those weights when cached, else from random initialisation) on the real
   handwritten digits bundled with visionlite, with a new 10-class head, parameter groups, warmup + cosine
   learning rate, label smoothing and an EMA copy, and prints the test accuracy after each epoch.

    python scripts/demo.py                 # about 1-2 minutes on 2 CPU cores
    python scripts/demo.py --epochs 8      # a little more accuracy
"""
import argparse
import math
import os
import sys
import time
from types import SimpleNamespace

from finetune import evaluate, lr_factor, train_one_epoch  # scripts/finetune.py, beside this file

import visionlite as vl
from visionlite import hub, nn
from visionlite import models as vm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = [os.path.join(ROOT, "tests", "assets", n) for n in ("chelsea.png", "coffee.png", "astronaut.png")]


def cached_weights(weights, allow_download):
    """The weights if their verified file is in the cache (or was downloaded, if allowed), else None."""
    previous = os.environ.get(hub.ENV_OFFLINE)
    if not allow_download:
        os.environ[hub.ENV_OFFLINE] = "1"  # a cache miss must not turn into a network call
    try:
        hub.cached_file(weights.url, progress=sys.stderr.isatty(), sha256=weights.sha256,
                        max_bytes=hub.size_limit(weights.meta.get("_file_size")))
        return weights
    except hub.DownloadError as err:
        if allow_download:
            print(f"  could not download: {err}")
        return None
    finally:
        if previous is None:
            os.environ.pop(hub.ENV_OFFLINE, None)
        else:
            os.environ[hub.ENV_OFFLINE] = previous


def classify_photos(weights):
    """Top-3 ImageNet classes of the sample photos with the pretrained model, as a sanity check."""
    from PIL import Image

    model = vm.resnet18(weights=weights, progress=False).eval()
    preprocess = weights.transforms()
    for path in (p for p in PHOTOS if os.path.exists(p)):
        with Image.open(path) as img:
            x = preprocess(img.convert("RGB")).unsqueeze(0)
        with vl.no_grad():
            probs = model(x).softmax(-1)[0].numpy()
        top = probs.argsort()[::-1][:3]
        names = ", ".join(f"{weights.meta['categories'][i]} {100 * probs[i]:.1f}%" for i in top)
        print(f"  {os.path.basename(path):14s} {names}")


def digits_loaders(img_size, batch_size):
    """Train/test loaders of the bundled 8x8 digits, upscaled to ``img_size`` with 3 channels."""
    from visionlite import transforms as T
    from visionlite.datasets import Digits

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    resize = [T.Resize(img_size, antialias=True), T.Grayscale(num_output_channels=3)]
    # Small shifts and rotations only: flips and large crops would turn one digit into another.
    train_tf = T.Compose(resize + [T.RandomAffine(degrees=10, translate=(0.08, 0.08)), T.ToTensor(),
                                   T.Normalize(mean, std)])
    test_tf = T.Compose(resize + [T.ToTensor(), T.Normalize(mean, std)])
    train = Digits(train=True, transform=train_tf)
    test = Digits(train=False, transform=test_tf)
    return (vl.data.DataLoader(train, batch_size=batch_size, shuffle=True),
            vl.data.DataLoader(test, batch_size=256))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--img-size", type=int, default=32, help="digits are upscaled from 8x8 to this")
    parser.add_argument("--allow-download", action="store_true", help="fetch missing weights if online")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    vl.manual_seed(args.seed)
    started = time.perf_counter()

    weights = vm.ResNet18_Weights.DEFAULT
    folder = os.path.join(hub.get_dir(), "checkpoints")
    print(f"[1/2] Pretrained weights {weights!r} ({weights.file_name}, {weights.meta['_file_size']:.0f} MB)")
    found = cached_weights(weights, args.allow_download)
    if found:
        print(f"  found in the cache ({folder}), verified; ImageNet top-3 for the sample photos:")
        classify_photos(found)
    else:
        print(f"  NOT in the cache ({folder}).\n"
              "  To use them, run `visionlite download resnet18` on a machine with internet access, then\n"
              f"  copy {weights.file_name} into that folder (or point VISIONLITE_WEIGHTS_MIRROR at a folder\n"
              "  holding it, or rerun with --allow-download).\n"
              "  Continuing with a randomly initialised ResNet-18.")

    print(f"[2/2] Fine-tuning ResNet-18 on the bundled handwritten digits ({args.epochs} epochs, "
          f"{args.img_size}x{args.img_size})")
    train_loader, test_loader = digits_loaders(args.img_size, args.batch_size)
    model = vm.resnet18(weights=found, progress=False)
    vm.replace_head(model, 10)
    # From pretrained weights the backbone moves 10x slower than the new head; from scratch, at the same pace.
    backbone_mult = 0.1 if found else 1.0
    lr = 3e-3
    groups = vm.param_groups(model, [("fc.*", {"lr": lr})], default={"lr": lr * backbone_mult},
                             weight_decay=0.05)
    optimizer = vl.optim.AdamW(groups, lr=lr)
    total = args.epochs * len(train_loader)
    warmup = len(train_loader) // 2
    scheduler = vl.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, warmup, total))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    ema = vm.ModelEMA(model, decay=0.99)
    opts = SimpleNamespace(device="cpu", accum_steps=1, progress=sys.stderr.isatty())
    print(f"  {len(train_loader.dataset)} training and {len(test_loader.dataset)} test digits, "
          f"{vm.count_parameters(model) / 1e6:.1f}M parameters")

    acc = acc_ema = math.nan
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer, scheduler, ema, opts,
                                          epoch)
        _, acc = evaluate(model, test_loader, criterion, opts)
        _, acc_ema = evaluate(ema.module, test_loader, criterion, opts, "test ema")
        print(f"  epoch {epoch}/{args.epochs}: train loss {loss:.3f}, train acc {100 * train_acc:.1f}% | "
              f"test acc {100 * acc:.1f}% (EMA {100 * acc_ema:.1f}%) | {time.perf_counter() - t0:.0f} s",
              flush=True)
    best = max(acc, acc_ema)
    source = "ImageNet-pretrained" if found else "randomly initialised"
    print(f"Done in {time.perf_counter() - started:.0f} s: {source} ResNet-18 reaches {100 * best:.1f}% "
          f"test accuracy on {len(test_loader.dataset)} held-out handwritten digits (chance: 10%).")
    return best


if __name__ == "__main__":
    main()
