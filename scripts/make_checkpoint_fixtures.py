"""Write the small checkpoints under tests/assets/checkpoints/ with real PyTorch.

Run from the repository root: ``python scripts/make_checkpoint_fixtures.py``. It writes, in torch's zip
format and its legacy pre-1.6 format, a state dict of a tiny Conv2d/BatchNorm2d/Linear model and a
checkpoint of every dtype with shared and non-contiguous storages; a safetensors file named ``.pth`` and
a torch file named ``.safetensors`` (format detection must go by content); and ``expected.npz``, the
values the tests compare with (numpy arrays, bfloat16 widened to float32), written by numpy alone.
"""
import os
from collections import OrderedDict

import numpy as np
import torch
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "tests", "assets", "checkpoints")


def tiny_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(2, 3))
    model(torch.randn(4, 1, 3, 3))  # one training step's statistics, so running_mean/var are not trivial
    return model.state_dict()


def dtype_checkpoint():
    g = torch.Generator().manual_seed(1)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    floats = torch.randn(2, 3, generator=g)
    return {
        "float32": floats,
        "float64": torch.randn(3, generator=g, dtype=torch.float64),
        "float16": floats.half(),
        "bfloat16": floats.bfloat16(),
        "int8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "int16": torch.tensor([-300, 7], dtype=torch.int16),
        "int32": torch.tensor([[-(2 ** 31), 2 ** 31 - 1]], dtype=torch.int32),
        "int64": torch.tensor([-(2 ** 40), 5]),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "rows": base[1:3],  # shares base's storage at offset 6
        "column": base[:, 2],  # the same storage, stride 6
        "transposed": base.t(),
        "param": torch.nn.Parameter(torch.ones(3)),
        "nested": {"list": [torch.full((2,), 2.0), 1, 2.5, "s", None, True], "tuple": (torch.zeros(1), 7)},
        "int_keys": {0: torch.ones(1), 1: {"momentum_buffer": torch.full((2,), -1.0)}},
        "size": torch.Size([2, 3]),
        "epoch": 3,
    }


def expected_arrays(state, ckpt):
    out = {f"model/{k}": v.numpy() for k, v in state.items()}
    for k, v in ckpt.items():
        if isinstance(v, torch.Tensor):
            out[f"dtypes/{k}"] = (v.float() if v.dtype == torch.bfloat16 else v).detach().numpy()
    out["dtypes/nested.list.0"] = ckpt["nested"]["list"][0].numpy()
    out["dtypes/int_keys.1"] = ckpt["int_keys"][1]["momentum_buffer"].numpy()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    state, ckpt = tiny_model(), dtype_checkpoint()
    for suffix, zipped in (("zip", True), ("legacy", False)):
        for obj, name in ((state, f"tiny_model_{suffix}.pth"), (ckpt, f"dtypes_{suffix}.pt")):
            torch.save(obj, os.path.join(OUT, name), _use_new_zipfile_serialization=zipped)
    flat = OrderedDict((k, v.numpy()) for k, v in state.items())
    save_file(flat, os.path.join(OUT, "safetensors_named.pth"))
    torch.save(state, os.path.join(OUT, "torch_named.safetensors"))
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **expected_arrays(state, ckpt))
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
