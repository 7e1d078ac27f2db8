"""Training a classifier, as PyTorch's CIFAR-10 tutorial does it, on small fake data."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset


class FakeCIFAR(Dataset):
    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        self.images = rng.rand(n, 3, 32, 32).astype(np.float32)
        self.labels = rng.randint(0, 10, size=n)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = torch.from_numpy(self.images[idx])
        image = (image - 0.5) / 0.5  # transforms.Normalize((0.5,) * 3, (0.5,) * 3)
        return image, int(self.labels[idx])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main(state_dir):
    trainloader = DataLoader(FakeCIFAR(16, 0), batch_size=4, shuffle=False, num_workers=0)
    testloader = DataLoader(FakeCIFAR(8, 1), batch_size=4, shuffle=False)
    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    print("batch", tuple(images.shape), labels.tolist())

    net = Net()
    init = os.path.join(state_dir, "classifier_init.pth")
    if os.path.exists(init):
        net.load_state_dict(torch.load(init, weights_only=True))
    else:
        torch.save(net.state_dict(), init)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 2 == 1:
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2:.3f}")
                losses.append(running_loss / 2)
                running_loss = 0.0

    path = os.path.join(state_dir, "cifar_net.pth")
    torch.save(net.state_dict(), path)
    net = Net()
    net.load_state_dict(torch.load(path, weights_only=True))

    correct = total = 0
    with torch.no_grad():
        for images, labels in testloader:
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")
    logits = net(images).detach().numpy()
    return {"losses": losses, "correct": correct, "logits": logits}
