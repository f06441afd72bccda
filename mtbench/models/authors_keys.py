"""Key maps from the authors' checkpoint names to ours: MTNet and SRTG, one map per family.

Their `train/model.py` saves `{'epoch', 'state_dict'}` from inside DataParallel (a `module.`
prefix, which the loader drops). Rules are ordered (pattern, replacement) pairs applied in
turn (`mtbench.weights.map_keys`); names no rule matches pass unchanged, so mtbench's own
checkpoints load through the same map.

MTNet (`network/MTnet.py`), per block `layerS.I` of stage S (1-4), block I:

    layerS.I.conv1_1 | conv1_2 | conv2 | conv3   -> blocks.N.convs.0 | 1 | 2 | 3
    layerS.I.downsample                          -> blocks.N.shortcut
    <conv>.conv_short2long                       -> <conv>.conv_lateral
    layerS.I.sr_short.op | sr_long.op            -> blocks.N.sr.0.cell | sr.1.cell
    stem.0 / stem.1 / fc                         -> unchanged

with N = I plus the blocks of the stages before S (so the map depends on the depth; a
block the depth does not have keeps its name and is reported as unexpected).
conv_short / conv_long / norm_short / norm_long keep their names.

SRTG (`network/srtg_resnet.py`): the Squeeze and Recursion sits inside each residual block
(`layerS.I.sar.lstm`); ours wraps the block as `layerS.I.0` with the cell as `layerS.I.1`;
and their 3x3x3 conv (`Conv3DSimple`) is a Sequential around the conv, torchvision's is the
conv, so r3d's block convs carry one more `.0`:

    layerS.I.sar.lstm -> layerS.I.1.lstm;   layerS.I.<anything else> -> layerS.I.0.<same>
    r3d: <block>.conv1.0.0.weight / conv2.0.0.weight -> <block>.conv1.0.weight / conv2.0.weight

Without cells (what their `get_symbol` builds for `srtg_*` names) the blocks are not wrapped,
and the other names are torchvision's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Rules = Sequence[tuple[str, str | Callable[[re.Match[str]], str]]]

_MTCONVS: Rules = (
    (r"\.conv1_1\.", ".convs.0."),
    (r"\.conv1_2\.", ".convs.1."),
    (r"\.conv2\.", ".convs.2."),
    (r"\.conv3\.", ".convs.3."),
    (r"\.downsample\.", ".shortcut."),
    (r"\.conv_short2long\.", ".conv_lateral."),
    (r"\.sr_short\.op\.", ".sr.0.cell."),
    (r"\.sr_long\.op\.", ".sr.1.cell."),
)


def _offsets(layers: Sequence[int]) -> list[int]:
    return [sum(layers[:s]) for s in range(len(layers))]


def mtnet_rules(layers: Sequence[int]) -> Rules:
    """The authors' MTNet names -> ours, for a network of `layers` blocks per stage."""
    offsets = _offsets(layers)

    def block(match: re.Match[str]) -> str:
        stage, i = int(match[1]) - 1, int(match[2])
        # A block this depth does not have keeps its name: the loader reports it unexpected.
        return f"blocks.{offsets[stage] + i}." if i < layers[stage] else match[0]

    return ((r"^layer([1-4])\.(\d+)\.", block), *_MTCONVS)


def mtnet_authors_names(layers: Sequence[int]) -> Rules:
    """The inverse of `mtnet_rules`: ours -> the authors' names (a file their code loads)."""
    offsets = _offsets(layers)

    def block(match: re.Match[str]) -> str:
        n = int(match[1])
        stage = max(s for s, first in enumerate(offsets) if first <= n)
        return f"layer{stage + 1}.{n - offsets[stage]}."

    inverse = [(re.escape(ours), re.escape(theirs).replace("\\", "")) for theirs, ours in _MTCONVS]
    return ((r"^blocks\.(\d+)\.", block), *inverse)


_SRTG_CELLS: Rules = (
    (r"^(layer[1-4]\.\d+)\.sar\.lstm\.", r"\1.1.lstm."),
    (r"^(layer[1-4]\.\d+)\.(?!\d+\.)", r"\1.0."),
)
# Their Conv3DSimple is a Sequential holding the conv, torchvision's is the conv itself.
_R3D_CONVS: Rules = ((r"\.(conv[12])\.0\.0\.weight$", r".\1.0.weight"),)


def srtg_rules(conv: str, recursion: bool) -> Rules:
    """The authors' SRTG names -> ours, for conv "r3d" or "r2plus1d", with or without cells."""
    return (*(_R3D_CONVS if conv == "r3d" else ()), *(_SRTG_CELLS if recursion else ()))


def srtg_authors_names(conv: str, depth: int, recursion: bool) -> Rules:
    """The inverse of `srtg_rules` (basic blocks below depth 50 wrap both convs, bottlenecks
    only the middle one)."""
    cells = (
        (r"^(layer[1-4]\.\d+)\.1\.lstm\.", r"\1.sar.lstm."),
        (r"^(layer[1-4]\.\d+)\.0\.", r"\1."),
    )
    wrapped = "conv[12]" if depth < 50 else "conv2"
    convs = ((rf"\.({wrapped})\.0\.weight$", r".\1.0.0.weight"),)
    return (*(cells if recursion else ()), *(convs if conv == "r3d" else ()))
