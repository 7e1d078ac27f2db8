"""Transforms benchmark: JPEG bytes to a normalized tensor, visionlite against TorchVision.

Two pipelines, as ImageNet training scripts use them:
  eval:    Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)
  augment: RandomResizedCrop(224), RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)
Both libraries decode with Pillow the same way, so the difference is in the transforms. One timed run
pushes the whole corpus (``--images`` JPEGs made from the test photos at ImageNet-like sizes) through the
pipeline; images/s = images / time. Each library runs in its own processes, alternated, with the same
thread count (``_bench_runner.py``: median and min-max of each, ratio of the medians visionlite /
TorchVision, peak RSS); ``--threads 1`` measures what a DataLoader worker sees.

    python scripts/bench_transforms.py [--images N] [--rounds R] [--threads 1]
"""
import importlib
import io
import os
import pathlib
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bench_runner  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
ASSETS = pathlib.Path(__file__).resolve().parent.parent / "tests" / "assets"
CASES = ["eval pipeline (Resize 256, CenterCrop 224)", "augment pipeline (RandomResizedCrop 224)"]


def jpeg_corpus(n):
    """``n`` JPEG files (bytes) made from the test photos at a few ImageNet-like sizes."""
    photos = [Image.open(p).convert("RGB") for p in sorted(ASSETS.glob("*.png"))]
    sizes = [(500, 375), (375, 500), (640, 480), (500, 333), (800, 600)]
    corpus = []
    for i in range(n):
        buf = io.BytesIO()
        photos[i % len(photos)].resize(sizes[i % len(sizes)]).save(buf, "JPEG", quality=90)
        corpus.append(buf.getvalue())
    return corpus


def pipeline(T, case):
    if case.startswith("eval"):
        return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)])
    return T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(MEAN, STD)])


def build(libname, case, args):
    """One timed run: every JPEG of the corpus decoded and transformed by ``libname``'s pipeline."""
    lib = importlib.import_module("visionlite" if libname == "visionlite" else "torch")
    lib.manual_seed(0)  # the random crops draw from each library's own generator
    T = importlib.import_module(f"{'visionlite' if libname == 'visionlite' else 'torchvision'}.transforms")
    pipe = pipeline(T, case)
    corpus = jpeg_corpus(args.images)

    def run():
        for data in corpus:
            pipe(Image.open(io.BytesIO(data)).convert("RGB"))

    return run


def add_arguments(p):
    p.add_argument("--images", type=int, default=100, help="JPEGs in one timed run")
    p.set_defaults(profile=False, rounds=3, repeat=3)
    return ["images"]


if __name__ == "__main__":
    sys.exit(_bench_runner.main(__file__, CASES, build, __doc__.split("\n")[0], add_arguments=add_arguments))
