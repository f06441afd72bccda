"""R3D and R(2+1)D at depths 18-152, under each public definition that published numbers use.

Public definitions disagree, and the published parameter counts and FLOPs follow from the
definition, so each builder takes `definition`:

* ``"torchvision"`` (default; Tran et al. 2018 as torchvision builds it): 3x7x7 stem without a
  max-pool, stage strides (1, 2, 2, 2) in time and space, (2+1)D width matched to a 3x3x3's
  parameters per block. Reproduces torchvision's `num_params` / `_ops` for depth 18.
* ``"3d-resnets"`` (r3d only; Hara et al. / Kataoka et al., 3D-ResNets-PyTorch): 7x7x7 stem
  followed by a 3x3x3 max-pool with stride 2 in time and space, so every stage sees 8x fewer
  positions (about 5x fewer GMACs at 16x112x112). Reproduces 63.7 / 47.0 / 86.1 M params for
  depths 34 / 50 / 101 (400 classes).
* ``"pytorchvideo"`` (r2plus1d 50/101/152 only; PyTorchVideo's `create_r2plus1d`): 1x7x7 stem
  without pooling, spatial stride 2 in every stage, temporal stride (1, 1, 2, 2), and a
  temporal-first (2+1)D conv_b whose inner width is not widened. Reproduces the 28.11 M params
  and 76.45 GFLOPs (16x224x224) of PyTorchVideo's R(2+1)D-R50.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import video as tvv
from torchvision.models.video.resnet import (
    BasicBlock,
    BasicStem,
    Bottleneck,
    Conv2Plus1D,
    Conv3DSimple,
    R2Plus1dStem,
    VideoResNet,
)

from baselines.stages import Conv2Plus1DTemporalFirst, check_choice, staged_resnet
from baselines.variants import register_variants
from baselines.weights import ptv_resnet_rules

# PyTorchVideo's R(2+1)D-50 checkpoint -> definition "pytorchvideo"; torchvision's r3d_18 and
# r2plus1d_18 state_dicts carry our names already (the builders are torchvision's).
PTV_R2PLUS1D = ptv_resnet_rules((1, 2, 3, 4), ("res2", "res3", "res4", "res5"), "head.fc")

LAYERS: dict[int, list[int]] = {
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
}


class HaraStem(nn.Sequential):
    """3D-ResNets-PyTorch stem: 7x7x7 conv, stride (1, 2, 2) -> BN-ReLU -> 3x3x3 max-pool /2."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv3d(3, 64, (7, 7, 7), (1, 2, 2), (3, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(3, 2, 1),
        )


def _block(depth: int) -> type[BasicBlock | Bottleneck]:
    return BasicBlock if depth < 50 else Bottleneck


def video_resnet(
    depth: int, conv: type[Conv3DSimple | Conv2Plus1D], stem: Callable[[], nn.Module], n: int
) -> VideoResNet:
    """torchvision's `VideoResNet` at any depth: the family is (block, conv, stem) data."""
    return VideoResNet(_block(depth), [conv] * 4, LAYERS[depth], stem, num_classes=n)


def build_r3d(depth: int, num_classes: int = 400, definition: str = "torchvision") -> nn.Module:
    """R3D-`depth` under `definition` ("torchvision" or "3d-resnets")."""
    check_choice("definition", definition, ("torchvision", "3d-resnets"))
    if definition == "torchvision" and depth == 18:
        return tvv.r3d_18(num_classes=num_classes)  # torchvision's own builder: same numbers
    stem = BasicStem if definition == "torchvision" else HaraStem
    return video_resnet(depth, Conv3DSimple, stem, num_classes)


def build_r2plus1d(
    depth: int, num_classes: int = 400, definition: str = "torchvision"
) -> nn.Module:
    """R(2+1)D-`depth` under `definition` ("torchvision", or "pytorchvideo" for depth >= 50)."""
    allowed = ("torchvision", "pytorchvideo") if depth >= 50 else ("torchvision",)
    check_choice("definition", definition, allowed)
    if definition == "pytorchvideo":
        return staged_resnet(
            depth,
            num_classes,
            stem_temporal_kernel=1,
            stem_pool=False,
            temporal_kernels=[[1]] * 4,
            conv_builder=Conv2Plus1DTemporalFirst,
            strides=[(1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)],
            dropout=0.0,
        )
    if depth == 18:
        return tvv.r2plus1d_18(num_classes=num_classes)
    return video_resnet(depth, Conv2Plus1D, R2Plus1dStem, num_classes)


R3D_DEFINITIONS = "definition: torchvision | 3d-resnets (stem max-pool)"
R2PLUS1D_DEFINITIONS = "definition: torchvision | pytorchvideo"
register_variants(
    "r3d",
    build_r3d,
    {
        "r3d-18": ((18,), f"R3D-18 (Tran et al. 2018); {R3D_DEFINITIONS}."),
        "r3d-34": ((34,), f"R3D-34 (basic blocks); {R3D_DEFINITIONS}."),
        "r3d-50": ((50,), f"R3D-50 (bottlenecks); {R3D_DEFINITIONS}."),
        "r3d-101": ((101,), f"R3D-101 (bottlenecks); {R3D_DEFINITIONS}."),
        "r3d-152": ((152,), f"R3D-152 (bottlenecks); {R3D_DEFINITIONS}."),
    },
)
register_variants(
    "r2plus1d",
    build_r2plus1d,
    {
        "r2plus1d-18": (
            (18,),
            "R(2+1)D-18 (Tran et al. 2018): 3x3x3 factored into 1x3x3 then 3x1x1.",
        ),
        "r2plus1d-34": (
            (34,),
            "R(2+1)D-34 (basic blocks, torchvision's parameter-matched (2+1)D conv).",
        ),
        "r2plus1d-50": ((50,), f"R(2+1)D-50 (bottlenecks); {R2PLUS1D_DEFINITIONS}."),
        "r2plus1d-101": ((101,), f"R(2+1)D-101 (bottlenecks); {R2PLUS1D_DEFINITIONS}."),
        "r2plus1d-152": ((152,), f"R(2+1)D-152 (bottlenecks); {R2PLUS1D_DEFINITIONS}."),
    },
    PTV_R2PLUS1D,
)
