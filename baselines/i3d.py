"""I3D: the Inception-v1 original (Carreira and Zisserman 2017) and PySlowFast's ResNet-50 I3D.

`i3d` inflates GoogLeNet: every kxk 2D kernel becomes kxkxk (the stem 7x7x7 with stride 2 in
time), TF "SAME" padding is reproduced by symmetric padding plus ceil-mode for the 2x2x2 pool,
and the logits are computed once on globally pooled features (the original averages the
logits of 7 temporal positions: the same parameters, 2.9 MFLOPs more at 64x224x224).
Canonical input 64x224x224.

`i3d-r50` is PySlowFast's `I3D_8x8_R50`: ResNet-50 whose conv_a is inflated to 3x1x1 in a
per-stage pattern (res2: all, res3 and res4: every other block from the first, res5: every
other block from the second), a 5x7x7 stem, and a temporal max-pool of 2 after res2.
Canonical input 8x224x224.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from baselines.stages import ClassifierHead, SpatialConv, staged_resnet
from baselines.weights import ptv_resnet_rules
from mtbench.entries import register_model
from mtbench.weights import with_weights


class Unit3d(nn.Sequential):
    """Conv (no bias) -> BN (TF's epsilon 1e-3) -> ReLU: I3D's only conv unit."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(cin, cout, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm3d(cout, eps=1e-3),
            nn.ReLU(inplace=True),
        )


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels (GoogLeNet's "mixed" module, inflated).

    ```
    x -> 1x1x1 --------------------------\\
    x -> 1x1x1 -> 3x3x3 -------------------> concat
    x -> 1x1x1 -> 3x3x3 ------------------/
    x -> 3x3x3 max-pool (stride 1) -> 1x1x1
    ```
    """

    def __init__(self, cin: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = widths
        self.branch0 = Unit3d(cin, b0)
        self.branch1 = nn.Sequential(Unit3d(cin, b1a), Unit3d(b1a, b1b, 3))
        self.branch2 = nn.Sequential(Unit3d(cin, b2a), Unit3d(b2a, b2b, 3))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), Unit3d(cin, b3))

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.branch0, self.branch1, self.branch2, self.branch3)
        return torch.cat([branch(x) for branch in branches], dim=1)


# (name, widths: 1x1 | 3x3 reduce, 3x3 | 3x3 reduce, 3x3 | pool proj), GoogLeNet Table 1; a
# name of "pool" puts the next max-pool here (kernel and stride given in the tuple).
_INCEPTION_V1: list[tuple[str, tuple[int, ...]]] = [
    ("mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("pool_4a", (3, 2)),
    ("mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("pool_5a", (2, 2)),
    ("mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("mixed_5c", (384, 192, 384, 48, 128, 128)),
]


class InceptionI3d(nn.Module):
    """Inflated Inception-v1: stem (7x7x7/2, pool, 1x1x1, 3x3x3, pool) -> 9 mixed blocks -> head."""

    def __init__(self, num_classes: int = 400, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            Unit3d(3, 64, 7, 2),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            Unit3d(64, 64),
            Unit3d(64, 192, 3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        ]
        channels = 192
        for name, spec in _INCEPTION_V1:
            if name.startswith("pool"):
                kernel, stride = spec
                # TF "SAME": output ceil(n / stride), from padding 1 (3x3x3) or ceil mode (2x2x2)
                layers.append(
                    nn.MaxPool3d(
                        kernel, stride, kernel // 2 if kernel == 3 else 0, ceil_mode=kernel == 2
                    )
                )
            else:
                layers.append(InceptionBlock(channels, spec))  # type: ignore[arg-type]
                channels = spec[0] + spec[2] + spec[4] + spec[5]
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(channels, num_classes, dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


# PyTorchVideo's I3D_8x8_R50.pyth: blocks.2 is the parameter-free temporal pool after res2.
PTV_I3D_R50 = ptv_resnet_rules((1, 3, 4, 5), ("res2", "res3", "res4", "res5"), "head.fc")


@register_model("i3d", family="i3d")
@with_weights()
def i3d(num_classes: int = 400) -> nn.Module:
    """I3D (Carreira and Zisserman 2017): inflated Inception-v1; canonical input 64x224x224."""
    return InceptionI3d(num_classes)


@register_model("i3d-r50", family="i3d")
@with_weights(PTV_I3D_R50)
def i3d_r50(num_classes: int = 400) -> nn.Module:
    """PySlowFast's I3D ResNet-50 (I3D_8x8_R50): inflated 3x1x1 conv_a; input 8x224x224."""
    return staged_resnet(
        50,
        num_classes,
        stem_temporal_kernel=5,
        stem_pool=True,
        temporal_kernels=[[3], [3, 1], [3, 1], [1, 3]],
        conv_builder=SpatialConv,
        strides=[(1, 1, 1), (1, 2, 2), (1, 2, 2), (1, 2, 2)],
        pool1=nn.MaxPool3d((2, 1, 1), (2, 1, 1)),
    )
