"""Multi-temporal convolution (MTConv, paper eq. 1-2): one conv per stream plus a lateral.

Tensors are (B, C, T, H, W). A layer's input and output are a `(short, long)` pair; the
long stream holds the rest of the channels at half the short stream's resolution, and is
`None` when r = 1 (vanilla 3D convolution, Table 2's reference).

                 short (Cs, T, H, W)                  long (Cl, T/2, H/2, W/2)
                        |                                     |
                  conv (k, stride)                      conv (k, stride)
                   |          |                               |
                  BN    pool to long res.                     BN
                   |    1x1x1 conv Cs->Cl, BN ---------------(+)
                   v                                          v
                 short                                       long

There is no long-to-short path. Resolutions: a strided conv gives ceil(n / 2) and the
pooling to the long stream gives ceil(n / 2) per halved dimension, so "long = ceil(short/2)"
holds through the whole network for any T >= 1, H, W, odd sizes included, and the lateral
never needs interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtbench.models.authors import resize_to
from mtbench.models.softpool import soft_pool3d, window_mean

Streams = tuple[Tensor, Tensor | None]
PoolKind = Literal["avg", "softpool"]
LongTemporal = Literal["pool", "keep", "select"]
# norm(channels, groups) -> module; groups is the conv's group count in that stream.
NormMaker = Callable[[int, int], nn.Module]


def split_channels(channels: int, r: float) -> tuple[int, int]:
    """Eq. 1: Cs = floor(r * C), Cl = C - Cs (the epsilon keeps 0.7 * 10 from flooring to 6)."""
    short = math.floor(channels * r + 1e-9)
    return short, channels - short


def split_groups(groups: int, r: float) -> tuple[int, int]:
    """Sub-streams per stream: max(1, floor(g * r)) short and the rest (at least 1) long."""
    short = max(1, math.floor(groups * r + 1e-9))
    return short, max(1, groups - short)


def select_frames(x: Tensor, frames: int) -> Tensor:
    """Keep the `frames` frames most similar to their neighbours, in temporal order.

    The authors' Jan 2021 frame selection, reworked so that it is defined for every T: a
    frame's score is the mean squared cosine similarity of its spatially pooled features to
    those of its neighbours (one neighbour at either end). Data-dependent: the choice of
    frames carries no gradient, the selected features do.
    """
    t = x.shape[2]
    if frames >= t:
        return x
    pooled = x.mean(dim=(3, 4))  # (B, C, T)
    sim = F.cosine_similarity(pooled[..., :-1], pooled[..., 1:], dim=1, eps=1e-4).pow(2)
    neighbours = torch.full((t,), 2.0, device=x.device, dtype=sim.dtype)
    neighbours[0] = neighbours[-1] = 1.0
    score = (F.pad(sim, (1, 0)) + F.pad(sim, (0, 1))) / neighbours
    index = score.topk(frames, dim=1).indices.sort(dim=1).values  # (B, frames)
    b, c, _, h, w = x.shape
    return x.gather(2, index[:, None, :, None, None].expand(b, c, frames, h, w))


class ToLongResolution(nn.Module):
    """Pool a short-stream tensor to the long stream's resolution.

    H and W are always halved (ceil mode). T is halved by the same pooling (`pool`, the
    paper's T/2 x H/2 x W/2), kept (`keep`, the authors' Nov 2020 code) or halved by
    choosing frames (`select`, their Jan 2021 code, see `select_frames`).
    """

    def __init__(self, kind: PoolKind, temporal: LongTemporal) -> None:
        super().__init__()
        self.kind = kind
        self.temporal = temporal
        self.kernel = (2 if temporal == "pool" else 1, 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = soft_pool3d(x, self.kernel) if self.kind == "softpool" else window_mean(x, self.kernel)
        if self.temporal == "select":
            x = select_frames(x, math.ceil(x.shape[2] / 2))
        return x

    def extra_repr(self) -> str:
        return f"kind={self.kind}, temporal={self.temporal}"


class MTConv(nn.Module):
    """A conv per stream, each followed by its norm, and the short-to-long lateral (eq. 2).

    Args:
        in_channels, out_channels: totals over both streams, split by `split_channels`.
        kernel_size, stride, padding: shared by both streams (the long stream's receptive
            field is twice the short one's because its input is at half the resolution).
        r: channel ratio in [0.5, 1]; r = 1 builds the short stream only.
        groups: sub-streams g, split between the streams by `split_groups`.
        norm: norm(channels, groups) builds the norm after each conv and after the lateral.
        lateral: pooling of the short conv's output (before its norm, as in the authors'
            code) to the long resolution; None builds no lateral (block shortcuts).
        shared_lateral_norm: normalise the lateral with the long conv's own norm module (the
            authors' code) instead of its own (eq. 2 has two `bn` terms).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int],
        *,
        r: float,
        norm: NormMaker,
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] = 0,
        groups: int = 1,
        lateral: nn.Module | None = None,
        shared_lateral_norm: bool = False,
    ) -> None:
        super().__init__()
        in_short, in_long = split_channels(in_channels, r)
        out_short, out_long = split_channels(out_channels, r)
        g_short, g_long = split_groups(groups, r)

        def conv(cin: int, cout: int, g: int) -> nn.Conv3d:
            return nn.Conv3d(cin, cout, kernel_size, stride, padding, groups=g, bias=False)

        self.conv_short = conv(in_short, out_short, g_short)
        self.norm_short = norm(out_short, g_short)
        self.conv_long: nn.Conv3d | None = None
        self.norm_long: nn.Module | None = None
        self.lateral: nn.Module | None = None
        self.conv_lateral: nn.Conv3d | None = None
        self.norm_lateral: nn.Module | None = None
        if out_long == 0:
            return
        self.conv_long = conv(in_long, out_long, g_long)
        self.norm_long = norm(out_long, g_long)
        if lateral is not None:
            self.lateral = lateral
            # Pointwise Cs -> Cl transition, ungrouped (every sub-stream feeds the long one).
            self.conv_lateral = nn.Conv3d(out_short, out_long, 1, bias=False)
            self.norm_lateral = None if shared_lateral_norm else norm(out_long, 1)

    def forward(self, x: Streams) -> Streams:
        short, long = x
        short = self.conv_short(short)
        if self.conv_long is None or long is None:
            return self.norm_short(short), None
        long = self.norm_long(self.conv_long(long))
        if self.conv_lateral is not None:
            # Same size by construction in the paper-default model; the authors' floor-mode
            # pooling can miss it, and they resize (mtbench.models.authors, rule 3).
            lateral = resize_to(self.conv_lateral(self.lateral(short)), long.shape[2:])
            norm = self.norm_lateral if self.norm_lateral is not None else self.norm_long
            long = long + norm(lateral)
        return self.norm_short(short), long
