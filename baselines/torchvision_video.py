"""torchvision's video classifiers with no deeper family here, built by torchvision's own builders.

r3d-18 and r2plus1d-18 live in `baselines.resnet3d` with their deeper siblings; they too are
built by torchvision's builders under their default definition, so torchvision's
Kinetics-400 state_dicts load into all four unrenamed (`weights`).
"""

from __future__ import annotations

from torch import nn
from torchvision.models import video as tvv

from baselines.weights import with_weights
from mtbench.registry import register_model


@register_model("mc3-18", family="mc3")
@with_weights()
def mc3_18(num_classes: int = 400) -> nn.Module:
    """torchvision's MC3-18: 3D convs in the first stage, 2D (1x3x3) after."""
    return tvv.mc3_18(num_classes=num_classes)


@register_model("s3d", family="s3d")
@with_weights()
def s3d(num_classes: int = 400) -> nn.Module:
    """torchvision's S3D (Xie et al. 2018): separable Inception; canonical input 16x224x224.

    torchvision pools with a fixed 2x7x7 window, which only fits clips of about 16x224x224;
    the global pool here is identical there (same parameters, same FLOPs) and lets S3D take
    the common 8x112x112 clip like every other baseline.
    """
    model = tvv.s3d(num_classes=num_classes)
    model.avgpool = nn.AdaptiveAvgPool3d(1)
    return model
