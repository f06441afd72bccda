"""torchvision's video classifiers with no deeper family here, built by torchvision's own builders.

Every model `torchvision.models.list_models(module=torchvision.models.video)` lists is
registered: mc3-18 and s3d here with MViT v1/v2 and Video Swin (swin3d-t/s/b), r3d-18 and
r2plus1d-18 in `baselines.resnet3d` with their deeper siblings. All are built by torchvision's
builders (r3d and r(2+1)d under their default definition), so torchvision's Kinetics-400
state_dicts load into every one unrenamed (`weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn
from torchvision.models import video as tvv

from mtbench.entries import register_model
from mtbench.weights import with_weights


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


def _mvit_input(kwargs: dict[str, Any], shape: list[int]) -> str | None:
    """torchvision builds MViT's position embeddings for 16x224x224 clips and offers no knob."""
    if shape[2:] != [16, 224, 224]:
        given = "x".join(map(str, shape[2:]))
        return (
            f"takes only 16x224x224 clips (its position embeddings are sized for them), got {given}"
        )
    return None


def _mvit(name: str, build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    @register_model(name, family="mvit", input_check=_mvit_input)
    @with_weights()
    def builder(num_classes: int = 400) -> nn.Module:
        return build(num_classes=num_classes)

    builder.__doc__ = f"torchvision's {build.__name__} (multiscale ViT); 16x224x224 clips only."
    return builder


def _swin3d(name: str, build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    @register_model(name, family="swin3d")
    @with_weights()
    def builder(num_classes: int = 400) -> nn.Module:
        return build(num_classes=num_classes)

    builder.__doc__ = (
        f"torchvision's {build.__name__} (Video Swin, Liu et al. 2022); any clip size."
    )
    return builder


mvit_v1_b = _mvit("mvit-v1-b", tvv.mvit_v1_b)
mvit_v2_s = _mvit("mvit-v2-s", tvv.mvit_v2_s)
swin3d_t = _swin3d("swin3d-t", tvv.swin3d_t)
swin3d_s = _swin3d("swin3d-s", tvv.swin3d_s)
swin3d_b = _swin3d("swin3d-b", tvv.swin3d_b)
