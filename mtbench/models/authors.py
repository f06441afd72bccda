"""The authors' Jan 2021 MTNet arithmetic (`variant="authors-2021"`), rule by rule.

Their released checkpoints (`mtnet_s/m/l`) were trained with `network/MTnet.py` of
alexandrosstergiou/Squeeze-and-Recursion-Temporal-Gates (commit 1c4dd7e), whose resolution
arithmetic differs from the paper-default MTNet in four places (docs/mtnet.md cites each line):

1. Frame selection (`temporal_cossim_pool`) scores only interior frames, by the mean of
   their two squared neighbour similarities, and keeps the best floor(T/2): the first and
   last frames are never kept.
2. At T <= 2 a lateral is not selected but resized trilinearly to the long stream (T = 2 to
   1 is the mean of the two frames).
3. The split and the laterals pool 1x2x2 in floor mode; a lateral that then misses the long
   stream's size is resized trilinearly to it (7 -> 3 -> 4).
4. An odd stem output is replicate-padded by one row and column (top, left) before the max
   pool; a long identity with H < 3 is resized to (T, 3, 3) before a downsample shortcut,
   and identities that miss their branch's size are resized to it.

Everything here is exact to those rules in eval mode; the choices of which frames to keep
carry no gradient, the kept features do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtbench.models.softpool import window_mean


def select_interior_frames(x: Tensor) -> Tensor:
    """Rule 1: keep the floor(T/2) interior frames most similar to both neighbours, in order.

    Frame i (0 < i < T-1) scores (s(i-1, i) + s(i, i+1)) / 2, s the squared cosine
    similarity (eps 1e-4) of spatially pooled features. Defined for T > 2.
    """
    t = x.shape[2]
    pooled = x.mean(dim=(3, 4))  # (B, C, T)
    sim = F.cosine_similarity(pooled[..., :-1], pooled[..., 1:], dim=1, eps=1e-4).pow(2)
    score = (sim[:, :-1] + sim[:, 1:]) / 2  # (B, T - 2), frame i at i - 1
    index = score.topk(t // 2, dim=1).indices.sort(dim=1).values + 1
    b, c, _, h, w = x.shape
    return x.gather(2, index[:, None, :, None, None].expand(b, c, t // 2, h, w))


def floor_mean(x: Tensor) -> Tensor:
    """Rule 3's pooling: `avg_pool3d(x, (1, 2, 2))` in floor mode (an odd edge row dropped)."""
    h, w = x.shape[3], x.shape[4]
    return window_mean(x[..., : h - h % 2, : w - w % 2], (1, 2, 2))


def resize_to(x: Tensor, size: torch.Size | tuple[int, ...]) -> Tensor:
    """Trilinear resize of (B, C, T, H, W) to `size` (T, H, W); free when it already fits
    (the authors resize unconditionally, which is the identity at equal size)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="trilinear")


class AuthorsToLong(nn.Module):
    """Rules 1-3: floor-mode 1x2x2 mean, then frame selection when T > 2. The caller resizes
    to the long stream (the split does not: its long stream is this output)."""

    def forward(self, x: Tensor) -> Tensor:
        x = floor_mean(x)
        return select_interior_frames(x) if x.shape[2] > 2 else x


class AuthorsStemPool(nn.Module):
    """Rule 4's stem: replicate pad (left 1, top 1) an odd-sized map, max pool 1x3x3 stride
    1x2x2 padding 0x1x1, then frame selection (the authors' code selects unconditionally
    and fails at T <= 2; here T <= 2 keeps its frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[3] % 2 or x.shape[4] % 2:
            x = F.pad(x, (1, 0, 1, 0, 0, 0), mode="replicate")
        x = self.pool(x)
        return select_interior_frames(x) if x.shape[2] > 2 else x


def small_long_identity(x: Tensor) -> Tensor:
    """Rule 4's shortcut input: a long identity with H < 3 is resized to (T, 3, 3) (the
    authors test H twice, never W)."""
    return resize_to(x, (x.shape[2], 3, 3)) if x.shape[3] < 3 else x
