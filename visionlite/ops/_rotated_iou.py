"""Pairwise IoU of rotated boxes ``(cx, cy, w, h, angle in degrees)``, behind ``box_iou(fmt='cxcywhr')``.

The intersection of two rectangles is a convex polygon whose vertices are among: the corners of each
rectangle inside the other, and the crossings of their edges (at most 4 + 4 + 16 candidates). All pairs
are handled at once: candidates with a validity mask, sorted by angle around their mean, then the
shoelace formula (invalid candidates repeat the last valid vertex, adding no area). Computed in float64
around each pair's first centre for precision; no gradient (as TorchVision's kernel).
"""
import numpy as np

from visionlite.core.backend import array_module

_PAIRS_PER_CHUNK = 1 << 15


def _corners(xp, b):
    """(..., 5) boxes -> (..., 4, 2) corners in order around the rectangle."""
    theta = b[..., 4] * (-np.pi / 180.0)  # counter-clockwise on screen (y down), as box_convert
    c, s = xp.cos(theta) * 0.5, xp.sin(theta) * 0.5
    w, h = b[..., 2], b[..., 3]
    dx = xp.stack([c * w - s * h, -c * w - s * h, -c * w + s * h, c * w + s * h], -1)
    dy = xp.stack([s * w + c * h, -s * w + c * h, -s * w - c * h, s * w - c * h], -1)
    return xp.stack([b[..., None, 0] + dx, b[..., None, 1] + dy], -1)


def _inside(xp, p, rect, eps=1e-6):
    """Points ``p`` (P, K, 2) inside rectangles ``rect`` (P, 4, 2) -> (P, K) bool (edges count as inside)."""
    a, ab, ad = rect[:, None, 0], rect[:, None, 1] - rect[:, None, 0], rect[:, None, 3] - rect[:, None, 0]
    ap = p - a
    u, v = (ap * ab).sum(-1), (ap * ad).sum(-1)
    return (u >= -eps) & (u <= (ab * ab).sum(-1) + eps) & (v >= -eps) & (v <= (ad * ad).sum(-1) + eps)


def _intersection_area(xp, ra, rb):
    """Intersection areas of rectangle pairs ``ra``, ``rb`` (P, 4, 2)."""
    p = ra.shape[0]
    a0, a1 = ra, xp.roll(ra, -1, axis=1)  # edges of A: (P, 4, 2)
    b0, b1 = rb, xp.roll(rb, -1, axis=1)
    da = (a1 - a0)[:, :, None]  # (P, 4, 1, 2)
    db = (b1 - b0)[:, None]  # (P, 1, 4, 2)
    diff = b0[:, None] - a0[:, :, None]  # (P, 4, 4, 2)
    den = da[..., 0] * db[..., 1] - da[..., 1] * db[..., 0]
    safe = xp.where(den == 0, 1.0, den)
    t = (diff[..., 0] * db[..., 1] - diff[..., 1] * db[..., 0]) / safe
    u = (diff[..., 0] * da[..., 1] - diff[..., 1] * da[..., 0]) / safe
    cross_ok = (den != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (a0[:, :, None] + t[..., None] * da).reshape(p, 16, 2)
    pts = xp.concatenate([ra, rb, crossings], axis=1)  # (P, 24, 2)
    ok = xp.concatenate([_inside(xp, ra, rb), _inside(xp, rb, ra), cross_ok.reshape(p, 16)], axis=1)
    n = ok.sum(1)
    centre = (pts * ok[..., None]).sum(1) / xp.maximum(n, 1)[:, None]
    rel = pts - centre[:, None]
    ang = xp.where(ok, xp.arctan2(rel[..., 1], rel[..., 0]), np.inf)
    order = xp.argsort(ang, axis=1)
    rel = xp.take_along_axis(rel, order[..., None], axis=1)
    oks = xp.take_along_axis(ok, order, axis=1)
    # Invalid slots (sorted last) repeat the last valid vertex: zero-length edges.
    last = xp.take_along_axis(rel, xp.maximum(n - 1, 0)[:, None, None].repeat(2, -1), axis=1)
    rel = xp.where(oks[..., None], rel, last)
    nxt = xp.roll(rel, -1, axis=1)
    area = 0.5 * xp.abs((rel[..., 0] * nxt[..., 1] - rel[..., 1] * nxt[..., 0]).sum(1))
    return xp.where(n >= 3, area, 0.0)


def rotated_box_iou(boxes1, boxes2):
    """IoU matrix (N, M) of rotated boxes ``boxes1`` (N, 5) and ``boxes2`` (M, 5) as raw arrays."""
    xp = array_module(boxes1)
    dtype = boxes1.dtype if boxes1.dtype.kind == "f" else np.dtype(np.float32)
    b1 = boxes1.astype(np.float64).reshape(-1, 5)
    b2 = boxes2.astype(np.float64).reshape(-1, 5)
    n, m = b1.shape[0], b2.shape[0]
    out = xp.zeros((n, m), dtype=np.float64)
    if n == 0 or m == 0:
        return out.astype(dtype)
    area1, area2 = b1[:, 2] * b1[:, 3], b2[:, 2] * b2[:, 3]
    rows = max(1, _PAIRS_PER_CHUNK // m)
    for s in range(0, n, rows):
        e = min(s + rows, n)
        # Shift each pair so the first box is centred at the origin (precision for large coordinates).
        c1 = b1[s:e, None, :2]
        centred = xp.concatenate([xp.zeros_like(b1[s:e, :2]), b1[s:e, 2:]], 1)
        p1 = xp.broadcast_to(centred[:, None], (e - s, m, 5))
        p2 = xp.concatenate([b2[None, :, :2] - c1, xp.broadcast_to(b2[None, :, 2:], (e - s, m, 3))], 2)
        inter = _intersection_area(xp, _corners(xp, p1.reshape(-1, 5)), _corners(xp, p2.reshape(-1, 5)))
        inter = inter.reshape(e - s, m)
        union = area1[s:e, None] + area2[None, :] - inter
        degenerate = (area1[s:e, None] < 1e-14) | (area2[None, :] < 1e-14)
        out[s:e] = xp.where(degenerate, 0.0, inter / xp.where(union > 0, union, 1.0))
    return out.astype(dtype)
