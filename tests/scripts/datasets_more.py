"""More datasets as user scripts load them: CelebA with target_type="attr" (and a list of target types),
Flowers102 and STL10 with download=True, each batched by a DataLoader with two worker processes, and
WIDERFace wrapped for transforms v2 (boxes back from the workers as BoundingBoxes)."""
import os

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from torchvision.transforms import v2

RTOL = 1e-5


def batches(dataset, **kwargs):
    loader = DataLoader(dataset, batch_size=3, shuffle=False, num_workers=2, **kwargs)
    out = []
    for images, targets in loader:
        out.append((images.numpy(), targets))
    return out


def main(state_dir):
    root = os.path.join(state_dir, "data")
    transform = transforms.Compose([transforms.Resize((12, 12)), transforms.ToTensor()])

    celeba = datasets.CelebA(root, split="train", target_type="attr", transform=transform, download=True)
    print(len(celeba), celeba.attr_names[:4])
    celeba_batches = batches(celeba)
    for images, attrs in celeba_batches:
        print(tuple(images.shape), attrs.dtype, attrs.tolist())
    multi = datasets.CelebA(root, split="all", target_type=["attr", "identity", "bbox"], transform=transform)
    image, (attr, identity, bbox) = multi[1]
    print(tuple(image.shape), attr.tolist(), identity.item(), bbox.tolist())

    flowers = datasets.Flowers102(root, split="train", transform=transform, download=True)
    flower_batches = batches(flowers)
    print(len(flowers), [labels.tolist() for _, labels in flower_batches])

    stl = datasets.STL10(root, split="train", transform=transforms.ToTensor(), download=True)
    stl_batches = batches(stl)
    print(len(stl), stl.classes[:3], [labels.tolist() for _, labels in stl_batches])
    faces = datasets.WIDERFace(root, split="train", download=True)
    faces = datasets.wrap_dataset_for_transforms_v2(faces, target_keys=("bbox",))
    loader = DataLoader(faces, batch_size=3, num_workers=2, collate_fn=lambda batch: tuple(zip(*batch)))
    joint = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0), v2.Resize((24, 32)),
                        v2.ToDtype(torch.float32, scale=True)])
    face_images, face_targets = zip(*[joint(img, target) for img, target in zip(*next(iter(loader)))])
    print([tuple(img.shape) for img in face_images], [t["bbox"].tolist() for t in face_targets],
          [type(t["bbox"]).__name__ for t in face_targets])
    return {"faces": np.stack([img.numpy() for img in face_images]),
            "face_boxes": np.concatenate([t["bbox"].numpy() for t in face_targets]).astype(np.float64),
            "celeba": np.concatenate([b[0] for b in celeba_batches]),
            "celeba_attr": np.concatenate([b[1].numpy() for b in celeba_batches]).astype(np.float64),
            "flowers": np.concatenate([b[0] for b in flower_batches]),
            "flower_labels": sum((b[1].tolist() for b in flower_batches), []),
            "stl": np.concatenate([b[0] for b in stl_batches]),
            "stl_labels": sum((b[1].tolist() for b in stl_batches), [])}
