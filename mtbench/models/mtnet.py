"""MTNet (Stergiou and Poppe, Multi-Temporal Networks): one builder, five depths.

    clip (B, 3, T, H, W)
      stem: conv 3x7x7, 64, stride (1,2,2), BN, ReLU; pool 1x2x2            -> 64 x T x H/4 x W/4
      split once: short = first floor(64 r) channels, long = the rest pooled to the long
                  resolution (T/2 x H/8 x W/8 under the paper's reading)
      stage 1..4: MTBlocks of widths 64, 128, 256, 512 (first block of stages 2-4 downsamples)
      head: global average pool of each stream, concatenate (512), linear

The streams stay a `(short, long)` pair from the split to the head. Depth counts MTConvs:
4 per block, e.g. MTNet-64 = 4 x (3 + 4 + 6 + 3). Reference numbers of the paper's Table 3
(params in millions, GFLOPs) are kept beside the architecture in `PAPER_TABLE3`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args, get_type_hints

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtbench.entries import register_model
from mtbench.errors import ModelConfigError
from mtbench.models.authors import AuthorsStemPool, AuthorsToLong
from mtbench.models.authors_keys import mtnet_rules
from mtbench.models.blocks import LateralPool, MTBlock
from mtbench.models.mtconv import (
    LongTemporal,
    NormMaker,
    Streams,
    ToLongResolution,
    select_frames,
    split_channels,
    split_groups,
)
from mtbench.models.softpool import SoftPool3d
from mtbench.models.sr import SRCell, SRGate
from mtbench.weights import load_weights

StemPool = Literal["softpool", "max"]
StemTemporal = Literal["keep", "select"]
SubstreamNorm = Literal["batch", "group"]
LateralNorm = Literal["separate", "shared"]
Variant = Literal["paper", "authors-2021"]

# The readings of the authors' Jan 2021 code (network/MTnet.py), which `variant="authors-2021"`
# sets: their released mtnet_s/m/l have exactly these shapes, r = 0.875 and g = 1.
AUTHORS_2021: dict[str, str] = {
    "long_temporal": "select",
    "stem_pool": "max",
    "stem_temporal": "select",
    "lateral_pool": "avg",
    "lateral_norm": "shared",
    "sr_cell": "gru",
    "sr_gate": "raw",
    "substream_norm": "group",
}
STEM_CHANNELS = 64
STAGE_WIDTHS = (64, 128, 256, 512)
BLOCKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {
    32: (2, 2, 2, 2),
    48: (2, 2, 5, 3),
    64: (3, 4, 6, 3),
    132: (3, 4, 23, 3),
    200: (3, 8, 36, 3),
}
# Table 3 of the paper: (depth, g) -> (params in millions, GFLOPs), r = 0.875.
PAPER_TABLE3: dict[tuple[int, int], tuple[float, float]] = {
    (32, 1): (21.64, 35.1),
    (48, 1): (39.78, 42.80),
    (64, 1): (43.02, 64.53),
    (132, 1): (85.30, 101.55),
    (200, 1): (124.25, 144.08),
    (64, 8): (13.07, 9.16),
    (132, 8): (24.68, 10.42),
}


def _stage_convs() -> list[tuple[int, int]]:
    """(in, out) channels of every distinct block shape: each stage's first block and a repeat."""
    shapes, cin = [], STEM_CHANNELS
    for width in STAGE_WIDTHS:
        shapes += [(cin, width), (width, width)]
        cin = width
    return shapes


