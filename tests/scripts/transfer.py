"""Transfer learning, as PyTorch's fine-tuning tutorial does it: a resnet18 whose head is swapped for a
two-class one, trained as a fixed feature extractor with a step learning-rate schedule."""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset
from torchvision import models


def main(state_dir):
    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.rand(12, 3, 24, 24).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 2, size=12).astype(np.int64))
    dataloaders = {"train": DataLoader(TensorDataset(x[:8], y[:8]), batch_size=4),
                   "val": DataLoader(TensorDataset(x[8:], y[8:]), batch_size=4)}
    dataset_sizes = {"train": 8, "val": 4}

    model_conv = models.resnet18(weights=None)
    for param in model_conv.parameters():
        param.requires_grad = False
    num_ftrs = model_conv.fc.in_features
    model_conv.fc = nn.Linear(num_ftrs, 2)
    init = os.path.join(state_dir, "transfer_init.pth")
    if os.path.exists(init):
        model_conv.load_state_dict(torch.load(init))
    else:
        torch.save(model_conv.state_dict(), init)
    trainable = [name for name, p in model_conv.named_parameters() if p.requires_grad]
    print("trainable:", trainable, "head:", model_conv.fc)

    criterion = nn.CrossEntropyLoss()
    optimizer_conv = optim.SGD(model_conv.fc.parameters(), lr=0.01, momentum=0.9)
    exp_lr_scheduler = lr_scheduler.StepLR(optimizer_conv, step_size=1, gamma=0.1)

    best_model_wts = copy.deepcopy(model_conv.state_dict())
    best_acc = -1.0
    history = []
    for epoch in range(2):
        for phase in ["train", "val"]:
            model_conv.train() if phase == "train" else model_conv.eval()
            running_loss = 0.0
            running_corrects = 0
            for inputs, labels in dataloaders[phase]:
                optimizer_conv.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model_conv(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer_conv.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
            if phase == "train":
                exp_lr_scheduler.step()
            epoch_loss = running_loss / dataset_sizes[phase]
            epoch_acc = running_corrects.double() / dataset_sizes[phase]
            lr = exp_lr_scheduler.get_last_lr()
            print(f"{epoch} {phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f} lr: {lr}")
            history.append(epoch_loss)
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model_conv.state_dict())
    model_conv.load_state_dict(best_model_wts)
    backbone = nn.Sequential(*list(model_conv.children())[:-1])
    features = backbone(x[:2]).flatten(1).detach().numpy()
    return {"losses": history, "best_acc": float(best_acc), "features": features,
            "running_mean": model_conv.bn1.running_mean.numpy()}
