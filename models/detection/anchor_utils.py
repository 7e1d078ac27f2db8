"""Anchor generators: ``AnchorGenerator`` (Faster R-CNN, RetinaNet, FCOS) and ``DefaultBoxGenerator``
(SSD), as TorchVision's ``models/detection/anchor_utils.py``."""
import math

import visionlite as vl
from visionlite import nn

__all__ = ["AnchorGenerator", "DefaultBoxGenerator"]


class AnchorGenerator(nn.Module):
    """Anchors for every location of every feature map: ``len(sizes[i]) * len(aspect_ratios[i])`` per
    location of map ``i`` (aspect ratio = height / width), centred on the map's stride grid.

    Args:
        sizes: one tuple of anchor sizes (pixels) per feature map.
        aspect_ratios: one tuple of ratios per feature map (or one tuple shared by all).
    """

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)):
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios
        self.cell_anchors = [self.generate_anchors(s, a) for s, a in zip(sizes, aspect_ratios)]

    def generate_anchors(self, scales, aspect_ratios, dtype=vl.float32, device="cpu"):
        """Zero-centred anchors (len(ratios) * len(scales), 4), rounded to whole pixels."""
        scales = vl.as_tensor(scales, dtype=dtype, device=device)
        ratios = vl.as_tensor(aspect_ratios, dtype=dtype, device=device)
        h_ratios = vl.sqrt(ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
        return (vl.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def set_cell_anchors(self, dtype, device):
        self.cell_anchors = [a.to(dtype=dtype, device=device) for a in self.cell_anchors]

    def num_anchors_per_location(self):
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes, strides):
        """Per feature map, the anchors (H*W*A, 4) shifted to every grid location (row-major)."""
        if not len(grid_sizes) == len(strides) == len(self.cell_anchors):
            raise ValueError("Anchors should be Tuple[Tuple[int]] because each feature map could potentially "
                             "have different sizes and aspect ratios. There needs to be a match between the "
                             "number of feature maps passed and the number of sizes / aspect ratios "
                             "specified.")
        anchors = []
        for (grid_h, grid_w), (stride_h, stride_w), base in zip(grid_sizes, strides, self.cell_anchors):
            shifts_x = vl.arange(0, grid_w, dtype=vl.int64, device=base.device) * int(stride_w)
            shifts_y = vl.arange(0, grid_h, dtype=vl.int64, device=base.device) * int(stride_h)
            shift_y, shift_x = vl.meshgrid(shifts_y, shifts_x, indexing="ij")
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = vl.stack((shift_x, shift_y, shift_x, shift_y), dim=1).to(base.dtype)
            anchors.append((shifts.reshape(-1, 1, 4) + base.reshape(1, -1, 4)).reshape(-1, 4))
        return anchors

    def forward(self, image_list, feature_maps):
        """A list with, per image, the anchors (sum_i H_i*W_i*A_i, 4) of all feature maps, in image pixels."""
        grid_sizes = [tuple(f.shape[-2:]) for f in feature_maps]
        image_h, image_w = image_list.tensors.shape[-2:]
        strides = [(image_h // g[0], image_w // g[1]) for g in grid_sizes]
        self.set_cell_anchors(feature_maps[0].dtype, feature_maps[0].device)
        all_maps = vl.cat(self.grid_anchors(grid_sizes, strides))
        return [all_maps for _ in image_list.image_sizes]


class DefaultBoxGenerator(nn.Module):
    """SSD's default boxes for a set of feature maps.

    Args:
        aspect_ratios: per feature map, the extra aspect ratios (each adds two boxes, w:h and h:w).
        min_ratio, max_ratio: range of the box scales when ``scales`` is not given.
        scales: the box scale of each feature map, plus one (relative to the image).
        steps: per feature map, the stride in pixels (default: the map's own size sets the tiling).
        clip: clamp the relative (w, h) pairs to [0, 1].
    """

    def __init__(self, aspect_ratios, min_ratio=0.15, max_ratio=0.9, scales=None, steps=None, clip=True):
        super().__init__()
        if steps is not None and len(aspect_ratios) != len(steps):
            raise ValueError("aspect_ratios and steps should have the same length")
        self.aspect_ratios = aspect_ratios
        self.steps = steps
        self.clip = clip
        n = len(aspect_ratios)
        if scales is None:
            if n > 1:
                self.scales = [min_ratio + (max_ratio - min_ratio) * k / (n - 1.0) for k in range(n)] + [1.0]
            else:
                self.scales = [min_ratio, max_ratio]
        else:
            self.scales = scales
        self._wh_pairs = self._generate_wh_pairs(n)

    def _generate_wh_pairs(self, num_outputs, dtype=vl.float32, device="cpu"):
        pairs = []
        for k in range(num_outputs):
            s_k = self.scales[k]
            s_prime = math.sqrt(self.scales[k] * self.scales[k + 1])
            wh = [[s_k, s_k], [s_prime, s_prime]]
            for ar in self.aspect_ratios[k]:
                root = math.sqrt(ar)
                wh.extend([[s_k * root, s_k / root], [s_k / root, s_k * root]])
            pairs.append(vl.as_tensor(wh, dtype=dtype, device=device))
        return pairs

    def num_anchors_per_location(self):
        return [2 + 2 * len(r) for r in self.aspect_ratios]

    def _grid_default_boxes(self, grid_sizes, image_size, dtype=vl.float32):
        boxes = []
        for k, (fh, fw) in enumerate(grid_sizes):
            if self.steps is not None:
                x_f, y_f = image_size[1] / self.steps[k], image_size[0] / self.steps[k]
            else:
                y_f, x_f = fh, fw
            shifts_x = ((vl.arange(0, fw, dtype=vl.float32) + 0.5) / x_f).to(dtype=dtype)
            shifts_y = ((vl.arange(0, fh, dtype=vl.float32) + 0.5) / y_f).to(dtype=dtype)
            shift_y, shift_x = vl.meshgrid(shifts_y, shifts_x, indexing="ij")
            n_pairs = len(self._wh_pairs[k])
            shifts = vl.stack((shift_x.reshape(-1), shift_y.reshape(-1)) * n_pairs, dim=-1).reshape(-1, 2)
            wh = self._wh_pairs[k].clamp(min=0, max=1) if self.clip else self._wh_pairs[k]
            boxes.append(vl.cat((shifts, wh.to(dtype).repeat(fh * fw, 1)), dim=1))
        return vl.cat(boxes, dim=0)

    def __repr__(self):
        return (f"{self.__class__.__name__}(aspect_ratios={self.aspect_ratios}, clip={self.clip}, "
                f"scales={self.scales}, steps={self.steps})")

    def forward(self, image_list, feature_maps):
        """A list with, per image, the default boxes (N, 4) in (x1, y1, x2, y2) image pixels."""
        grid_sizes = [tuple(f.shape[-2:]) for f in feature_maps]
        image_size = tuple(image_list.tensors.shape[-2:])
        boxes = self._grid_default_boxes(grid_sizes, image_size, dtype=feature_maps[0].dtype)
        boxes = boxes.to(feature_maps[0].device)
        x_y_size = vl.tensor([image_size[1], image_size[0]], device=boxes.device).to(boxes.dtype)
        corners = vl.cat([(boxes[:, :2] - 0.5 * boxes[:, 2:]) * x_y_size,
                          (boxes[:, :2] + 0.5 * boxes[:, 2:]) * x_y_size], -1)
        return [corners for _ in image_list.image_sizes]
