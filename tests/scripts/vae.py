"""A variational autoencoder, as in PyTorch's examples repository (vae/main.py), on small fake images; the
reparameterisation noise comes from numpy so that both runs draw the same."""
import os

import numpy as np
import torch
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self, noise):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 4)
        self.fc22 = nn.Linear(32, 4)
        self.fc3 = nn.Linear(4, 32)
        self.fc4 = nn.Linear(32, 64)
        self.noise = noise

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.from_numpy(self.noise.randn(*std.shape).astype(np.float32))  # torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main(state_dir):
    rng = np.random.RandomState(0)
    data = torch.from_numpy(rng.rand(32, 1, 8, 8).astype(np.float32))
    model = VAE(np.random.RandomState(1))
    init = os.path.join(state_dir, "vae_init.pth")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    else:
        torch.save(model.state_dict(), init)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    train_losses = []
    for epoch in range(1, 4):
        model.train()
        train_loss = 0
        for batch_idx in range(4):
            batch = data[batch_idx * 8:(batch_idx + 1) * 8]
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(batch)
            loss = loss_function(recon_batch, batch, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(data):.4f}")
        train_losses.append(train_loss / len(data))
    model.eval()
    with torch.no_grad():
        sample = model.decode(torch.from_numpy(rng.randn(4, 4).astype(np.float32)))
    return {"losses": train_losses, "sample": sample.view(4, 1, 8, 8).numpy()}
