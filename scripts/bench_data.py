"""Data-loading throughput: visionlite's ImageFolder + transforms + DataLoader against TorchVision's
ImageFolder + transforms + PyTorch's DataLoader, on the same JPEG files, in one run.

An ImageFolder of JPEGs is generated from the photos in ``tests/assets`` (random crops at ImageNet-like
sizes, 4 classes). Both sides run the ImageNet training pipeline (RandomResizedCrop(224),
RandomHorizontalFlip, ToTensor, Normalize) with shuffling, batch 32 and 2 worker processes. Epochs
alternate between the libraries so that machine noise hits both; an epoch's time includes starting the
workers. Prints images/s per epoch and the median ratio visionlite / PyTorch (>1 means faster).

    python scripts/bench_data.py [--images 320] [--epochs 3] [--workers 2] [--batch-size 32]
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_image_folder(root, n, seed=0):
    """``n`` JPEGs under ``root/class_k/``: crops of the test photos resized so the longer side is
    256-500 px, saved at quality 90 (typical of ImageNet files)."""
    rng = np.random.default_rng(seed)
    photos = [Image.open(p).convert("RGB") for p in sorted(ASSETS.glob("*.png"))]
    if not photos:
        raise SystemExit(f"no photos found in {ASSETS}")
    for i in range(n):
        photo = photos[i % len(photos)]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        longer = int(rng.integers(256, 501))
        scale = longer / max(cw, ch)
        img = photo.crop((left, top, left + cw, top + ch)).resize((round(cw * scale), round(ch * scale)))
        folder = Path(root) / f"class_{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        img.save(folder / f"{i:05d}.jpg", quality=90)


def visionlite_loader(root, batch_size, workers):
    import visionlite as vl
    from visionlite import data, datasets
    from visionlite import transforms as T

    tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = datasets.ImageFolder(root, transform=tf)
    return data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                           generator=vl.Generator().manual_seed(0))


def torch_loader(root, batch_size, workers):
    import torch
    import torchvision.datasets
    import torchvision.transforms as T

    tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = torchvision.datasets.ImageFolder(root, transform=tf)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       generator=torch.Generator().manual_seed(0))


def time_epoch(loader):
    """Images per second over one full epoch (worker start-up included)."""
    start = time.perf_counter()
    count = 0
    for images, labels in loader:
        count += labels.shape[0]
        assert tuple(images.shape[1:]) == (3, 224, 224)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_data_") as root:
        make_image_folder(root, args.images)
        loaders = {"visionlite": visionlite_loader(root, args.batch_size, args.workers),
                   "pytorch": torch_loader(root, args.batch_size, args.workers)}
        for loader in loaders.values():  # warm-up: file cache, lazy imports in workers
            time_epoch(loader)
        rates = {name: [] for name in loaders}
        for epoch in range(args.epochs):
            for name, loader in loaders.items():
                rates[name].append(time_epoch(loader))
                print(f"epoch {epoch}  {name:10s} {rates[name][-1]:7.1f} images/s", flush=True)
    med = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\n{args.images} JPEGs, batch {args.batch_size}, {args.workers} workers, ImageNet train pipeline")
    print(f"median images/s: visionlite {med['visionlite']:.1f}, pytorch+torchvision {med['pytorch']:.1f}, "
          f"ratio {med['visionlite'] / med['pytorch']:.2f}x")


if __name__ == "__main__":
    main()
