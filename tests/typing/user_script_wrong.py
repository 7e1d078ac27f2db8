"""A user's script with mistakes a type checker must report (tests/test_typing.py): each ``# E:`` comment
gives a fragment of the error expected on its line."""
import visionlite as vl
from visionlite import nn
from visionlite.models import resnet50

x = vl.zeros(2, 3)
x.summ()  # E: "Tensor" has no attribute "summ"
x.sum(dimm=0)  # E: Unexpected keyword argument "dimm"
x.sum().backward(retain_grap=True)  # E: Unexpected keyword argument "retain_grap"
x.sum().no_such_method()  # E: "Tensor" has no attribute "no_such_method"
n: int = vl.zeros(2)  # E: expression has type "Tensor", variable has type "int"
k: str = vl.tensor([1.0])  # E: expression has type "Tensor", variable has type "str"
conv = nn.Conv2d(3, 8, kernel_size=3, paddin=1)  # E: Unexpected keyword argument "paddin" for "Conv2d"
lin = nn.Linear(4)  # E: Missing positional argument "out_features"
m = resnet50(None)  # E: Too many positional arguments for "resnet50"
m2 = resnet50(weights=3)  # E: Argument "weights" to "resnet50" has incompatible type "int"
lin = vl.nn.Linear(4, 2, biass=False)  # E: Unexpected keyword argument "biass" for "Linear"
vl.no_such_function()  # E: Module has no attribute "no_such_function"
x.to(devce="cpu")  # E: Unexpected keyword argument "devce" for overloaded function "to"
