"""Building blocks for dataset fixtures in their official formats (the tests of SEMEION ... WIDERFace):
image bytes, archives made from a folder, MD5s, and comparing samples with TorchVision's."""
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(seed, size=(12, 10), mode="RGB", fmt="PNG"):
    """Random pixels as an encoded image (``size`` is (width, height)); mode RGB, L or P."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 4 if mode == "P" else 256, (size[1], size[0], 3)[:3 if mode == "RGB" else 2],
                       dtype=np.uint8)
    img = Image.fromarray(arr)
    if mode == "P":
        img = img.convert("P")  # values 0..3 become palette indices
        img.putpalette([v for i in range(256) for v in (i * 60 % 256, i * 30 % 256, i * 90 % 256)])
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_files(root, files):
    """Write ``{relative path: bytes or str}`` under ``root``; returns ``root`` as a Path."""
    root = Path(root)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def pack(folder, archive, arcroot=None):
    """Pack the files under ``folder`` into ``archive`` (.zip, .tar, .tar.gz/.tgz), named relative to
    ``folder`` (under ``arcroot`` when given); returns the archive's bytes."""
    folder, archive = Path(folder), Path(archive)
    names = sorted(p for p in folder.rglob("*") if p.is_file())
    archive.parent.mkdir(parents=True, exist_ok=True)

    def arcname(p):
        name = p.relative_to(folder)
        return str(Path(arcroot) / name) if arcroot else str(name)

    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for p in names:
                zf.write(p, arcname(p))
    else:
        with tarfile.open(archive, "w:gz" if archive.name.endswith((".gz", ".tgz")) else "w") as tf:
            for p in names:
                tf.add(p, arcname(p))
    return archive.read_bytes()


def md5(data):
    return hashlib.md5(data).hexdigest()


def same_sample(ours, theirs):
    """Assert two samples (tuples, lists, dicts, PIL images, arrays/tensors, scalars) are equal."""
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            same_sample(ours[k], theirs[k])
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            same_sample(a, b)
    elif isinstance(theirs, Image.Image):
        assert isinstance(ours, Image.Image) and ours.mode == theirs.mode and ours.size == theirs.size
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    elif hasattr(theirs, "numpy") or isinstance(theirs, np.ndarray):
        a = ours.numpy() if hasattr(ours, "numpy") else np.asarray(ours)
        b = theirs.numpy() if hasattr(theirs, "numpy") else theirs
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (ours, theirs)


def same_dataset(ours, theirs):
    """Same length and the same samples, index by index."""
    assert len(ours) == len(theirs)
    for i in range(len(theirs)):
        same_sample(ours[i], theirs[i])