def _substream_problem(r: float, g: int) -> str | None:
    """Why g sub-streams cannot be built at ratio r, or None when they can."""
    if STAGE_WIDTHS[0] % g:
        return f"g={g} does not divide the {STAGE_WIDTHS[0]} channels of stage 1"
    g_short, g_long = split_groups(g, r)
    for cin, cout in _stage_convs():
        # Grouped convs: 3x3x3 in -> width, then width -> out; each stream split by eq. 1.
        for channels in (cin, cout // g, cout):
            short, long = split_channels(channels, r)
            if short == 0 or (r < 1 and long == 0):
                return f"g={g} leaves an empty stream in the {channels}-channel inner width"
            if short % g_short or (long and long % g_long):
                return (
                    f"{channels} channels split {short}/{long} by r={r} do not divide into "
                    f"{g_short}/{g_long} sub-streams"
                )
    return None


@dataclass(frozen=True)
class MTNetConfig:
    """MTNet's hyper-parameters, declared once: `MTNet`, the registered builders' signatures
    and the report's defaults all read them from here. Defaults are the paper's readings; the
    builders' docstring (`_DOC`) says what each alternative is."""

    num_classes: int = 400
    r: float = 0.875
    g: int = 1
    long_temporal: LongTemporal = "pool"
    stem_pool: StemPool = "softpool"
    stem_temporal: StemTemporal = "keep"
    lateral_pool: LateralPool = "mixed"
    lateral_norm: LateralNorm = "separate"
    sr_cell: SRCell = "gru"
    sr_gate: SRGate = "raw"
    substream_norm: SubstreamNorm = "batch"
    variant: Variant = "paper"

    def validate(self) -> None:
        """Raise ModelConfigError, with the key, for the first value that cannot be built."""
        choices = _choices()
        _check_choice("variant", self.variant, choices["variant"])
        n = self.num_classes
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ModelConfigError(
                f"num_classes must be a positive integer, got {n!r}", key="num_classes"
            )
        r, g = self.r, self.g
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0.5 <= r <= 1:
            raise ModelConfigError(f"r must be in [0.5, 1], got {r!r}", key="r")
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise ModelConfigError(f"g must be a positive integer, got {g!r}", key="g")
        if problem := _substream_problem(r, g):
            allowed = [d for d in range(1, 65) if not _substream_problem(r, d)]
            raise ModelConfigError(
                f"{problem}; allowed g at r={r}: {', '.join(map(str, allowed))}", key="g"
            )
        for key in AUTHORS_2021:
            value = getattr(self, key)
            _check_choice(key, value, choices[key])
            if self.variant == "authors-2021" and value != AUTHORS_2021[key]:
                raise ModelConfigError(
                    f"variant='authors-2021' is the authors' code, which has"
                    f" {key}={AUTHORS_2021[key]!r}; got {value!r}",
                    key=key,
                )

    def with_variant_readings(self) -> MTNetConfig:
        """The authors' variant takes their readings where a reading is at its paper default."""
        if self.variant != "authors-2021":
            return self
        chosen = {k: v for k, v in AUTHORS_2021.items() if getattr(self, k) == PAPER_DEFAULTS[k]}
        return replace(self, **chosen)


@functools.cache
def _choices() -> dict[str, tuple[object, ...]]:
    """Each hyper-parameter's allowed values, from its Literal annotation."""
    hints = get_type_hints(MTNetConfig)
    return {name: get_args(hint) for name, hint in hints.items() if get_args(hint)}


# The paper's readings of what the authors' code reads otherwise.
PAPER_DEFAULTS: dict[str, str] = {
    f.name: f.default for f in fields(MTNetConfig) if f.name in AUTHORS_2021
}


def _check_choice(key: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        names = " | ".join(repr(c) for c in choices)
        raise ModelConfigError(f"{key} must be one of {names}, got {value!r}", key=key)


def _norm_makers(substream_norm: SubstreamNorm) -> tuple[NormMaker, NormMaker]:
    def batch(channels: int, groups: int) -> nn.Module:
        return nn.BatchNorm3d(channels)

    def group(channels: int, groups: int) -> nn.Module:
        return nn.GroupNorm(groups, channels)

    return batch, (group if substream_norm == "group" else batch)


def _stem_pool(stem_pool: StemPool, authors: bool) -> nn.Module:
    if authors:
        return AuthorsStemPool()
    if stem_pool == "softpool":
        return SoftPool3d((1, 2, 2))
    return nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))


