"""X3D (Feichtenhofer 2020) XS / S / M / L, as PyTorchVideo's `create_x3d` builds them.

X3D expands a tiny 2D ResNet along width, depth, frames and resolution. The network is one
bottleneck ResNet with depthwise 3x3x3 conv_b, squeeze-excitation on every other block, and
Swish (SiLU) after conv_b; XS, S and M are the *same* network (width x2, depth x2.2) seen at
different inputs, L is deeper (depth x5):

```
clip -> stem: 1x3x3 conv /2 (24 ch) -> 5x1x1 depthwise conv -> BN-ReLU
     -> 4 stages, widths 24, 48, 96, 192, depths 1, 2, 5, 3 x depth factor, spatial stride 2:
          x -> 1x1x1 (2.25x wider) -> BN-ReLU -> 3x3x3 depthwise -> BN [-> SE] -> SiLU
            -> 1x1x1 -> BN -> + shortcut -> ReLU
     -> head: 1x1x1 (432) -> BN-ReLU -> global average -> 1x1x1 (2048) -> ReLU
            -> dropout 0.5 -> linear
```

Module and attribute names are PyTorchVideo's (`blocks.N.res_blocks.M.branch2.conv_a`, ...),
so its checkpoints (`X3D_XS.pyth` ...) load without renaming. Two differences change no
output: the head pools globally (PyTorchVideo's fixed window equals it at the input the
model is built for, and only there), and the logits are returned before the softmax that
PyTorchVideo's head applies by default.
"""

from __future__ import annotations

import math

from fvcore.nn.squeeze_excitation import SqueezeExcitation
from torch import Tensor, nn

from baselines.variants import register_variants

STEM_WIDTH = 12  # before the width factor: 24 channels
STAGE_DEPTHS = (1, 2, 5, 3)  # before the depth factor
BOTTLENECK_FACTOR = 2.25
SE_RATIO = 0.0625
HEAD_WIDTH = 2048


def round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """PyTorchVideo's `round_width`: scale, round to a multiple of 8, never below 90%."""
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    return int(out + divisor if out < 0.9 * width else out)


class StemConv(nn.Module):
    """Spatial 1x3x3 conv then depthwise temporal 5x1x1 conv.

    The attribute names are swapped as in PyTorchVideo's stem (`conv_t` holds the spatial conv,
    `conv_xy` the temporal one): keeping them is what lets its checkpoints load unrenamed.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv_t = nn.Conv3d(cin, cout, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False)
        self.conv_xy = nn.Conv3d(cout, cout, (5, 1, 1), 1, (2, 0, 0), groups=cout, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_xy(self.conv_t(x))


class Stem(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = StemConv(cin, cout)
        self.norm = nn.BatchNorm3d(cout)
        self.activation = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.norm(self.conv(x)))


class Bottleneck(nn.Module):
    """1x1x1 -> BN-ReLU -> depthwise 3x3x3 (stride) -> BN [-> SE] -> SiLU -> 1x1x1 -> BN."""

    def __init__(self, cin: int, inner: int, cout: int, stride: int, se: bool) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(inner)
        self.act_a = nn.ReLU()
        self.conv_b = nn.Conv3d(inner, inner, 3, (1, stride, stride), 1, groups=inner, bias=False)
        excite = (
            SqueezeExcitation(inner, round_width(inner, SE_RATIO), is_3d=True)
            if se
            else nn.Identity()
        )
        self.norm_b = nn.Sequential(nn.BatchNorm3d(inner), excite)
        self.act_b = nn.SiLU()  # Swish: x * sigmoid(x)
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(cout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    """Bottleneck + shortcut -> ReLU; the shortcut is a strided 1x1x1 conv where the shape
    changes, normalised only where the width changes (PyTorchVideo's rule: the first block of
    the first stage keeps 24 channels, so its shortcut conv has no BN)."""

    def __init__(self, cin: int, inner: int, cout: int, stride: int, se: bool) -> None:
        super().__init__()
        reshape = cin != cout or stride > 1
        self.branch1_conv = (
            nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False) if reshape else None
        )
        self.branch1_norm = nn.BatchNorm3d(cout) if cin != cout else None
        self.branch2 = Bottleneck(cin, inner, cout, stride, se)
        self.activation = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(x)
        if self.branch1_norm is not None:
            shortcut = self.branch1_norm(shortcut)
        return self.activation(shortcut + self.branch2(x))


class Stage(nn.Module):
    def __init__(self, depth: int, cin: int, inner: int, cout: int) -> None:
        super().__init__()
        # SE on blocks 1, 3, 5, ... of each stage (counting from 1), as in the paper.
        self.res_blocks = nn.ModuleList(
            ResBlock(cin if i == 0 else cout, inner, cout, 2 if i == 0 else 1, se=i % 2 == 0)
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class ProjectedPool(nn.Module):
    """1x1x1 conv -> BN-ReLU -> global average -> 1x1x1 conv to 2048 -> ReLU."""

    def __init__(self, cin: int, inner: int, cout: int) -> None:
        super().__init__()
        self.pre_conv = nn.Conv3d(cin, inner, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(inner)
        self.pre_act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.post_conv = nn.Conv3d(inner, cout, 1, bias=False)
        self.post_act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.pre_act(self.pre_norm(self.pre_conv(x))))
        return self.post_act(self.post_conv(x))


class Head(nn.Module):
    def __init__(self, cin: int, inner: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = ProjectedPool(cin, inner, HEAD_WIDTH)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(HEAD_WIDTH, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.dropout(self.pool(x)).flatten(1))


class X3D(nn.Module):
    """`blocks`: stem, four stages, head (PyTorchVideo's `Net` layout); input (B, 3, T, H, W)."""

    def __init__(
        self, num_classes: int, depth_factor: float, width_factor: float = 2.0, dropout: float = 0.5
    ) -> None:
        super().__init__()
        stem_width = round_width(STEM_WIDTH, width_factor)
        blocks: list[nn.Module] = [Stem(3, stem_width)]
        cin, base = stem_width, STEM_WIDTH
        for i, depth in enumerate(STAGE_DEPTHS):
            if i:
                base = round_width(base, 2.0)
            cout = round_width(base, width_factor)
            inner = int(BOTTLENECK_FACTOR * cout)
            blocks.append(Stage(math.ceil(depth_factor * depth), cin, inner, cout))
            cin = cout
        blocks.append(Head(cin, inner, num_classes, dropout))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def build_x3d(depth_factor: float, num_classes: int = 400) -> nn.Module:
    return X3D(num_classes, depth_factor=depth_factor)


register_variants(
    "x3d",
    build_x3d,
    {
        "x3d-xs": (
            (2.2,),
            "X3D-XS (Feichtenhofer 2020): 3.79 M; trained at 4x160x160, tested at 4x182x182.",
        ),
        "x3d-s": ((2.2,), "X3D-S: the XS network at 13x160x160 (tested at 13x182x182)."),
        "x3d-m": ((2.2,), "X3D-M: the XS network at 16x224x224 (tested at 16x256x256)."),
        "x3d-l": (
            (5.0,),
            "X3D-L: depth factor 5 (6.15 M); trained at 16x312x312, tested at 16x356x356.",
        ),
    },
)
