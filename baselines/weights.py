"""The zoo's key tables: how each family's published checkpoint names map to our models'.

The generic loader (file formats, `with_weights`, one-line errors) is `mtbench.weights`; these
are the ordered (pattern, replacement) rules of the PyTorchVideo / PySlowFast families. Keys no
rule matches pass unchanged, so a checkpoint saved from the mtbench model itself (or from
torchvision's builder, which builds r3d-18, mc3-18, r2plus1d-18 and s3d here) loads as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mtbench.weights import KeyRules as KeyRules
from mtbench.weights import map_keys as map_keys

# PyTorchVideo's `ResBlock` (branch1 shortcut, branch2 bottleneck) -> torchvision's `Bottleneck`
# (conv1/conv2/conv3 as conv-BN pairs, `downsample` shortcut), which every staged ResNet here
# reuses. The (2+1)D conv_b of R(2+1)D-50 is one Sequential in ours: conv_t, BN, ReLU, conv_xy.
PTV_BOTTLENECK: KeyRules = (
    (r"\.branch1_conv\.", ".downsample.0."),
    (r"\.branch1_norm\.", ".downsample.1."),
    (r"\.branch2\.conv_b\.conv_t\.", ".conv2.0.0."),
    (r"\.branch2\.conv_b\.norm\.", ".conv2.0.1."),
    (r"\.branch2\.conv_b\.conv_xy\.", ".conv2.0.3."),
    (r"\.branch2\.conv_a\.", ".conv1.0."),
    (r"\.branch2\.norm_a\.", ".conv1.1."),
    (r"\.branch2\.conv_b\.", ".conv2.0."),
    (r"\.branch2\.norm_b\.", ".conv2.1."),
    (r"\.branch2\.conv_c\.", ".conv3.0."),
    (r"\.branch2\.norm_c\.", ".conv3.1."),
)
PTV_STEM: KeyRules = ((r"^blocks\.0\.conv\.", "stem.0."), (r"^blocks\.0\.norm\.", "stem.1."))


def ptv_resnet_rules(
    stage_blocks: Sequence[int], stage_names: Sequence[str], head: str
) -> KeyRules:
    """PyTorchVideo `Net(blocks=[stem, stages..., (pool,) head])` -> a single-pathway ResNet.

    `stage_blocks[i]` is the index in `blocks` of the stage we call `stage_names[i]` (a pool
    block without parameters shifts the indices); the head's `proj` becomes `head`.
    """
    stages = [
        (rf"^blocks\.{b}\.res_blocks\.", f"{name}.")
        for b, name in zip(stage_blocks, stage_names, strict=True)
    ]
    return (*PTV_STEM, *stages, (r"^blocks\.\d+\.proj\.", f"{head}."), *PTV_BOTTLENECK)


def _pathway(match: re.Match[str]) -> str:
    path = ("slow", "fast")[int(match[2])]
    return f"{path}_stages.{int(match[1]) - 1}."


# PyTorchVideo's `create_slowfast`: blocks.0 = stems (pathway 0 slow, 1 fast) + fusion, blocks 1-4
# = res2..res5 per pathway, fusion after blocks 0-3 (ours: fusions.0-3), blocks.6 = head.
PTV_SLOWFAST: KeyRules = (
    (r"^blocks\.0\.multipathway_blocks\.0\.conv\.", "slow_stem.0."),
    (r"^blocks\.0\.multipathway_blocks\.0\.norm\.", "slow_stem.1."),
    (r"^blocks\.0\.multipathway_blocks\.1\.conv\.", "fast_stem.0."),
    (r"^blocks\.0\.multipathway_blocks\.1\.norm\.", "fast_stem.1."),
    (r"^blocks\.(\d)\.multipathway_fusion\.conv_fast_to_slow\.", r"fusions.\1.conv."),
    (r"^blocks\.(\d)\.multipathway_fusion\.norm\.", r"fusions.\1.bn."),
    (r"^blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.", _pathway),
    (r"^blocks\.\d+\.proj\.", "fc."),
    *PTV_BOTTLENECK,
)


__all__ = ["PTV_BOTTLENECK", "PTV_SLOWFAST", "PTV_STEM", "map_keys", "ptv_resnet_rules"]
