"""More datasets as user scripts load them: CelebA with target_type="attr" (and a list of target types),
Flowers102 and STL10 with download=True, each batched by a DataLoader with two worker processes."""
import os

import numpy as np
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

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
    return {"celeba": np.concatenate([b[0] for b in celeba_batches]),
            "celeba_attr": np.concatenate([b[1].numpy() for b in celeba_batches]).astype(np.float64),
            "flowers": np.concatenate([b[0] for b in flower_batches]),
            "flower_labels": sum((b[1].tolist() for b in flower_batches), []),
            "stl": np.concatenate([b[0] for b in stl_batches]),
            "stl_labels": sum((b[1].tolist() for b in stl_batches), [])}
