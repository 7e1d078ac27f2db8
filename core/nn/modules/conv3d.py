"""3-D convolution layers: ``Conv3d`` and ``ConvTranspose3d`` (state dicts interchange with PyTorch's)."""
from .. import functional as F
from .conv import _ConvNd, _ConvTransposeNd

__all__ = ["Conv3d", "ConvTranspose3d"]


class Conv3d(_ConvNd):
    """3-D convolution: ``(N, C_in, T, H, W)`` -> ``(N, C_out, T_out, H_out, W_out)``; weight
    ``(C_out, C_in/groups, kT, kH, kW)``."""

    _dims = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    _conv = staticmethod(F.conv3d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution: ``(N, C_in, T, H, W)`` -> ``(N, C_out, T_out, H_out, W_out)`` with
    ``T_out = (T-1)*stride - 2*padding + dilation*(kT-1) + output_padding + 1``; weight
    ``(C_in, C_out/groups, kT, kH, kW)``. ``forward(input, output_size)`` may pick the output size."""

    _dims = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
                         bias, dilation, padding_mode, device, dtype)

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation)
