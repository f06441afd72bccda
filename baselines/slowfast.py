"""SlowFast (Feichtenhofer et al. 2019) R50 / R101 that consumes one clip like every other model.

The clip (B, 3, T, H, W) is the fast pathway's input; the slow pathway takes every alpha-th
frame of it, so suites never special-case SlowFast and its FLOPs count both paths. Layout and
widths follow PySlowFast's `SlowFast` (beta = 1/8, fusion channel ratio 2):

```
clip --------------------------------------> fast: stem 5x7x7 (8) -> res2..res5 (kt 3 all)
  \\-> frames ::alpha -> slow: stem 1x7x7 (64) -> res2, res3 (kt 1) -> res4, res5 (kt 3)
       after the stem and res2..res4: slow = cat(slow, BN-ReLU(conv kx1x1, stride alpha (fast)))
heads: global average pool of each path, concatenated (2048 + 256) -> dropout 0.5 -> fc
```

The published settings differ in alpha and the fusion kernel: "8x8" is alpha 4 with a 7x1x1
fusion kernel (5x1x1 for R101), "4x16" alpha 8 with 5x1x1; both take 32 frames (slow path 8
or 4 frames).

`slow-r50` is the slow pathway alone (PySlowFast's SLOW_8x8_R50): no fusions, so every stage is
64 * 2^i wide; it takes the 8 frames the slow pathway would see.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.video.resnet import Bottleneck

from baselines.stages import (
    STAGE_DEPTHS,
    SpatialConv,
    basic_stem,
    check_choice,
    make_stage,
    staged_resnet,
)
from baselines.variants import register_variants
from baselines.weights import PTV_SLOWFAST, ptv_resnet_rules
from mtbench.entries import register_model
from mtbench.weights import with_weights

# setting -> (alpha, fusion kernel), from PySlowFast's SLOWFAST_{4x16,8x8}_R50 configs.
SETTINGS: dict[str, tuple[int, int]] = {"4x16": (8, 5), "8x8": (4, 7)}
# R101 fuses with 5x1x1 in both settings (PySlowFast's SLOWFAST_8x8_R101 config, PyTorchVideo's
# slowfast_r101): 86 k fewer parameters than a 7x1x1 fusion.
R101_FUSION_KERNEL = 5
BETA_INV = 8  # the fast path is 8x thinner
FUSION_RATIO = 2  # the lateral conv doubles the fast path's channels
SLOW_TEMPORAL_KERNELS = (1, 1, 3, 3)  # res2..res5: no temporal conv early in the slow path
FAST_TEMPORAL_KERNELS = (3, 3, 3, 3)


class FuseFastToSlow(nn.Module):
    """Lateral connection: time-strided conv on the fast features, concatenated onto slow."""

    def __init__(self, fast_channels: int, alpha: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            fast_channels,
            fast_channels * FUSION_RATIO,
            (kernel, 1, 1),
            (alpha, 1, 1),
            (kernel // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(fast_channels * FUSION_RATIO)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, slow: Tensor, fast: Tensor) -> Tensor:
        return torch.cat([slow, self.relu(self.bn(self.conv(fast)))], dim=1)


class SlowFast(nn.Module):
    """Two-pathway ResNet; input one clip (B, 3, T, H, W) with T divisible by alpha."""

    def __init__(self, depth: int, num_classes: int, alpha: int, fusion_kernel: int) -> None:
        super().__init__()
        self.alpha = alpha
        slow_width, fast_width = 64, 64 // BETA_INV
        self.slow_stem = basic_stem(slow_width, temporal_kernel=1, pool=True)
        self.fast_stem = basic_stem(fast_width, temporal_kernel=5, pool=True)
        self.fusions = nn.ModuleList([FuseFastToSlow(fast_width, alpha, fusion_kernel)])
        slow_stages, fast_stages = [], []
        slow_in = slow_width + fast_width * FUSION_RATIO
        fast_in = fast_width
        for i, blocks in enumerate(STAGE_DEPTHS[depth]):
            stride = (1, 1, 1) if i == 0 else (1, 2, 2)
            slow_planes, fast_planes = slow_width * 2**i, fast_width * 2**i
            slow_stages.append(
                make_stage(
                    slow_in, slow_planes, blocks, [SLOW_TEMPORAL_KERNELS[i]], SpatialConv, stride
                )
            )
            fast_stages.append(
                make_stage(
                    fast_in, fast_planes, blocks, [FAST_TEMPORAL_KERNELS[i]], SpatialConv, stride
                )
            )
            fast_in = fast_planes * Bottleneck.expansion
            slow_in = slow_planes * Bottleneck.expansion
            if i < 3:  # fuse after res2..res4; res5 feeds the head directly
                self.fusions.append(FuseFastToSlow(fast_in, alpha, fusion_kernel))
                slow_in += fast_in * FUSION_RATIO
        self.slow_stages = nn.ModuleList(slow_stages)
        self.fast_stages = nn.ModuleList(fast_stages)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(slow_in + fast_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        frames = x.shape[2]
        if frames % self.alpha:
            raise ValueError(
                f"SlowFast with alpha={self.alpha} needs a clip length divisible by {self.alpha},"
                f" got T={frames}; use e.g. T={max(self.alpha, frames - frames % self.alpha)}"
            )
        slow, fast = self.slow_stem(x[:, :, :: self.alpha]), self.fast_stem(x)
        slow = self.fusions[0](slow, fast)
        for i, (slow_stage, fast_stage) in enumerate(
            zip(self.slow_stages, self.fast_stages, strict=True)
        ):
            slow, fast = slow_stage(slow), fast_stage(fast)
            if i + 1 < len(self.fusions):
                slow = self.fusions[i + 1](slow, fast)
        pooled = torch.cat([self.pool(slow).flatten(1), self.pool(fast).flatten(1)], dim=1)
        return self.fc(self.dropout(pooled))


def build_slowfast(depth: int, num_classes: int = 400, setting: str = "8x8") -> SlowFast:
    """SlowFast-R`depth` in the published `setting` ("4x16" or "8x8")."""
    check_choice("setting", setting, tuple(SETTINGS))
    alpha, kernel = SETTINGS[setting]
    if depth == 101:
        kernel = R101_FUSION_KERNEL
    return SlowFast(depth, num_classes, alpha, kernel)


SLOWFAST = "(Feichtenhofer et al. 2019); setting 8x8 | 4x16; input 32x224x224"
register_variants(
    "slowfast",
    build_slowfast,
    {
        "slowfast-r50": ((50,), f"SlowFast R50 {SLOWFAST}."),
        "slowfast-r101": ((101,), f"SlowFast R101 {SLOWFAST}."),
    },
    PTV_SLOWFAST,
)


# PyTorchVideo's SLOW_8x8_R50.pyth: blocks 1-4 are res2..res5, blocks.5 the head.
PTV_SLOW = ptv_resnet_rules((1, 2, 3, 4), ("res2", "res3", "res4", "res5"), "head.fc")


@register_model("slow-r50", family="slowfast")
@with_weights(PTV_SLOW)
def slow_r50(num_classes: int = 400) -> nn.Module:
    """Slow R50 (Feichtenhofer et al. 2019, SLOW_8x8_R50): the slow pathway alone; 8x224x224."""
    return staged_resnet(
        50,
        num_classes,
        stem_temporal_kernel=1,
        stem_pool=True,
        temporal_kernels=[[k] for k in SLOW_TEMPORAL_KERNELS],
        conv_builder=SpatialConv,
        strides=[(1, 1, 1), (1, 2, 2), (1, 2, 2), (1, 2, 2)],
    )


__all__ = ["SETTINGS", "SlowFast", "build_slowfast"]
