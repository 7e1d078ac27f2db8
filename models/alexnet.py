"""AlexNet (Krizhevsky, "One weird trick for parallelizing convolutional neural networks",
https://arxiv.org/abs/1404.5997): the single-tower variant TorchVision ships, with its state-dict keys."""
import visionlite as vl
from visionlite import nn

from ._api import WeightsEnum, register_model, registered_weights
from ._utils import _load_weights, _ovewrite_named_param, _reject_pretrained

__all__ = ["AlexNet", "AlexNet_Weights", "alexnet"]


class AlexNet(nn.Module):
    """Five convolutions with three max-pools, 6x6 adaptive pooling, and a three-layer classifier.

    Args:
        num_classes: size of the output ``(N, num_classes)``.
        dropout: dropout probability before each of the first two classifier layers.
    Input ``(N, 3, H, W)`` with ``H, W >= 63``.
    """

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        """``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""
        return self.classifier(vl.flatten(self.avgpool(self.features(x)), 1))


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = registered_weights("alexnet", "IMAGENET1K_V1")
    DEFAULT = IMAGENET1K_V1


@register_model()
def alexnet(*, weights: AlexNet_Weights | None = None, progress: bool = True, **kwargs) -> AlexNet:
    """AlexNet from `One weird trick for parallelizing convolutional neural networks`.

    Args:
        weights: an :class:`AlexNet_Weights` member, its name (``"DEFAULT"``) or None for random
            initialisation.
        progress: show a download progress bar (on a terminal).
        **kwargs: passed to :class:`AlexNet` (``num_classes``, ``dropout``).
    """
    _reject_pretrained(kwargs, AlexNet_Weights)
    weights = AlexNet_Weights.verify(weights)
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = AlexNet(**kwargs)
    if weights is not None:
        _load_weights(model, weights, progress)
    return model
