"""``nn.ChannelShuffle``, as ``torch.nn.modules.channelshuffle`` (ShuffleNet's channel interleave)."""
from ..module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Split the ``C`` channels of ``(N, C, *)`` input into ``groups`` and interleave them: channel
    ``g * (C // groups) + i`` moves to ``i * groups + g``."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        n, c = input.shape[:2]
        if c % self.groups:
            raise ValueError(f"ChannelShuffle: {c} channels are not divisible by groups={self.groups}")
        rest = tuple(input.shape[2:])
        x = input.reshape(n, self.groups, c // self.groups, *rest).transpose(1, 2)
        return x.reshape(n, c, *rest)

    def extra_repr(self):
        return f"groups={self.groups}"
