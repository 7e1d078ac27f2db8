"""A user's script that a type checker must accept without errors (checked by tests/test_typing.py)."""
import visionlite as vl
import visionlite.nn.functional as F
from visionlite import nn, optim
from visionlite.models import ResNet50_Weights, resnet50

x: vl.Tensor = vl.zeros(2, 3, requires_grad=True)
y: vl.Tensor = vl.tensor([[1.0, 2.0, 3.0]])
s: vl.Tensor = (x * y).sum()
s.backward()
x.sum(dim=0, keepdim=True).backward(vl.ones(1, 3))
v: vl.Tensor = x.view(3, 2).relu().mean(dim=0).unsqueeze(0)
shape: vl.Size = v.shape
n: int = v.numel() + v.dim() + len(shape)
ok: bool = v.is_floating_point() and x.requires_grad
g: vl.Tensor | None = x.grad
d = x.detach().to("cpu", vl.float64)

conv = nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
out = F.relu(conv(vl.randn(1, 3, 8, 8)))
opt = optim.SGD(conv.parameters(), lr=0.1, momentum=0.9)
model_builder = resnet50
weights: ResNet50_Weights | None = None
m = resnet50(weights=weights, progress=False)

lin = vl.nn.Linear(4, 2)  # the lazy attribute, without importing visionlite.nn
z: vl.Tensor = vl.nn.functional.softmax(lin(vl.randn(3, 4)), dim=1)
vl.save(lin.state_dict(), "/dev/null")
a1 = x.to(vl.float16)
a2 = x.to("cpu", vl.float64, non_blocking=True, copy=True)
a3 = x.to(y)
a4: vl.Tensor = x.to(device="cpu").to(dtype=vl.float32).to("float64")
