"""torchvision's video classifiers, built from its own builders (no weights are loaded)."""

from __future__ import annotations

from torch import nn
from torchvision.models import video as tvv

from mtbench.registry import register_model


@register_model("r3d-18", family="r3d")
def r3d_18(num_classes: int = 400) -> nn.Module:
    """torchvision's R3D-18 (Tran et al. 2018): 3x3x3 convs, no stem max-pool."""
    return tvv.r3d_18(num_classes=num_classes)


@register_model("mc3-18", family="mc3")
def mc3_18(num_classes: int = 400) -> nn.Module:
    """torchvision's MC3-18: 3D convs in the first stage, 2D (1x3x3) after."""
    return tvv.mc3_18(num_classes=num_classes)


@register_model("r2plus1d-18", family="r2plus1d")
def r2plus1d_18(num_classes: int = 400) -> nn.Module:
    """torchvision's R(2+1)D-18: each 3x3x3 conv factored into 1x3x3 then 3x1x1."""
    return tvv.r2plus1d_18(num_classes=num_classes)


@register_model("s3d", family="s3d")
def s3d(num_classes: int = 400) -> nn.Module:
    """torchvision's S3D (Xie et al. 2018): separable Inception; canonical input 16x224x224."""
    return tvv.s3d(num_classes=num_classes)
