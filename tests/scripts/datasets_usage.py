"""Datasets as user scripts use them: Food101 and OxfordIIITPet (category + segmentation targets)
downloaded with download=True and batched by a DataLoader with two worker processes, then Kitti wrapped
for transforms v2 feeding a detection model's training-mode forward. Each library downloads into its
own folder (the files are served from 127.0.0.1 by the test)."""
import os

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn
from torchvision.transforms import v2

RTOL = 1e-4


def main(state_dir):
    root = os.path.join(state_dir, "data", torch.__name__)  # each library downloads for itself
    transform = transforms.Compose([
        transforms.Resize((16, 16)),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    train_set = datasets.Food101(root, split="train", download=True, transform=transform)
    print(len(train_set), train_set.classes)
    loader = DataLoader(train_set, batch_size=4, shuffle=False, num_workers=2)
    food = [(images.numpy(), labels.tolist()) for images, labels in loader]
    for images, labels in food:
        print(images.shape, labels)

    joint = v2.Compose([v2.PILToTensor(), v2.Resize((16, 16))])
    pets = datasets.OxfordIIITPet(root, split="trainval", target_types=("category", "segmentation"),
                                  download=True, transforms=joint)
    image, (category, mask) = pets[0]
    print(type(image).__name__, tuple(image.shape), category, type(mask).__name__, tuple(mask.shape))
    pet_batches = [(img.numpy(), cat.tolist(), seg.numpy())
                   for img, (cat, seg) in DataLoader(pets, batch_size=2, num_workers=2)]

    kitti = datasets.Kitti(root, train=True, download=True, transforms=v2.Compose([
        v2.ToImage(),
        v2.RandomHorizontalFlip(p=1.0),
        v2.Resize((60, 80)),
        v2.ToDtype(torch.float32, scale=True),
    ]))
    kitti = datasets.wrap_dataset_for_transforms_v2(kitti, target_keys=("boxes", "labels"))
    loader = DataLoader(kitti, batch_size=2, num_workers=2, collate_fn=lambda batch: tuple(zip(*batch)))
    images, targets = next(iter(loader))
    print([tuple(img.shape) for img in images], [t["labels"].tolist() for t in targets])
    boxes = targets[0]["boxes"]
    print(type(boxes).__name__, boxes.format, tuple(boxes.canvas_size))

    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=9,
                                                  min_size=128, max_size=160)
    init = os.path.join(state_dir, "frcnn_init.pth")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    else:
        torch.save(model.state_dict(), init)
    model.train()
    loss_dict = model(list(images), list(targets))
    losses = sum(loss for loss in loss_dict.values())
    losses.backward()
    print(sorted(loss_dict), bool(torch.isfinite(losses)))
    return {"food_images": np.concatenate([f[0] for f in food]), "food_labels": sum((f[1] for f in food), []),
            "pet_images": np.concatenate([p[0] for p in pet_batches]).astype(np.float64),
            "pet_categories": sum((p[1] for p in pet_batches), []),
            "pet_masks": np.concatenate([p[2] for p in pet_batches]).astype(np.float64),
            "kitti_boxes": np.concatenate([t["boxes"].numpy() for t in targets]),
            "kitti_images": np.stack([img.numpy() for img in images]),
            "loss_names": ",".join(sorted(loss_dict))}
