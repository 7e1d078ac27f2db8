"""Data-loading benchmark: visionlite's ImageFolder + transforms + DataLoader against TorchVision's
ImageFolder + transforms + PyTorch's DataLoader, on the same JPEG files.

An ImageFolder of JPEGs is generated once from the photos in ``tests/assets`` (random crops at
ImageNet-like sizes, 4 classes; cached in the temporary directory, keyed by ``--images``). Both sides run
the ImageNet training pipeline (RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize) with
shuffling, ``--batch-size`` and ``--workers`` worker processes. One timed run is one full epoch, starting
the workers included; images/s = images / time. Each library runs in its own processes, alternated
(``_bench_runner.py``: median and min-max of each, ratio of the medians visionlite / PyTorch, peak RSS of
the main process).

    python scripts/bench_data.py [--images 320] [--rounds 3] [--repeat 2] [--workers 2] [--batch-size 32]
"""
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench_runner  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CASES = ["DataLoader epoch (ImageFolder, augment pipeline)"]


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


def image_folder(n):
    """The cached folder of ``n`` JPEGs (made once, then shared by every worker process)."""
    root = Path(tempfile.gettempdir()) / f"visionlite-bench-data-{n}"
    if not root.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
        make_image_folder(tmp, n)
        try:
            tmp.rename(root)
        except OSError:  # another process finished first: its folder is the same
            shutil.rmtree(tmp, ignore_errors=True)
    return str(root)


def build(libname, case, args):
    """One timed run: an epoch of ``libname``'s loader over the folder."""
    lib = importlib.import_module("visionlite" if libname == "visionlite" else "torch")
    if libname == "visionlite":
        from visionlite import data, datasets
        from visionlite import transforms as T
    else:
        import torch.utils.data as data
        import torchvision.datasets as datasets
        import torchvision.transforms as T
    tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = datasets.ImageFolder(image_folder(args.images), transform=tf)
    loader = data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                             generator=lib.Generator().manual_seed(0))

    def epoch():
        count = 0
        for images, labels in loader:
            count += labels.shape[0]
            assert tuple(images.shape[1:]) == (3, 224, 224)
        assert count == len(ds)

    return epoch


def add_arguments(p):
    p.add_argument("--images", type=int, default=320)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(profile=False, rounds=3, repeat=2)
    return ["images", "workers", "batch_size"]


if __name__ == "__main__":
    sys.exit(_bench_runner.main(__file__, CASES, build, __doc__.split("\n\n")[0],
                                add_arguments=add_arguments))
