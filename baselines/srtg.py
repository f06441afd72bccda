"""SRTG: 3D ResNets with Squeeze-and-Recursion and optional Temporal Gates (Stergiou, Poppe 2020).

As the authors published it (`network/srtg_resnet.py` of
alexandrosstergiou/Squeeze-and-Recursion-Temporal-Gates):

* the backbone is torchvision's `VideoResNet` (3x7x7 or (2+1)D stem, no max-pool); depth 34
  uses basic blocks, depths 50 / 101 use *bottlenecks with expansion 1* (widths end at 512);
* after every residual block, after the addition and ReLU, a Squeeze-and-Recursion block
  pools each frame spatially, runs the (T, B, C) sequence through a 2-layer LSTM with hidden
  size C, and multiplies the block's output frame-wise by the LSTM output.

Temporal gates (off by default, as the authors' builders ship) apply the recalibration only to
samples whose pooled features and LSTM output are cycle-consistent: every frame's soft nearest
neighbour in the other sequence has its own hard nearest neighbour back at the same frame, in
both directions (the soft-nearest-neighbour cycle of Dwibedi et al. 2019 that the paper
describes). The released `soft_nnc` cannot fire as written (its softmax normalises by the
exponential of a sum rather than a sum of exponentials, and it tests ``x - x == 0`` after an
in-place scatter), so the check here is written from the description instead. The gates switch
on at `gate_epoch`: before it, an untrained LSTM would gate almost every sample off, so the
recalibration applies unconditionally; a training loop calls `model.set_epoch(epoch)`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.video.resnet import (
    BasicBlock,
    BasicStem,
    Bottleneck,
    Conv2Plus1D,
    Conv3DSimple,
    R2Plus1dStem,
    VideoResNet,
)

from baselines.resnet3d import LAYERS
from baselines.weights import with_weights
from mtbench.models.recurrent import LSTM, recurrent_outputs
from mtbench.registry import ModelConfigError, register_model


class BottleneckExpansion1(Bottleneck):
    """torchvision's `Bottleneck` with expansion 1, as in the SRTG authors' deeper networks."""

    expansion = 1


def cycle_consistent(u: Tensor, v: Tensor) -> Tensor:
    """Per sample, whether every frame of `u` (B, T, C) cycles back to itself through `v`.

    For frame i of u: soft nearest neighbour in v, v~ = sum_j softmax_j(-|u_i - v_j|^2) v_j;
    then the hard nearest neighbour of v~ in u must be u_i. Returns a (B,) bool tensor.
    """
    alpha = torch.softmax(-torch.cdist(u, v).pow(2), dim=-1)  # (B, T, T)
    soft_nn = alpha @ v  # (B, T, C)
    back = torch.cdist(soft_nn, u).argmin(dim=-1)  # (B, T)
    frames = torch.arange(u.shape[1], device=u.device)
    return (back == frames).all(dim=-1)


class SqueezeRecursion(nn.Module):
    """Frame-wise spatial pool -> 2-layer LSTM (hidden = channels) -> multiply features by it.

    The LSTM is `mtbench.models.recurrent.LSTM`: `nn.LSTM`'s parameters and kernel, traced
    whole by torch.compile, run in its weights' dtype and returning the features' dtype.
    """

    def __init__(self, channels: int, gates: bool = False, gate_epoch: int = 0) -> None:
        super().__init__()
        self.lstm = LSTM(channels, channels, num_layers=2)
        self.gates = gates
        self.gate_epoch = gate_epoch
        self.epoch = 0

    def gates_active(self) -> bool:
        return self.gates and self.epoch >= self.gate_epoch

    def forward(self, x: Tensor) -> Tensor:
        squeezed = x.mean(dim=(3, 4))  # (B, C, T)
        recursed = recurrent_outputs(self.lstm, squeezed.permute(2, 0, 1))  # (T, B, C)
        scale = recursed.permute(1, 2, 0)[..., None, None]  # (B, C, T, 1, 1)
        if not self.gates_active():
            return x * scale
        with torch.no_grad():
            u, v = squeezed.transpose(1, 2), recursed.transpose(0, 1)  # (B, T, C) each
            fire = cycle_consistent(u, v) & cycle_consistent(v, u)
        return torch.where(fire[:, None, None, None, None], x * scale, x)


class SRTGResNet(VideoResNet):
    """`VideoResNet` with a `SqueezeRecursion` after every residual block."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        conv: type[Conv3DSimple | Conv2Plus1D],
        layers: list[int],
        stem: type[nn.Module],
        num_classes: int,
        gates: bool,
        gate_epoch: int,
    ) -> None:
        super().__init__(block, [conv] * 4, layers, stem, num_classes=num_classes)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for i, res_block in enumerate(stage):
                channels = (
                    res_block.conv2[1].num_features
                    if block is BasicBlock
                    else (res_block.conv3[1].num_features)
                )
                stage[i] = nn.Sequential(res_block, SqueezeRecursion(channels, gates, gate_epoch))

    def set_epoch(self, epoch: int) -> None:
        """Tell the temporal gates the training epoch (they switch on at `gate_epoch`)."""
        for module in self.modules():
            if isinstance(module, SqueezeRecursion):
                module.epoch = epoch


