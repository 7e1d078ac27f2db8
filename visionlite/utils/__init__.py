"""visionlite.utils: visual helpers as in ``torchvision.utils`` (grids, saving, drawing boxes, masks and
keypoints). ``visionlite.utils.data`` is ``visionlite.data``, so ``torch.utils.data`` imports carry over."""
from .visual import (
    draw_bounding_boxes,
    draw_keypoints,
    draw_segmentation_masks,
    flow_to_image,
    make_grid,
    save_image,
)

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints",
           "flow_to_image"]


def __getattr__(name):
    # ``torch.utils.data`` habits: ``visionlite.utils.data`` is ``visionlite.data``, reachable as an attribute
    # without importing it first.
    if name in ("data", "checkpoint", "model_zoo", "coco_eval"):
        import importlib

        return importlib.import_module(f"visionlite.utils.{name}")
    if name == "summary":  # torchinfo's spelling of the table; it lives in visionlite.utils.model_summary
        from .model_summary import summary

        globals()["summary"] = summary
        return summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
