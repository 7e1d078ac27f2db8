"""PyTorch's "Writing Custom Datasets, DataLoaders and Transforms" page: a Dataset returning dict samples,
callable transform classes (Rescale, RandomCrop made deterministic, ToTensor) composed with
torchvision's Compose, and a DataLoader that collates the dicts."""
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class FaceLandmarksDataset(Dataset):
    """Fake faces: uint8 images with 68 landmarks each."""

    def __init__(self, n, transform=None):
        rng = np.random.RandomState(0)
        self.images = [rng.randint(0, 256, size=(20 + 2 * i, 24, 3)).astype(np.uint8) for i in range(n)]
        self.landmarks = [rng.rand(68, 2).astype(np.float32) * [24, 20 + 2 * i] for i in range(n)]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        if torch.is_tensor(idx):
            idx = idx.tolist()
        sample = {"image": self.images[idx], "landmarks": self.landmarks[idx]}
        if self.transform:
            sample = self.transform(sample)
        return sample


class Rescale:
    def __init__(self, output_size):
        assert isinstance(output_size, (int, tuple))
        self.output_size = output_size

    def __call__(self, sample):
        image, landmarks = sample["image"], sample["landmarks"]
        h, w = image.shape[:2]
        if isinstance(self.output_size, int):
            new_h, new_w = (self.output_size * h / w, self.output_size) if h > w else \
                (self.output_size, self.output_size * w / h)
        else:
            new_h, new_w = self.output_size
        new_h, new_w = int(new_h), int(new_w)
        rows = (np.arange(new_h) * h // new_h)[:, None]
        cols = (np.arange(new_w) * w // new_w)[None, :]
        img = image[rows, cols]  # nearest neighbour (skimage.transform.resize in the tutorial)
        landmarks = landmarks * [new_w / w, new_h / h]
        return {"image": img, "landmarks": landmarks}


class CornerCrop:
    """The tutorial's RandomCrop, cropping at the top-left corner so that both runs agree."""

    def __init__(self, output_size):
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else output_size

    def __call__(self, sample):
        image, landmarks = sample["image"], sample["landmarks"]
        new_h, new_w = self.output_size
        return {"image": image[:new_h, :new_w], "landmarks": landmarks}


class ToTensor:
    def __call__(self, sample):
        image, landmarks = sample["image"], sample["landmarks"]
        image = image.transpose((2, 0, 1))
        return {"image": torch.from_numpy(image), "landmarks": torch.from_numpy(landmarks)}


def main(state_dir):
    transformed_dataset = FaceLandmarksDataset(6, transform=transforms.Compose([Rescale(16), CornerCrop(14),
                                                                                ToTensor()]))
    for i, sample in enumerate(transformed_dataset):
        print(i, sample["image"].size(), sample["landmarks"].size())
        if i == 2:
            break
    dataloader = DataLoader(transformed_dataset, batch_size=4, shuffle=False, num_workers=0)
    batches = []
    for i_batch, sample_batched in enumerate(dataloader):
        print(i_batch, sample_batched["image"].size(), sample_batched["image"].dtype,
              sample_batched["landmarks"].size(), sample_batched["landmarks"].dtype)
        batches.append(sample_batched["image"].float().mean().item())
    return {"means": batches, "first": transformed_dataset[0]["image"].numpy()}
