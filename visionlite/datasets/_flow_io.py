"""Readers (and writers) for optical-flow and disparity files: Middlebury ``.flo``, PFM, KITTI 16-bit PNG.

The formats, as the flow and stereo datasets store them:

- ``.flo`` (Middlebury): ``b"PIEH"``, width and height as little-endian int32, then ``H*W*2`` little-endian
  float32 values, row-major with u and v interleaved. Read as a ``(2, H, W)`` float32 array.
- PFM: a text header ``PF`` (3 channels) or ``Pf`` (1 channel), ``"<width> <height>"``, and a scale whose
  sign gives the byte order (negative: little-endian), then float32 rows stored bottom row first.
- KITTI/HD1K 16-bit PNG: an RGB PNG of uint16 where ``flow = (R|G - 2**15) / 64`` and ``B`` is the valid mask.

Files come from outside, so every header is checked against the file's real size before any array is
allocated: a damaged or hostile header raises ``ValueError`` naming the file instead of a huge allocation
or a silent short read. The results equal TorchVision's readers (``_read_flo``, ``_read_pfm``) bit for bit.
"""
import os
import re

import numpy as np

__all__ = ["read_flo", "write_flo", "read_pfm", "write_pfm", "read_16bit_png_flow", "_read_flo", "_read_pfm"]

_FLO_MAGIC = b"PIEH"
_MAX_SIDE = 1 << 16  # no flow or disparity map has a side this long; a larger header is damage


def _file_size(path):
    return os.stat(path).st_size


def read_flo(path):
    """Read a Middlebury ``.flo`` file as a ``(2, H, W)`` float32 numpy array (u, v)."""
    path = os.fspath(path)
    size = _file_size(path)
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != _FLO_MAGIC:
            raise ValueError(f"Magic number incorrect. Invalid .flo file: {path} does not start with b'PIEH' "
                             f"(is it a Middlebury optical-flow file?)")
        w, h = (int(v) for v in np.frombuffer(header[4:], "<i4"))
        if not (0 < w <= _MAX_SIDE and 0 < h <= _MAX_SIDE):
            raise ValueError(f"Invalid .flo file {path}: header says {w}x{h} (width x height)")
        expected = 12 + 8 * w * h
        if size < expected:
            raise ValueError(f"Invalid .flo file {path}: a {w}x{h} flow needs {expected} bytes, the file has "
                             f"{size} (truncated?)")
        data = np.frombuffer(f.read(8 * w * h), "<f4")
    # (H, W, 2) interleaved -> (2, H, W); native float32 so the array behaves like TorchVision's
    return data.reshape(h, w, 2).transpose(2, 0, 1).astype(np.float32)


def write_flo(path, flow):
    """Write a ``(2, H, W)`` (or ``(H, W, 2)`` when the last axis is 2 and the first is not) flow as ``.flo``.

    ``read_flo(path)`` then returns the same float32 values bit for bit.
    """
    flow = np.asarray(flow)
    if flow.ndim != 3 or 2 not in (flow.shape[0], flow.shape[2]):
        raise ValueError(f"write_flo: expected a flow of shape (2, H, W), got {flow.shape}")
    hw2 = flow.transpose(1, 2, 0) if flow.shape[0] == 2 else flow
    h, w = hw2.shape[:2]
    with open(path, "wb") as f:
        f.write(_FLO_MAGIC + np.array([w, h], "<i4").tobytes())
        f.write(np.ascontiguousarray(hw2, dtype="<f4").tobytes())


def read_pfm(path, slice_channels=2):
    """Read a PFM file as a ``(C, H, W)`` float32 array, top row first, keeping the first ``slice_channels``.

    Flows (3-channel files) use ``slice_channels=2``; disparities use 1.
    """
    path = os.fspath(path)
    size = _file_size(path)
    with open(path, "rb") as f:
        header = f.readline(16).rstrip()
        if header not in (b"PF", b"Pf"):
            raise ValueError(f"Invalid PFM file {path}: the first line is {header[:16]!r}, not PF or Pf")
        dims = re.match(rb"^(\d+)\s(\d+)\s$", f.readline(64))
        if not dims:
            raise ValueError(f"Malformed PFM header in {path}: the second line must be '<width> <height>'")
        w, h = (int(v) for v in dims.groups())
        try:
            scale = float(f.readline(64).rstrip())
        except ValueError:
            raise ValueError(f"Malformed PFM header in {path}: the third line must be a number "
                             f"(the scale)") from None
        if not np.isfinite(scale) or scale == 0:  # its sign is the byte order: NaN, inf or 0 say nothing
            raise ValueError(f"Malformed PFM header in {path}: the scale is {scale}; it must be a finite, "
                             f"non-zero number (negative: little-endian data)")
        channels = 3 if header == b"PF" else 1
        if not (0 < w <= _MAX_SIDE and 0 < h <= _MAX_SIDE):
            raise ValueError(f"Invalid PFM file {path}: header says {w}x{h} (width x height)")
        count = h * w * channels
        if size - f.tell() != 4 * count:
            raise ValueError(f"Invalid PFM file {path}: a {w}x{h}x{channels} map needs {4 * count} bytes "
                             f"of data, the file has {size - f.tell()}")
        data = np.frombuffer(f.read(4 * count), ("<" if scale < 0 else ">") + "f4")
    data = data.reshape(h, w, channels).transpose(2, 0, 1)[:, ::-1]  # rows are stored bottom first
    return data[:slice_channels].astype(np.float32)


def write_pfm(path, data, little_endian=True):
    """Write a ``(C, H, W)`` array (C = 1 or 3; C = 2 is padded with a zero channel) as PFM, scale 1."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[0] not in (1, 2, 3):
        raise ValueError(f"write_pfm: expected an array of shape (C, H, W) with C in 1, 2, 3, "
                         f"got {data.shape}")
    if data.shape[0] == 2:
        data = np.concatenate([data, np.zeros_like(data[:1])])
    c, h, w = data.shape
    rows = data.transpose(1, 2, 0)[::-1]  # bottom row first
    with open(path, "wb") as f:
        f.write(b"PF\n" if c == 3 else b"Pf\n")
        f.write(f"{w} {h}\n".encode())
        f.write(b"-1.0\n" if little_endian else b"1.0\n")
        f.write(np.ascontiguousarray(rows, dtype="<f4" if little_endian else ">f4").tobytes())


def read_16bit_png_flow(path):
    """Read a KITTI-style 16-bit RGB PNG flow: ``(flow (2, H, W) float32, valid_flow_mask (H, W) bool)``."""
    from visionlite.io import decode_png, read_file  # only on use: keeps datasets' import light

    path = os.fspath(path)
    try:
        planes = decode_png(read_file(path)).numpy()
    except (OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"cannot read the 16-bit flow PNG {path}: {e}") from e
    if planes.ndim != 3 or planes.shape[0] < 3 or planes.dtype != np.uint16:
        raise ValueError(f"{path} is not a 16-bit RGB PNG flow (got {planes.dtype} with shape "
                         f"{planes.shape}); KITTI/HD1K flows store (u, v, valid) as 16-bit R, G, B")
    values = planes.astype(np.float32)
    flow = (values[:2] - 2**15) / 64
    return flow, values[2].astype(bool)


_read_flo = read_flo  # TorchVision's spellings (datasets/_optical_flow.py, datasets/utils.py)
_read_pfm = read_pfm
