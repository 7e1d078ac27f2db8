"""The 60-minute blitz's "Neural Networks" page: a LeNet, its parameters, one backward pass, a walk
back through the graph, the manual update rule and then ``torch.optim``. Inputs come from numpy."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        return self.fc3(f6)


def main(state_dir):
    rng = np.random.RandomState(0)
    net = Net()
    init = os.path.join(state_dir, "lenet.pth")
    if os.path.exists(init):
        net.load_state_dict(torch.load(init))
    else:
        torch.save(net.state_dict(), init)
    print(net)
    params = list(net.parameters())
    print(len(params), params[0].size())

    input = torch.from_numpy(rng.randn(1, 1, 32, 32).astype(np.float32))
    out = net(input)
    print(out.shape, out.requires_grad, out.grad_fn.name())
    net.zero_grad()
    out.backward(torch.from_numpy(rng.randn(1, 10).astype(np.float32)))

    output = net(input)
    target = torch.from_numpy(rng.randn(10).astype(np.float32)).view(1, -1)
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    print(f"loss {loss.item():.6f}")
    print(loss.grad_fn.name())  # MSELoss
    print(loss.grad_fn.next_functions[0][0].name())  # Linear
    print(loss.grad_fn.next_functions[0][0].next_functions[0][0].name())  # its bias: AccumulateGrad
    print(type(loss.grad_fn.next_functions[0][0].next_functions[0][0]).__name__)

    net.zero_grad()
    print("conv1.bias.grad before backward", net.conv1.bias.grad)
    loss.backward()
    print("conv1.bias.grad after backward", net.conv1.bias.grad)
    bias_grad = net.conv1.bias.grad.clone()

    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)

    optimizer = optim.SGD(net.parameters(), lr=0.01)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        output = net(input)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print("losses", [round(v, 5) for v in losses])
    return {"losses": losses, "bias_grad": bias_grad.numpy(), "fc3": net.fc3.weight.detach().numpy()}
