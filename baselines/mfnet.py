"""MF-Net (Chen et al. 2018): the 3D multi-fiber network, 16 fibers, as its official code builds it.

A multi-fiber unit splits a residual unit into 16 parallel thin "fibers" (grouped convs) and
lets them exchange information only through a cheap multiplexer of two 1x1x1 convs in front:

```
x -> BN-ReLU-conv 1x1x1 (mid/4) -> BN-ReLU-conv 1x1x1 (back to C) -> + x = x_in  (multiplexer)
x_in -> BN-ReLU-conv 3x3x3 /16 groups (stride) -> BN-ReLU-conv 1x3x3 /16 groups   (fibers)
     + x (or BN-ReLU-conv 1x1x1 stride(x) in a stage's first unit)
```

Pre-activation order (BN-ReLU-conv) throughout. conv1 3x5x5 (16 ch) /2 -> 1x3x3 max-pool /2 ->
stages of 3, 4, 6, 3 units, widths 96, 192, 384, 768 (the first stage strides 2 in time, the
others 2 in space) -> BN-ReLU -> global average -> linear. A stage's first unit uses a 1x1x1
second fiber conv. Canonical input 16x224x224.

Names follow the official code (cypw/PyTorch-MFNet `network/mfnet_3d.py`: conv1, conv2.B01 ...,
conv_i1, conv_m1, conv_w1, tail, classifier), so its checkpoints load unrenamed.
"""

from __future__ import annotations

from torch import Tensor, nn

from mtbench.entries import register_model
from mtbench.weights import with_weights

FIBERS = 16
STAGE_UNITS = (3, 4, 6, 3)
STEM_WIDTH = 16
FIRST_WIDTH = 96  # conv2's width and its fibers' mid width; doubled per stage


class BnActConv(nn.Module):
    """BN -> ReLU -> conv (pre-activation)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.bn = nn.BatchNorm3d(cin)
        self.relu = nn.ReLU(inplace=True)
        padding = tuple(k // 2 for k in kernel)
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.relu(self.bn(x)))


class MultiFiberUnit(nn.Module):
    """Multiplexer (two 1x1x1 convs, residual) then 16 fibers; see the module diagram."""

    def __init__(
        self, cin: int, mid: int, cout: int, stride: tuple[int, int, int], first: bool
    ) -> None:
        super().__init__()
        self.conv_i1 = BnActConv(cin, mid // 4)
        self.conv_i2 = BnActConv(mid // 4, cin)
        self.conv_m1 = BnActConv(cin, mid, (3, 3, 3), stride, groups=FIBERS)
        self.conv_m2 = (
            BnActConv(mid, cout) if first else BnActConv(mid, cout, (1, 3, 3), groups=FIBERS)
        )
        self.conv_w1 = BnActConv(cin, cout, stride=stride) if first else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_m2(self.conv_m1(x + self.conv_i2(self.conv_i1(x))))
        return h + (x if self.conv_w1 is None else self.conv_w1(x))


class MFNet3D(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential()
        self.conv1.add_module(
            "conv", nn.Conv3d(3, STEM_WIDTH, (3, 5, 5), (1, 2, 2), (1, 2, 2), bias=False)
        )
        self.conv1.add_module("bn", nn.BatchNorm3d(STEM_WIDTH))
        self.conv1.add_module("relu", nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        cin = STEM_WIDTH
        for i, units in enumerate(STAGE_UNITS):
            width = FIRST_WIDTH * 2**i
            stride = (2, 1, 1) if i == 0 else (1, 2, 2)
            stage = nn.Sequential()
            for u in range(units):
                unit = MultiFiberUnit(
                    cin if u == 0 else width, width, width, stride if u == 0 else (1, 1, 1), u == 0
                )
                stage.add_module(f"B{u + 1:02d}", unit)
            self.add_module(f"conv{i + 2}", stage)
            cin = width
        self.tail = nn.Sequential()
        self.tail.add_module("bn", nn.BatchNorm3d(cin))
        self.tail.add_module("relu", nn.ReLU(inplace=True))
        self.globalpool = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.classifier(self.globalpool(self.tail(x)).flatten(1))


@register_model("mfnet", family="mfnet")
@with_weights()
def mfnet(num_classes: int = 400) -> nn.Module:
    """MF-Net 3D (Chen et al. 2018): 16-fiber residual units; canonical input 16x224x224."""
    return MFNet3D(num_classes)
