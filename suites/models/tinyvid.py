"""An example of a model of one's own: a two-layer 3D CNN, registered for suites to name.

`suites/my-model.toml` imports this file (`imports = ["models/tinyvid.py"]`); `mtbench profile
tiny-vid --import suites/models/tinyvid.py` measures it; `models.tinyvid:build_tiny_vid`
names the same network by path. The model contract: take `num_classes`, map a (B, C, T, H, W)
clip to (B, num_classes) logits, raise ModelConfigError for a value it cannot build.
"""

from torch import nn

from mtbench.registry import ModelConfigError, register_model


class TinyVid(nn.Module):
    """conv 3x3x3 (stride 1, 2, 2) -> BN-ReLU -> conv 3x3x3 -> BN-ReLU -> global pool -> fc."""

    def __init__(self, num_classes: int, width: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, width, 3, (1, 2, 2), 1, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            nn.Conv3d(width, 2 * width, 3, 2, 1, bias=False),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, clip):
        return self.fc(self.features(clip))


@register_model("tiny-vid", family="tiny-vid")
def build_tiny_vid(num_classes: int = 400, width: int = 16) -> nn.Module:
    """A two-layer 3D CNN (an example of a user's own model)."""
    if width < 1:
        raise ModelConfigError(f"width must be >= 1, got {width}", key="width")
    return TinyVid(num_classes, width)