def _stages(layers: Sequence[int], config: MTNetConfig) -> nn.Sequential:
    """The four stages' MTBlocks, the first block of stages 2-4 downsampling."""
    norm, grouped_norm = _norm_makers(config.substream_norm)
    blocks, cin = [], STEM_CHANNELS
    for stage, (width, repeats) in enumerate(zip(STAGE_WIDTHS, layers, strict=True)):
        for i in range(repeats):
            blocks.append(
                MTBlock(
                    cin,
                    width,
                    2 if stage > 0 and i == 0 else 1,
                    r=config.r,
                    groups=config.g,
                    norm=norm,
                    grouped_norm=grouped_norm,
                    lateral_pool=config.lateral_pool,
                    long_temporal=config.long_temporal,
                    sr_cell=config.sr_cell,
                    sr_gate=config.sr_gate,
                    shared_lateral_norm=config.lateral_norm == "shared",
                    authors=config.variant == "authors-2021",
                )
            )
            cin = width
    return nn.Sequential(*blocks)


class MTNet(nn.Module):
    """Multi-Temporal Network on (B, 3, T, H, W) clips, any T >= 1 and H, W (odd included).

    `layers` gives the blocks per stage; the other arguments are the builders' keyword
    arguments (see `mtnet_64`) and are validated here, raising ModelConfigError with the key.
    """

    def __init__(self, layers: Sequence[int], **hyper: Any) -> None:
        super().__init__()
        config = MTNetConfig(**hyper)
        config.validate()
        authors = config.variant == "authors-2021"

        self.stem = nn.Sequential(
            nn.Conv3d(3, STEM_CHANNELS, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
            nn.BatchNorm3d(STEM_CHANNELS),
            nn.ReLU(inplace=True),
            _stem_pool(config.stem_pool, authors),
        )
        # The authors' stem pool selects its frames itself (mtbench.models.authors, rule 4).
        self.stem_select = config.stem_temporal == "select" and not authors
        self.split = split_channels(STEM_CHANNELS, config.r)
        # The split's long stream: average pooling (the authors' code; the paper is silent).
        to_long = AuthorsToLong() if authors else ToLongResolution("avg", config.long_temporal)
        self.to_long = to_long if self.split[1] else None

        self.blocks = _stages(layers, config)
        self.fc = nn.Linear(STAGE_WIDTHS[len(layers) - 1], config.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d | nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> Streams:
        """The (short, long) pair after stage 4; long is None when r = 1."""
        x = self.stem(x)
        if self.stem_select:
            x = select_frames(x, math.ceil(x.shape[2] / 2))
        if self.to_long is None:
            return self.blocks((x, None))
        short, long = torch.split(x, self.split, dim=1)
        return self.blocks((short, self.to_long(long)))

    def forward(self, x: Tensor) -> Tensor:
        pooled = [F.adaptive_avg_pool3d(s, 1).flatten(1) for s in self.features(x) if s is not None]
        return self.fc(torch.cat(pooled, dim=1))


_DOC = """
Keyword arguments (default = the paper's reading; the alternative is the authors' code):
    num_classes: classifier outputs (Table 3's parameter counts fit 700, Kinetics-700).
    r: channel ratio in [0.5, 1]; short stream floor(r C), long stream the rest. r = 1
        builds no long stream (vanilla 3D convolutions, Table 2's reference).
    g: sub-streams >= 1; divides the inner width of every block by g and groups the 3x3x3
        and last conv of each block, max(1, floor(g r)) groups short, the rest long.
        g must divide 64 and the stream splits; the error lists the g allowed at this r.
    long_temporal: 'pool' (paper: the long stream at T/2 x H/2 x W/2) | 'keep' (Nov 2020
        code: T kept, H and W halved) | 'select' (Jan 2021 code: T halved by choosing the
        frames most similar to their neighbours).
    stem_pool: 'softpool' (Table 1: SoftPool 1x2x2) | 'max' (code: max pool 1x3x3,
        stride 1x2x2); both give ceil(H/2) x ceil(W/2).
    stem_temporal: 'keep' (Table 1: T frames after the stem) | 'select' (Jan 2021 code:
        both streams start from ceil(T/2) selected frames).
    lateral_pool: 'mixed' (paper: average pooling in repeat blocks, SoftPool in downsample
        blocks) | 'avg' (code: average everywhere) | 'softpool' (SoftPool everywhere).
    lateral_norm: 'separate' (eq. 2: its own BN) | 'shared' (code: the long conv's BN).
    sr_cell: 'gru' (paper: 2-layer GRU, hidden C, per stream in every block) | 'lstm' (the
        original Squeeze and Recursion) | 'none' (ablation).
    sr_gate: 'raw' (paper and code: features times the GRU output, in (-1, 1)) | 'sigmoid'.
    substream_norm: 'batch' (eq. 2: BN everywhere) | 'group' (code: GroupNorm in the
        grouped MTConvs when g > 1).
    variant: 'paper' | 'authors-2021' (every reading above as the authors' Jan 2021 code,
        and its resolution rules, mtbench.models.authors: what their checkpoints compute).
        Readings left at their default take the authors' value; another value is refused.
    weights: a checkpoint to load: the authors' .pth ({'epoch', 'state_dict'}, `module.`
        names, float16 tensors included), an mtbench checkpoint or a bare state_dict.
"""


def _build(layers: Sequence[int], weights: str | None = None, **hyper: Any) -> nn.Module:
    """MTNet from the builders' keywords (the authors' variant with their readings), then
    `weights` loaded through the authors' key map."""
    config = MTNetConfig(**hyper).with_variant_readings()
    model = MTNet(layers, **asdict(config))
    return model if weights is None else load_weights(model, weights, mtnet_rules(layers))


def _builder_signature() -> inspect.Signature:
    """Every hyper-parameter of MTNetConfig as a keyword, and `weights`: what the registry
    reads as the builders' keyword arguments."""
    hints = get_type_hints(MTNetConfig)
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(f.name, keyword, default=f.default, annotation=hints[f.name])
        for f in fields(MTNetConfig)
    ]
    weights = inspect.Parameter("weights", keyword, default=None, annotation=str | None)
    return inspect.Signature([*params, weights], return_annotation=nn.Module)


def _register(depth: int) -> Callable[..., nn.Module]:
    """Register `mtnet-{depth}`: one signature for all depths, read by the registry."""
    layers = BLOCKS_PER_STAGE[depth]

    def build(**kwargs: Any) -> nn.Module:
        return _build(layers, **kwargs)

    build.__signature__ = _builder_signature()  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = f"mtnet_{depth}"
    build.__doc__ = (
        f"MTNet-{depth} (Stergiou and Poppe): short/long streams, blocks {list(layers)}.\n" + _DOC
    )
    return register_model(f"mtnet-{depth}", family="mtnet")(build)


def _register_released(name: str, depth: int) -> Callable[..., nn.Module]:
    """Register the authors' released network `name` (their `MTNet_s/m/l`): MTNet-`depth`
    as their Jan 2021 code computes it, HACS's 200 classes, r = 0.875, g = 1."""
    layers = BLOCKS_PER_STAGE[depth]

    def build(num_classes: int = 200, weights: str | None = None) -> nn.Module:
        return _build(layers, weights, num_classes=num_classes, variant="authors-2021")

    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__doc__ = (
        f"The authors' released {name.replace('-', '_')} (MTNet-{depth}, variant"
        f" 'authors-2021', 200 HACS classes); `weights` reads their .pth as it is."
    )
    return register_model(name, family="mtnet")(build)


mtnet_32 = _register(32)
mtnet_48 = _register(48)
mtnet_64 = _register(64)
mtnet_132 = _register(132)
mtnet_200 = _register(200)
# The checkpoints the authors released (README, "Pre-trained weights"), trained on HACS.
mtnet_s = _register_released("mtnet-s", 48)
mtnet_m = _register_released("mtnet-m", 64)
mtnet_l = _register_released("mtnet-l", 132)
