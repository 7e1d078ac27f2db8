"""A 3-D training step as a video-classification training loop does it: a small Conv3d/BatchNorm3d/
MaxPool3d network trained for a few SGD steps on clip batches (N, C, T, H, W), then one step of
r2plus1d_18 with a new head, as fine-tuning starts."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision.models.video import r2plus1d_18

RTOL = 2e-3


class Clip3DNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, 8, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm3d(8),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2)),
            nn.Conv3d(8, 16, kernel_size=(3, 3, 3), stride=(2, 1, 1), padding=(1, 1, 1)),
            nn.BatchNorm3d(16),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(p=0.0)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(x))


def shared_init(model, path):
    if os.path.exists(path):
        model.load_state_dict(torch.load(path))
    else:
        torch.save(model.state_dict(), path)


def main(state_dir):
    rng = np.random.RandomState(0)
    clips = torch.from_numpy(rng.randn(8, 3, 4, 16, 16).astype(np.float32))
    labels = torch.from_numpy(rng.randint(0, 4, 8).astype(np.int64))

    net = Clip3DNet()
    shared_init(net, os.path.join(state_dir, "clip3d_init.pth"))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    net.train()
    losses = []
    for epoch in range(3):
        for i in range(0, 8, 4):
            inputs, targets = clips[i:i + 4], labels[i:i + 4]
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"[{epoch + 1}] loss: {losses[-1]:.4f}")
    net.eval()
    with torch.no_grad():
        preds = net(clips).argmax(1)
    print("accuracy:", (preds == labels).float().mean().item())

    torch.manual_seed(0)
    model = r2plus1d_18()
    model.fc = nn.Linear(model.fc.in_features, 5)
    shared_init(model, os.path.join(state_dir, "r2plus1d_init.pth"))
    model.train()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    video = torch.from_numpy(rng.randn(4, 3, 4, 32, 32).astype(np.float32))
    target = torch.tensor([1, 3, 0, 4])
    optimizer.zero_grad()
    out = model(video)
    loss = F.cross_entropy(out, target)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
    optimizer.step()
    # The gradient's norm is not compared: with random weights a few ReLU inputs sit within float32
    # rounding of zero, and which side they fall on moves single gradients of the deep layers.
    print(f"r2plus1d loss {loss.item():.4f} grad norm finite {bool(torch.isfinite(grad_norm))}")
    return {"losses": losses, "running_mean": net.features[1].running_mean.numpy(),
            "running_var": net.features[5].running_var.numpy(), "fc": net.fc.weight.detach().numpy(),
            "conv": net.features[0].weight.detach().numpy(), "r2_loss": loss.item(),
            "r2_stem": model.stem[0].weight.detach().numpy(),
            "r2_fc": model.fc.weight.detach().numpy(),
            "r2_bn_mean": model.layer1[0].conv1[0][1].running_mean.numpy()}
