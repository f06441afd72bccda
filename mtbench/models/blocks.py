"""MTBlocks (paper Fig. 3): four MTConvs, a Squeeze-and-Recursion cell per stream, a residual.

Per stream, with C the block's input channels, C' its output and w = C' / g its inner width:

    x ──┬─ MTConv 1x1x1 C->w ─ relu ─ MTConv 1x1x1 w->C ─ relu
        │    ─ MTConv 3x3x3 C->w (stride, g sub-streams) ─ relu
        │    ─ MTConv (1x1x1 downsample | 1x3x3 repeat) w->C' (g sub-streams) ─ SR ─┐
        └─ shortcut: identity (repeat) | MTConv 1x1x1 C->C', stride, no lateral ──(+)─ relu

A downsample block (first block of stages 2-4) has stride 2 in T, H and W and doubles the
channels; a repeat block keeps both. Expansion is 1: with g = 1 the inner width equals the
output width; sub-streams divide it by g (the authors' `width = planes / groups`). Only the
3x3x3 and the last conv are grouped; the 1x1x1 convs, the shortcut and the laterals are not.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mtbench.models.authors import AuthorsToLong, resize_to, small_long_identity
from mtbench.models.mtconv import (
    LongTemporal,
    MTConv,
    NormMaker,
    PoolKind,
    Streams,
    ToLongResolution,
    split_channels,
)
from mtbench.models.sr import SqueezeRecursion, SRCell, SRGate

LateralPool = Literal["mixed", "avg", "softpool"]


def _relu_(x: Streams) -> Streams:
    short, long = x
    return F.relu_(short), None if long is None else F.relu_(long)


def _mtconv(
    cin: int,
    cout: int,
    kernel: tuple[int, int, int],
    stride: int = 1,
    groups: int = 1,
    *,
    r: float,
    norms: tuple[NormMaker, NormMaker],
    lateral: Callable[[], nn.Module] | None,
    shared_lateral_norm: bool,
) -> MTConv:
    """One MTConv of a block, padded to keep its size; `norms` are (ungrouped, grouped) and
    `lateral` makes the lateral's resolution change (None: no lateral, the shortcut's)."""
    return MTConv(
        cin,
        cout,
        kernel,
        r=r,
        norm=norms[1] if groups != 1 else norms[0],
        stride=stride,
        padding=tuple(k // 2 for k in kernel),  # type: ignore[arg-type]
        groups=groups,
        lateral=lateral() if lateral is not None else None,
        shared_lateral_norm=shared_lateral_norm,
    )


class MTBlock(nn.Module):
    """One MTBlock on a (short, long) pair; see the module docstring for the diagram.

    Args:
        in_channels, out_channels: totals over both streams.
        stride: 2 makes a downsample block (also when the channels change), 1 a repeat one.
        r, groups: channel ratio and sub-streams g.
        norm, grouped_norm: norm makers for ungrouped and grouped MTConvs.
        lateral_pool: pooling of the laterals; `mixed` is the paper's (average in repeat
            blocks, SoftPool in downsample blocks), `avg` the authors' code, `softpool` all
            SoftPool.
        long_temporal: how the laterals reach the long stream's frame count.
        sr_cell, sr_gate: the Squeeze-and-Recursion cell (`none` for no cell) and its gate.
        shared_lateral_norm: see `MTConv`.
        authors: the authors' Jan 2021 resolution rules (`mtbench.models.authors`) for the
            laterals and the shortcut, in place of `lateral_pool` and `long_temporal`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        r: float,
        groups: int,
        norm: NormMaker,
        grouped_norm: NormMaker,
        lateral_pool: LateralPool,
        long_temporal: LongTemporal,
        sr_cell: SRCell,
        sr_gate: SRGate,
        shared_lateral_norm: bool,
        authors: bool = False,
    ) -> None:
        super().__init__()
        self.authors = authors
        downsample = stride != 1 or in_channels != out_channels
        width = out_channels // groups
        pool_kind: PoolKind = (
            lateral_pool if lateral_pool != "mixed" else ("softpool" if downsample else "avg")
        )

        def lateral() -> nn.Module:
            return AuthorsToLong() if authors else ToLongResolution(pool_kind, long_temporal)

        mtconv = partial(
            _mtconv,
            r=r,
            norms=(norm, grouped_norm),
            lateral=lateral,
            shared_lateral_norm=shared_lateral_norm,
        )
        last_kernel = (1, 1, 1) if downsample else (1, 3, 3)
        self.convs = nn.ModuleList(
            [
                mtconv(in_channels, width, (1, 1, 1)),
                mtconv(width, in_channels, (1, 1, 1)),
                mtconv(in_channels, width, (3, 3, 3), stride=stride, groups=groups),
                mtconv(width, out_channels, last_kernel, groups=groups),
            ]
        )
        self.shortcut = (
            mtconv(in_channels, out_channels, (1, 1, 1), stride=stride, lateral=None)
            if downsample
            else None
        )
        self.sr = nn.ModuleList()
        if sr_cell != "none":
            for channels in split_channels(out_channels, r):
                if channels:
                    self.sr.append(SqueezeRecursion(channels, sr_cell, sr_gate))

    def forward(self, x: Streams) -> Streams:
        identity = x
        if self.shortcut is not None:
            if self.authors and x[1] is not None:
                identity = (x[0], small_long_identity(x[1]))
            identity = self.shortcut(identity)
        out = x
        for i, conv in enumerate(self.convs):
            out = conv(out)
            if i < len(self.convs) - 1:
                out = _relu_(out)
        if self.authors:
            identity = tuple(
                s if s is None else resize_to(s, b.shape[2:])
                for s, b in zip(identity, out, strict=True)
            )
        merged = []
        for i, (branch, skip) in enumerate(zip(out, identity, strict=True)):
            if branch is None:
                merged.append(None)
            elif len(self.sr) > i:
                # relu(SR(branch) + shortcut), the product and the sum in one kernel, its
                # inputs in one dtype: CUDA autocast raises on a float16 gate (cuDNN's RNN)
                # beside bfloat16 features. `.to` of the same dtype is free.
                gate = self.sr[i](branch).to(branch.dtype)
                merged.append(F.relu_(torch.addcmul(skip.to(branch.dtype), branch, gate)))
            else:
                merged.append(F.relu_(branch + skip.to(branch.dtype)))
        return merged[0], merged[1]
