"""Coordinate helpers of RAFT: sampling at pixel coordinates, the pixel-coordinate grid, and the flow
upsampling (bilinear, or RAFT's learned convex combination)."""
import visionlite as vl
import visionlite.nn.functional as F


def grid_sample(img, absolute_grid, mode="bilinear", align_corners=None):
    """``F.grid_sample`` with a grid in pixel coordinates ``(N, Ho, Wo, 2)`` (x, y) instead of [-1, 1].

    The coordinates go through the same normalisation as TorchVision's helper (and back inside
    ``grid_sample``), so the sampled positions round the way PyTorch's do. A single-row ``img`` keeps its y
    as given (RAFT-Stereo's use)."""
    h, w = img.shape[-2:]
    x, y = absolute_grid.split([1, 1], dim=-1)
    x = 2 * x / (w - 1) - 1
    if h > 1:
        y = 2 * y / (h - 1) - 1
    return F.grid_sample(img, vl.cat([x, y], dim=-1), mode=mode, align_corners=align_corners)


def make_coords_grid(batch_size, h, w, device="cpu"):
    """``(batch_size, 2, h, w)`` float32 pixel coordinates: channel 0 holds x (the column), channel 1 y."""
    ys, xs = vl.meshgrid(vl.arange(h, device=device), vl.arange(w, device=device), indexing="ij")
    coords = vl.stack([xs, ys], dim=0).float()
    return coords[None].repeat(batch_size, 1, 1, 1)


def upsample_flow(flow, up_mask=None, factor=8):
    """Flow ``(N, 2, h, w)`` at 1/``factor`` resolution -> ``(N, 2, h * factor, w * factor)`` in full-size
    pixels.

    Without ``up_mask`` the field is interpolated bilinearly (corners aligned). With ``up_mask``
    ``(N, 9 * factor**2, h, w)``, each fine pixel is a convex combination (softmax weights) of the 3x3
    coarse neighbourhood around its coarse pixel (RAFT paper, section 3.3 and appendix B).
    """
    n, c, h, w = flow.shape
    if up_mask is None:
        size = (h * factor, w * factor)
        return factor * F.interpolate(flow, size=size, mode="bilinear", align_corners=True)
    weights = up_mask.view(n, 1, 9, factor, factor, h, w).softmax(dim=2)
    neighbours = F.unfold(factor * flow, kernel_size=3, padding=1).view(n, c, 9, 1, 1, h, w)
    fine = (weights * neighbours).sum(dim=2)  # (n, c, factor, factor, h, w)
    return fine.permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * factor, w * factor)
