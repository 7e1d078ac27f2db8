"""PyTorch's "Automatic Differentiation with torch.autograd" page: a one-layer network, its grad_fn
names, gradients, no_grad/detach, and vector-Jacobian products with retain_graph."""
import numpy as np
import torch


def main(state_dir):
    rng = np.random.RandomState(0)
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.from_numpy(rng.randn(5, 3).astype(np.float32)).requires_grad_(True)
    b = torch.from_numpy(rng.randn(3).astype(np.float32))
    b.requires_grad = True
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn.name()}")
    print(f"Gradient function for loss = {loss.grad_fn.name()}")
    loss.backward()
    print(w.grad)
    print(b.grad)

    z = torch.matmul(x, w) + b
    print(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)
    z_det = (torch.matmul(x, w) + b).detach()
    print(z_det.requires_grad)

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    print(out.grad_fn.name(), out.grad_fn.next_functions[0][0].name())
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")
    return {"w_grad": w.grad.numpy(), "b_grad": b.grad.numpy(), "inp_grad": inp.grad.numpy(),
            "loss": loss.item()}
