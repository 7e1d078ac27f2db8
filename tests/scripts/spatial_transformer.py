"""Spatial transformer networks, as PyTorch's tutorial builds one: a localisation network regresses an
affine matrix (initialised to the identity) that ``affine_grid``/``grid_sample`` apply before the
classifier. Dropout is left out so that both runs are deterministic."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=5)
        self.conv2 = nn.Conv2d(4, 8, kernel_size=5)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)
        self.localization = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(4, 5, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
        )
        self.fc_loc = nn.Sequential(nn.Linear(5 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, 3 * 2))
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 5 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = x.view(-1, 8 * 4 * 4)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


def main(state_dir):
    rng = np.random.RandomState(0)
    data = torch.from_numpy(rng.rand(8, 1, 28, 28).astype(np.float32))
    target = torch.from_numpy(rng.randint(0, 10, size=8))
    model = Net()
    init = os.path.join(state_dir, "stn_init.pth")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    else:
        torch.save(model.state_dict(), init)
    with torch.no_grad():  # the identity transform leaves the images as they are
        identity_err = (model.stn(data) - data).abs().max().item()
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    losses = []
    model.train()
    for step in range(4):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        print(f"Train step {step} Loss: {loss.item():.6f}")
    model.eval()
    with torch.no_grad():
        transformed = model.stn(data[:2]).cpu()
        pred = model(data).max(1, keepdim=True)[1]
    correct = pred.eq(target.view_as(pred)).sum().item()
    print(f"correct {correct}/8")
    return {"losses": losses, "identity_err": identity_err, "transformed": transformed.numpy(),
            "theta_bias": model.fc_loc[2].bias.detach().numpy()}
