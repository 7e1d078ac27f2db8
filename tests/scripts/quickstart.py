"""PyTorch's Quickstart page on FashionMNIST-shaped fake data: the accelerator device line, a Flatten +
Linear stack, the train and test loops with their progress prints, saving and loading the weights, and
a prediction by class name."""
import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        return self.linear_relu_stack(x)


def train(dataloader, model, loss_fn, optimizer, device):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 2 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn, device):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss


def main(state_dir):
    rng = np.random.RandomState(0)
    training_data = TensorDataset(torch.from_numpy(rng.rand(48, 1, 28, 28).astype(np.float32)),
                                  torch.from_numpy(rng.randint(0, 10, size=48)))
    test_data = TensorDataset(torch.from_numpy(rng.rand(16, 1, 28, 28).astype(np.float32)),
                              torch.from_numpy(rng.randint(0, 10, size=16)))
    batch_size = 8
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    device = "cpu"  # both runs on the CPU, so that they compare
    print(f"Using {device} device")
    model = NeuralNetwork().to(device)
    path = os.path.join(state_dir, "quickstart_init.pth")
    if os.path.exists(path):
        model.load_state_dict(torch.load(path, weights_only=True))
    else:
        torch.save(model.state_dict(), path)
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    losses = []
    for t in range(2):
        print(f"Epoch {t + 1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer, device)
        losses.append(test(test_dataloader, model, loss_fn, device))
    print("Done!")

    torch.save(model.state_dict(), os.path.join(state_dir, "model.pth"))
    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(os.path.join(state_dir, "model.pth"), weights_only=True))
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')
    return {"losses": losses, "pred": pred.numpy()}
