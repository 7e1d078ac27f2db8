"""COCO instance segmentations to binary masks without pycocotools, reproducing its C routines: run-length
encodings (plain count lists, or the compressed string form) and polygons, which pycocotools rasterises by
walking each edge on a 5x finer grid and keeping the crossings of pixel columns.
"""
import math

import numpy as np


def decode_rle(counts, height, width):
    """Alternating runs of 0s and 1s, column by column (Fortran order), -> a ``height x width`` uint8 mask."""
    values = np.zeros(len(counts), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, np.asarray(counts, dtype=np.int64))
    if flat.size != height * width:
        raise ValueError(f"COCO RLE: the runs cover {flat.size} pixels, not {height} x {width}")
    return flat.reshape(width, height).T.copy()


def string_to_counts(s):
    """pycocotools' compressed RLE string (6-bit chunks, differences from the run two back) -> run lengths."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _polygon_counts(xy, height, width):
    """pycocotools' ``rleFrPoly``: the run lengths of one polygon ``[x0, y0, x1, y1, ...]``."""
    scale = 5.0
    k = len(xy) // 2
    xs = [int(scale * xy[2 * j] + 0.5) for j in range(k)] + [0]
    ys = [int(scale * xy[2 * j + 1] + 0.5) for j in range(k)] + [0]
    xs[k], ys[k] = xs[0], ys[0]
    u, v = [], []
    for j in range(k):
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[j], ys[j + 1]
        dx, dy = abs(x1 - x0), abs(y0 - y1)
        flip = (dx >= dy and x0 > x1) or (dx < dy and y0 > y1)
        if flip:
            x0, x1, y0, y1 = x1, x0, y1, y0
        if dx >= dy:
            s = (y1 - y0) / dx if dx else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                u.append(t + x0)
                v.append(int(y0 + s * t + 0.5))
        else:
            s = (x1 - x0) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v.append(t + y0)
                u.append(int(x0 + s * t + 0.5))
    # crossings of pixel columns, back on the pixel grid
    starts = []
    for j in range(1, len(u)):
        if u[j] == u[j - 1]:
            continue
        xd = float(u[j] if u[j] < u[j - 1] else u[j] - 1)
        xd = (xd + 0.5) / scale - 0.5
        if math.floor(xd) != xd or xd < 0 or xd > width - 1:
            continue
        yd = float(v[j] if v[j] < v[j - 1] else v[j - 1])
        yd = (yd + 0.5) / scale - 0.5
        yd = math.ceil(min(max(yd, 0.0), float(height)))
        starts.append(int(xd) * height + int(yd))
    starts.append(height * width)
    starts.sort()
    diffs, prev = [], 0
    for a in starts:
        diffs.append(a - prev)
        prev = a
    counts, j = [diffs[0]], 1
    while j < len(diffs):
        if diffs[j] > 0:
            counts.append(diffs[j])
            j += 1
        else:
            j += 1
            if j < len(diffs):
                counts[-1] += diffs[j]
                j += 1
    return counts


def segmentation_to_mask(segmentation, height, width):
    """A COCO ``segmentation`` (list of polygons, or an RLE dict) -> ``height x width`` uint8 mask."""
    if isinstance(segmentation, dict):
        counts = segmentation["counts"]
        h, w = segmentation.get("size", (height, width))
        if isinstance(counts, (str, bytes)):
            counts = string_to_counts(counts)
        return decode_rle(counts, h, w)
    if isinstance(segmentation, list):
        mask = np.zeros((height, width), dtype=np.uint8)
        for polygon in segmentation:
            mask |= decode_rle(_polygon_counts(polygon, height, width), height, width)
        return mask
    raise ValueError(f"COCO segmentation expected to be a dict or a list, got {type(segmentation)}")
