"""Tiny on-disk fixtures for the dataset tests: real image files, archives, and a comparison of a
visionlite dataset with TorchVision's on the same files."""
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(seed, size=(7, 5), mode="RGB", fmt="JPEG"):
    """The bytes of a random ``size`` (w, h) image in ``fmt``."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((len(mode),) if mode != "L" else ())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, fmt)
    return buf.getvalue()


def write(path, data):
    """Write ``data`` (bytes or str) at ``path``, creating its folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def write_image(path, seed, **kwargs):
    fmt = {".png": "PNG", ".ppm": "PPM"}.get(Path(path).suffix.lower(), "JPEG")
    return write(path, image_bytes(seed, fmt=fmt, **kwargs))


def tar_bytes(folder, mode="w:gz", names=None):
    """A tarball of the entries ``names`` (default: everything) of ``folder``, paths relative to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name in names or sorted(os.listdir(folder)):
            tar.add(os.path.join(folder, name), arcname=name)
    return buf.getvalue()


def zip_bytes(folder, names=None):
    """A zip of the entries ``names`` (default: everything) of ``folder``, paths relative to it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names or sorted(os.listdir(folder)):
            top = os.path.join(folder, name)
            if os.path.isfile(top):
                zf.write(top, name)
            for dirpath, _, files in os.walk(top):
                for f in sorted(files):
                    full = os.path.join(dirpath, f)
                    zf.write(full, os.path.relpath(full, folder))
    return buf.getvalue()


def md5(data):
    return hashlib.md5(data).hexdigest()


def serve(server, name, data):
    """Serve ``data`` at ``/name``; returns ``(url, md5)``."""
    server.add_file(name, data)
    return server.url(name), md5(data)


def _plain(value):
    """Targets as plain Python/numpy values: tensors of either library become numpy arrays."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return value


def assert_same_item(a, b):
    a, b = _plain(a), _plain(b)
    if isinstance(a, Image.Image) or isinstance(b, Image.Image):
        assert isinstance(a, Image.Image) and isinstance(b, Image.Image), (type(a), type(b))
        assert a.mode == b.mode and a.size == b.size
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            assert_same_item(x, y)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.shape(a) == np.shape(b), (a, b)
        np.testing.assert_array_equal(a, b)
    else:
        assert type(a) is type(b) and a == b, (a, b)


def assert_same_dataset(ours, theirs, attrs=()):
    """Same length, same named attributes, and every item equal (images pixel for pixel)."""
    assert len(ours) == len(theirs) > 0
    assert repr(ours) == repr(theirs)
    for name in attrs:
        assert getattr(ours, name) == getattr(theirs, name), name
    for i in range(len(ours)):
        assert_same_item(ours[i], theirs[i])
