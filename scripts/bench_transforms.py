"""Images per second, JPEG bytes to a normalized tensor, for visionlite and TorchVision.

Two pipelines, as ImageNet training scripts use them:
  eval:  Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)
  train: RandomResizedCrop(224), RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)
Both libraries decode with Pillow the same way, so the difference is in the transforms. The libraries
take turns image by image (alternating which goes first) and each round's totals are compared, so load
from other processes falls on both alike; the best round of each counts.
TorchVision runs twice: with torch's default thread count and with one thread (as in DataLoader workers).

    python scripts/bench_transforms.py [--images N] [--rounds R]
"""
import argparse
import io
import pathlib
import time

from PIL import Image

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
ASSETS = pathlib.Path(__file__).resolve().parent.parent / "tests" / "assets"


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


def pipelines(T):
    return {
        "eval": T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)]),
        "train": T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                            T.Normalize(MEAN, STD)]),
    }


def one(pipeline, data):
    start = time.perf_counter()
    pipeline(Image.open(io.BytesIO(data)).convert("RGB"))
    return time.perf_counter() - start


def interleaved_round(pipes, corpus):
    """Seconds each pipeline spent on the corpus, the two taking turns image by image."""
    spent = {name: 0.0 for name in pipes}
    for k, data in enumerate(corpus):
        order = list(pipes) if k % 2 == 0 else list(pipes)[::-1]
        for name in order:
            spent[name] += one(pipes[name], data)
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200, help="JPEGs per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per library")
    args = parser.parse_args()

    import torch
    import torchvision
    import torchvision.transforms as TT

    import visionlite
    import visionlite.transforms as VT

    corpus = jpeg_corpus(args.images)
    libs = {"visionlite": pipelines(VT), "torchvision": pipelines(TT)}
    print(f"visionlite {visionlite.__version__}, torchvision {torchvision.__version__}, "
          f"{args.images} JPEGs x {args.rounds} rounds")
    for threads in (torch.get_num_threads(), 1):
        torch.set_num_threads(threads)
        print(f"\ntorch threads: {threads}")
        print(f"{'pipeline':<8} {'visionlite img/s':>17} {'torchvision img/s':>18} {'ratio':>7}")
        for name in ("eval", "train"):
            pipes = {lib: libs[lib][name] for lib in libs}
            interleaved_round(pipes, corpus[:10])  # warm up: first calls import and cache
            best = {lib: 0.0 for lib in libs}
            for _ in range(args.rounds):
                spent = interleaved_round(pipes, corpus)
                best = {lib: max(best[lib], len(corpus) / spent[lib]) for lib in libs}
            ratio = best["visionlite"] / best["torchvision"]
            print(f"{name:<8} {best['visionlite']:>17.1f} {best['torchvision']:>18.1f} {ratio:>6.2f}x")


if __name__ == "__main__":
    main()
