"""Staged bottleneck ResNets in PySlowFast / PyTorchVideo layout, from torchvision's blocks.

torchvision's `VideoResNet` fixes the stage strides (1, 2, 2, 2 in space *and* time) and the
1x1x1 first convolution of its `Bottleneck`. I3D-R50, SlowFast and PyTorchVideo's R(2+1)D-50
need three things it cannot say: a temporal kernel on the first convolution (the "inflated"
conv_a), separate temporal and spatial strides per stage, and a per-block pattern of temporal
kernels. They reuse torchvision's `Bottleneck` for everything else (widths, expansion 4,
BatchNorm placement, residual forward), so only the conv_a and the stride policy are new here.

Tensor layout everywhere: (B, C, T, H, W).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torchvision.models.video.resnet import Bottleneck

from mtbench.errors import ModelConfigError

Stride3d = tuple[int, int, int]

# Builds conv_b of a bottleneck: (in_planes, out_planes, midplanes, stride) -> module. The
# signature is torchvision's conv_maker signature, with a 3-tuple (t, h, w) stride.
ConvBuilder = Callable[[int, int, int, Stride3d], nn.Module]


class SpatialConv(nn.Conv3d):
    """conv_b of I3D-R50 and SlowFast: 1x3x3, all temporal modelling lives in conv_a."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: Stride3d) -> None:
        super().__init__(in_planes, out_planes, (1, 3, 3), stride, (0, 1, 1), bias=False)


class Conv2Plus1DTemporalFirst(nn.Sequential):
    """PyTorchVideo's (2+1)D conv_b: 3x1x1 (carries the temporal stride) -> BN-ReLU -> 1x3x3.

    Unlike torchvision's `Conv2Plus1D` (spatial first, widened to match a 3x3x3's parameters),
    the inner width equals the block's width, so it costs 12 C^2 weights against 27 C^2.
    """

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: Stride3d) -> None:
        t, h, w = stride
        super().__init__(
            nn.Conv3d(in_planes, in_planes, (3, 1, 1), (t, 1, 1), (1, 0, 0), bias=False),
            nn.BatchNorm3d(in_planes),
            nn.ReLU(inplace=True),
            nn.Conv3d(in_planes, out_planes, (1, 3, 3), (1, h, w), (0, 1, 1), bias=False),
        )


class InflatedBottleneck(Bottleneck):
    """torchvision's `Bottleneck` whose first 1x1x1 conv is inflated to `temporal_kernel` x1x1.

    ```
    x -> conv_a (kt x 1 x 1) -> BN-ReLU -> conv_b (stride) -> BN-ReLU -> conv_c 1x1x1 -> BN
      \\-> shortcut (1x1x1, stride, BN when shape changes) ------------------------------> + -> ReLU
    ```
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        conv_builder: ConvBuilder,
        stride: Stride3d,
        downsample: nn.Module | None,
        temporal_kernel: int,
    ) -> None:
        super().__init__(inplanes, planes, conv_builder, stride, downsample)  # type: ignore[arg-type]
        pad = temporal_kernel // 2
        self.conv1[0] = nn.Conv3d(
            inplanes, planes, (temporal_kernel, 1, 1), padding=(pad, 0, 0), bias=False
        )


def make_stage(
    inplanes: int,
    planes: int,
    depth: int,
    temporal_kernels: Sequence[int],
    conv_builder: ConvBuilder,
    stride: Stride3d,
) -> nn.Sequential:
    """A residual stage of `depth` blocks; block i uses temporal_kernels[i % len(...)].

    The pattern repeats over the stage (PySlowFast's `[[3, 1]]` means 3, 1, 3, 1, ...).
    """
    outplanes = planes * Bottleneck.expansion
    downsample = None
    if stride != (1, 1, 1) or inplanes != outplanes:
        downsample = nn.Sequential(
            nn.Conv3d(inplanes, outplanes, 1, stride=stride, bias=False),
            nn.BatchNorm3d(outplanes),
        )
    blocks = []
    for i in range(depth):
        blocks.append(
            InflatedBottleneck(
                inplanes if i == 0 else outplanes,
                planes,
                conv_builder,
                stride if i == 0 else (1, 1, 1),
                downsample if i == 0 else None,
                temporal_kernels[i % len(temporal_kernels)],
            )
        )
    return nn.Sequential(*blocks)


def basic_stem(
    out_planes: int, temporal_kernel: int, pool: bool, in_planes: int = 3
) -> nn.Sequential:
    """Stem conv kt x7x7 with spatial stride 2 -> BN-ReLU [-> 1x3x3 max-pool, stride (1, 2, 2)]."""
    layers: list[nn.Module] = [
        nn.Conv3d(
            in_planes,
            out_planes,
            (temporal_kernel, 7, 7),
            (1, 2, 2),
            (temporal_kernel // 2, 3, 3),
            bias=False,
        ),
        nn.BatchNorm3d(out_planes),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
    return nn.Sequential(*layers)


class ClassifierHead(nn.Module):
    """Global average pool -> dropout -> linear; pools any (T, H, W), so any input size works."""

    def __init__(self, in_features: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(x).flatten(1)))


class StagedResNet(nn.Module):
    """stem -> res2 [-> pool1] -> res3 -> res4 -> res5 -> head: one pathway, PySlowFast order."""

    def __init__(
        self,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        head: nn.Module,
        pool1: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.res2, self.res3, self.res4, self.res5 = stages
        self.pool1 = pool1 if pool1 is not None else nn.Identity()
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.res2(self.stem(x)))
        return self.head(self.res5(self.res4(self.res3(x))))


STAGE_DEPTHS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def staged_resnet(
    depth: int,
    num_classes: int,
    stem_temporal_kernel: int,
    stem_pool: bool,
    temporal_kernels: Sequence[Sequence[int]],
    conv_builder: ConvBuilder,
    strides: Sequence[Stride3d],
    pool1: nn.Module | None = None,
    dropout: float = 0.5,
) -> StagedResNet:
    """A single-pathway bottleneck ResNet (widths 64..512, expansion 4) from per-stage data."""
    stages, inplanes = [], 64
    for i, (n, kt, stride) in enumerate(
        zip(STAGE_DEPTHS[depth], temporal_kernels, strides, strict=True)
    ):
        planes = 64 * 2**i
        stages.append(make_stage(inplanes, planes, n, kt, conv_builder, stride))
        inplanes = planes * Bottleneck.expansion
    return StagedResNet(
        basic_stem(64, stem_temporal_kernel, stem_pool),
        stages,
        ClassifierHead(inplanes, num_classes, dropout),
        pool1,
    )


def check_choice(key: str, value: object, allowed: Sequence[object]) -> None:
    """Raise the registry's one-line error naming the allowed values of keyword `key`."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ModelConfigError(f"{key}={value!r} is not allowed; choose one of: {choices}", key=key)


__all__ = [
    "ClassifierHead",
    "Conv2Plus1DTemporalFirst",
    "InflatedBottleneck",
    "SpatialConv",
    "StagedResNet",
    "basic_stem",
    "check_choice",
    "make_stage",
    "staged_resnet",
]
