"""TSM (Lin, Gan and Han 2019): a 2D ResNet-50 whose residual branches shift channels in time.

Every frame runs through torchvision's ResNet-50; before each bottleneck's first conv, 1/8 of
the channels move one frame back and 1/8 one frame forward (zeros at the clip's ends), the
rest stay: the "residual shift" (shift inside the branch, identity untouched), which costs no
parameters and no FLOPs. The per-frame logits are averaged (TSN's consensus). Input
(B, 3, T, H, W), any T; published at 8 frames.

Names follow the official code (mit-han-lab/temporal-shift-module): `base_model` with each
`conv1` wrapped as `conv1.net`, classifier `new_fc`, so its checkpoints load unrenamed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models import resnet50
from torchvision.models.resnet import Bottleneck

from mtbench.entries import register_model
from mtbench.weights import with_weights

FOLD_DIV = 8  # 1/8 of the channels shift each way


def temporal_shift(x: Tensor, frames: int, fold_div: int = FOLD_DIV) -> Tensor:
    """(B*T, C, H, W): channels [0, C/8) take the next frame's, [C/8, C/4) the previous one's."""
    nt, c, h, w = x.shape
    x = x.view(nt // frames, frames, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]
    out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    """Shift, then the wrapped conv; `frames` is set by the model for each clip."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.frames = 1

    def forward(self, x: Tensor) -> Tensor:
        return self.net(temporal_shift(x, self.frames))


class TSM(nn.Module):
    def __init__(self, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.base_model = resnet50()
        self.shifts = []
        for block in self.base_model.modules():
            if isinstance(block, Bottleneck):
                block.conv1 = TemporalShift(block.conv1)
                self.shifts.append(block.conv1)
        feature_dim = self.base_model.fc.in_features
        self.base_model.fc = nn.Dropout(dropout)  # the official code's place for dropout
        self.new_fc = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        for shift in self.shifts:
            shift.frames = t
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        logits = self.new_fc(self.base_model(frames))
        return logits.view(b, t, -1).mean(dim=1)


@register_model("tsm-r50", family="tsm")
@with_weights()
def tsm_r50(num_classes: int = 400) -> nn.Module:
    """TSM ResNet-50 (Lin et al. 2019): residual temporal shift of 1/8 + 1/8 channels; 8 frames."""
    return TSM(num_classes)