def build_srtg(depth: int, conv: str, num_classes: int, gates: bool, gate_epoch: int) -> SRTGResNet:
    """SRTG-`conv`-`depth`: conv "r3d" (3x3x3) or "r2plus1d" ((2+1)D, torchvision's matching)."""
    if gate_epoch < 0:
        raise ModelConfigError(f"gate_epoch={gate_epoch} must be >= 0", key="gate_epoch")
    block = BasicBlock if depth < 50 else BottleneckExpansion1
    conv_maker, stem = (Conv3DSimple, BasicStem) if conv == "r3d" else (Conv2Plus1D, R2Plus1dStem)
    return SRTGResNet(block, conv_maker, LAYERS[depth], stem, num_classes, gates, gate_epoch)


@register_model("srtg-r3d-34", family="srtg")
@with_weights()
def srtg_r3d_34(num_classes: int = 400, gates: bool = False, gate_epoch: int = 0) -> nn.Module:
    """SRTG r3d-34 (Stergiou and Poppe 2020): LSTM squeeze-and-recursion after every block."""
    return build_srtg(34, "r3d", num_classes, gates, gate_epoch)


@register_model("srtg-r3d-50", family="srtg")
@with_weights()
def srtg_r3d_50(num_classes: int = 400, gates: bool = False, gate_epoch: int = 0) -> nn.Module:
    """SRTG r3d-50: expansion-1 bottlenecks, LSTM squeeze-and-recursion after every block."""
    return build_srtg(50, "r3d", num_classes, gates, gate_epoch)


@register_model("srtg-r3d-101", family="srtg")
@with_weights()
def srtg_r3d_101(num_classes: int = 400, gates: bool = False, gate_epoch: int = 0) -> nn.Module:
    """SRTG r3d-101: expansion-1 bottlenecks, LSTM squeeze-and-recursion after every block."""
    return build_srtg(101, "r3d", num_classes, gates, gate_epoch)


@register_model("srtg-r2plus1d-34", family="srtg")
@with_weights()
def srtg_r2plus1d_34(num_classes: int = 400, gates: bool = False, gate_epoch: int = 0) -> nn.Module:
    """SRTG r(2+1)d-34: LSTM squeeze-and-recursion after every block."""
    return build_srtg(34, "r2plus1d", num_classes, gates, gate_epoch)


@register_model("srtg-r2plus1d-50", family="srtg")
@with_weights()
def srtg_r2plus1d_50(num_classes: int = 400, gates: bool = False, gate_epoch: int = 0) -> nn.Module:
    """SRTG r(2+1)d-50: expansion-1 bottlenecks, LSTM squeeze-and-recursion after every block."""
    return build_srtg(50, "r2plus1d", num_classes, gates, gate_epoch)


@register_model("srtg-r2plus1d-101", family="srtg")
@with_weights()
def srtg_r2plus1d_101(
    num_classes: int = 400, gates: bool = False, gate_epoch: int = 0
) -> nn.Module:
    """SRTG r(2+1)d-101: expansion-1 bottlenecks, LSTM squeeze-and-recursion after every block."""
    return build_srtg(101, "r2plus1d", num_classes, gates, gate_epoch)
