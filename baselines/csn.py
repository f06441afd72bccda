"""Channel-Separated Networks (Tran et al. 2019): ip-CSN and ir-CSN at depths 50 / 101 / 152.

A CSN is a 3D ResNet whose bottleneck conv_b separates channel interaction from
spatio-temporal interaction, so it is torchvision's `VideoResNet` with `Bottleneck` and a
different conv maker (the published definitions of VMZ, MMAction2 and PyTorchVideo agree):

* ir-CSN (interaction-reduced): conv_b is a depthwise 3x3x3 conv.
* ip-CSN (interaction-preserved): conv_b is a 1x1x1 conv -> BN -> depthwise 3x3x3 conv.

The stem is a 3x7x7 conv (stride 1, 2, 2) followed by a 1x3x3 max-pool (stride 1, 2, 2);
stages stride (1, 2, 2, 2) in time and space like torchvision's. Canonical input 32x224x224.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.video.resnet import Bottleneck, Conv3DSimple, VideoResNet

from baselines.resnet3d import LAYERS
from baselines.stages import basic_stem
from baselines.variants import register_variants
from baselines.weights import ptv_resnet_rules

# PyTorchVideo's `create_csn` (CSN_32x2_R101.pyth) -> torchvision's VideoResNet names.
PTV_CSN = ptv_resnet_rules((1, 2, 3, 4), ("layer1", "layer2", "layer3", "layer4"), "fc")


class DepthwiseConv3D(nn.Conv3d):
    """ir-CSN conv_b: 3x3x3 with one group per channel (no channel interaction)."""

    def __init__(
        self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1
    ) -> None:
        super().__init__(in_planes, out_planes, 3, stride, 1, groups=in_planes, bias=False)

    get_downsample_stride = staticmethod(Conv3DSimple.get_downsample_stride)


class InteractionPreservedConv(nn.Sequential):
    """ip-CSN conv_b: 1x1x1 (all channel interaction) -> BN -> depthwise 3x3x3."""

    def __init__(
        self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1
    ) -> None:
        super().__init__(
            nn.Conv3d(in_planes, out_planes, 1, bias=False),
            nn.BatchNorm3d(out_planes),
            DepthwiseConv3D(out_planes, out_planes, stride=stride),
        )

    get_downsample_stride = staticmethod(Conv3DSimple.get_downsample_stride)


def csn_stem() -> nn.Sequential:
    """3x7x7 conv, stride (1, 2, 2) -> BN-ReLU -> 1x3x3 max-pool, stride (1, 2, 2)."""
    return basic_stem(64, temporal_kernel=3, pool=True)


def build_csn(depth: int, conv: type[nn.Module], num_classes: int = 400) -> VideoResNet:
    """A CSN of `depth` with conv_b maker `conv` (depthwise or interaction-preserved)."""
    return VideoResNet(Bottleneck, [conv] * 4, LAYERS[depth], csn_stem, num_classes=num_classes)


IR = "depthwise 3x3x3 bottlenecks; canonical input 32x224x224"
IP = "1x1x1 + depthwise 3x3x3; canonical input 32x224x224"
register_variants(
    "csn",
    build_csn,
    {
        "ircsn-50": ((50, DepthwiseConv3D), f"ir-CSN-50 (Tran et al. 2019): {IR}."),
        "ircsn-101": ((101, DepthwiseConv3D), f"ir-CSN-101 (Tran et al. 2019): {IR}."),
        "ircsn-152": ((152, DepthwiseConv3D), f"ir-CSN-152 (Tran et al. 2019): {IR}."),
        "ipcsn-50": ((50, InteractionPreservedConv), f"ip-CSN-50 (Tran et al. 2019): {IP}."),
        "ipcsn-101": ((101, InteractionPreservedConv), f"ip-CSN-101 (Tran et al. 2019): {IP}."),
        "ipcsn-152": ((152, InteractionPreservedConv), f"ip-CSN-152 (Tran et al. 2019): {IP}."),
    },
    PTV_CSN,
)
