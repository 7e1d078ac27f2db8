"""visionlite.utils: visual helpers as in ``torchvision.utils`` (grids, saving, drawing boxes, masks and
keypoints). ``visionlite.utils.data`` is ``visionlite.data``, so ``torch.utils.data`` imports carry over."""
from .visual import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks, make_grid, save_image

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints"]
