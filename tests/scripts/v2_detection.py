"""TorchVision's transforms v2 on a detection sample, as the gallery's getting-started and end-to-end
detection walkthroughs use them: an image with boxes, masks and labels through one pipeline. Only
deterministic transforms (or ones made deterministic with p=1) so both runs agree."""
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


def main(state_dir):
    rng = np.random.RandomState(0)
    H, W = 48, 64
    img = tv_tensors.Image(torch.from_numpy(rng.randint(0, 256, size=(3, H, W)).astype(np.uint8)))
    boxes = tv_tensors.BoundingBoxes([[10, 12, 40, 40], [30, 5, 62, 30], [0, 0, 2, 2]], format="XYXY",
                                     canvas_size=(H, W))
    masks = torch.zeros(3, H, W, dtype=torch.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        masks[i, int(y1):int(y2), int(x1):int(x2)] = 1
    target = {"boxes": boxes, "masks": tv_tensors.Mask(masks), "labels": torch.tensor([1, 2, 3])}
    print(type(img).__name__, tuple(img.shape), boxes.format, tuple(boxes.canvas_size))

    transforms = v2.Compose([
        v2.RandomHorizontalFlip(p=1.0),
        v2.Resize((36, 48), antialias=True),
        v2.Pad([2, 4]),
        v2.CenterCrop((40, 40)),
        v2.ClampBoundingBoxes(),
        v2.SanitizeBoundingBoxes(min_size=2),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    out_img, out_target = transforms(img, target)
    print(type(out_img).__name__, tuple(out_img.shape), out_img.dtype)
    print("boxes", out_target["boxes"].tolist(), "labels", out_target["labels"].tolist())
    cxcywh = v2.ConvertBoundingBoxFormat("CXCYWH")(out_target["boxes"])
    print(type(out_target["boxes"]).__name__, cxcywh.format, cxcywh.tolist())
    return {"image": out_img.numpy(), "boxes": np.asarray(out_target["boxes"].tolist()),
            "labels": out_target["labels"].tolist(), "masks": out_target["masks"].numpy(),
            "cxcywh": np.asarray(cxcywh.tolist()), "canvas": tuple(out_target["boxes"].canvas_size)}
