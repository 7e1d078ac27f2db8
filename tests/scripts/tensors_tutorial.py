"""PyTorch's "Tensors" page: creating tensors from data, numpy and other tensors, attributes, indexing,
joining, arithmetic, single-element tensors, in-place ops and the numpy bridge, printed as it prints."""
import numpy as np
import torch


def main(state_dir):
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    x_ones = torch.ones_like(x_data)
    print(f"Ones Tensor: \n {x_ones} \n")
    x_float = torch.from_numpy(np.random.RandomState(0).rand(2, 2).astype(np.float32))
    print(f"Random Tensor: \n {x_float} \n")
    shape = (2, 3,)
    print(f"Ones Tensor: \n {torch.ones(shape)} \n")
    print(f"Zeros Tensor: \n {torch.zeros(shape)}")
    tensor = torch.from_numpy(np.random.RandomState(1).rand(3, 4).astype(np.float32))
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")

    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    print(tensor)
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)

    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))
    print(f"{tensor} \n")
    tensor.add_(5)
    print(tensor)

    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")
    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    return {"y1": y1.numpy(), "y2": y2.numpy(), "z1": z1.numpy(), "z2": z2.numpy(), "x_np": x_np.numpy(),
            "t1": t1.numpy(), "t": t.numpy()}
