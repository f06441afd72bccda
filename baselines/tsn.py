"""TSN-style 2D reference (Wang et al. 2016): a 2D ResNet-18 per frame, features averaged.

It sees frames but not their order, so on the multiduration benchmark it shows how much of
each class is recognisable without motion. Averaging the pooled features over time and then
applying the linear classifier equals TSN's average of per-frame class scores (the
classifier is linear); the per-frame network is torchvision's ResNet-18, whose ImageNet
state_dict (`resnet18-*.pth`, 1000 classes) loads through `weights=`.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

from mtbench.entries import register_model
from mtbench.weights import with_weights

# torchvision's ResNet-18 keys (conv1, bn1, layer1..4, fc) -> ours (frames.*, fc).
TORCHVISION_RESNET = ((r"^(?!fc\.)", "frames."),)


class FrameAverage(nn.Module):
    """(B, 3, T, H, W) -> per-frame 2D features (B, T, C) -> mean over T -> linear."""

    def __init__(self, frames: nn.Module, features: int, num_classes: int) -> None:
        super().__init__()
        self.frames = frames
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        per_frame = self.frames(x.transpose(1, 2).reshape(b * t, c, h, w))
        return self.fc(per_frame.view(b, t, -1).mean(dim=1))


@register_model("tsn-r18", family="tsn")
@with_weights(TORCHVISION_RESNET)
def tsn_r18(num_classes: int = 400) -> nn.Module:
    """TSN-style ResNet-18 (2D, per frame) with features averaged over time."""
    backbone = resnet18()
    features = backbone.fc.in_features
    backbone.fc = nn.Identity()
    return FrameAverage(backbone, features, num_classes)
