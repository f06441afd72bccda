"""SRTG: 3D ResNets with Squeeze-and-Recursion and optional Temporal Gates (Stergiou, Poppe 2020).

As the authors published it (`network/srtg_resnet.py` of
alexandrosstergiou/Squeeze-and-Recursion-Temporal-Gates):

* the backbone is torchvision's `VideoResNet` (3x7x7 or (2+1)D stem); depth 34 uses basic
  blocks, depths 50 / 101 use *bottlenecks with expansion 1* (widths end at 512); the Nov 2020
  / Jan 2021 code that trained the released checkpoints max-pools 3x3x3 stride 2 after the
  stem (`stem_pool="max"`, the default), the June 2020 code does not (`stem_pool="none"`);
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

The authors' `get_symbol` matches `"R3D"` / `"R2PLUS1D"` before `"SRTG"`, so their `srtg_*`
names build the networks *without* cells: `recursion=False` builds those (torchvision's names,
their names load through `srtg_rules` (mtbench.models.authors_keys), ours and torchvision's
as they are. `weights` tells which of the two a file holds when it misfits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, get_args

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
from mtbench.entries import register_model
from mtbench.errors import ModelConfigError
from mtbench.models.authors_keys import srtg_rules
from mtbench.models.recurrent import LSTM, recurrent_outputs
from mtbench.weights import load_state, read_state_dict

StemPool = Literal["max", "none"]
LABELS = {"r3d": "r3d", "r2plus1d": "r(2+1)d"}


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
    """`VideoResNet` with a `SqueezeRecursion` after every residual block (`recursion`), and
    the 2020-21 code's max pool appended to the stem (no parameters: names unchanged)."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        conv: type[Conv3DSimple | Conv2Plus1D],
        layers: list[int],
        stem: type[nn.Module],
        num_classes: int,
        gates: bool,
        gate_epoch: int,
        stem_pool: StemPool = "max",
        recursion: bool = True,
    ) -> None:
        super().__init__(block, [conv] * 4, layers, stem, num_classes=num_classes)
        if stem_pool == "max":
            self.stem.append(nn.MaxPool3d(3, stride=2, padding=1))
        if not recursion:
            return
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


def _has_cells(keys: Iterable[str]) -> bool:
    return any(".lstm." in key for key in keys)


def load_srtg_weights(model: SRTGResNet, path: str, conv: str, recursion: bool) -> SRTGResNet:
    """Load `path` (the authors' names, ours or torchvision's); a file with or without LSTM
    tensors that the model lacks or needs is one line naming the keyword that fits it."""
    state = read_state_dict(path)
    if recursion and not _has_cells(state):
        raise ModelConfigError(
            f"weights={path!r} holds no LSTM tensors: a network without recurrent cells (what"
            " the authors' get_symbol builds for srtg_* names); build it with recursion=False",
            key="weights",
        )
    if not recursion and _has_cells(state):
        raise ModelConfigError(
            f"weights={path!r} holds LSTM tensors (Squeeze-and-Recursion cells); build it with"
            " recursion=True",
            key="weights",
        )
    return load_state(model, state, path, srtg_rules(conv, recursion))


def build_srtg(
    depth: int,
    conv: str,
    num_classes: int,
    gates: bool,
    gate_epoch: int,
    stem_pool: StemPool,
    recursion: bool,
    weights: str | None,
) -> SRTGResNet:
    """SRTG-`conv`-`depth`: conv "r3d" (3x3x3) or "r2plus1d" ((2+1)D, torchvision's matching)."""
    if gate_epoch < 0:
        raise ModelConfigError(f"gate_epoch={gate_epoch} must be >= 0", key="gate_epoch")
    if stem_pool not in get_args(StemPool):
        raise ModelConfigError(
            f"stem_pool must be one of 'max' | 'none', got {stem_pool!r}", key="stem_pool"
        )
    if gates and not recursion:
        raise ModelConfigError(
            "gates=True needs recursion=True (gates act on the cells)", key="gates"
        )
    block = BasicBlock if depth < 50 else BottleneckExpansion1
    conv_maker, stem = (Conv3DSimple, BasicStem) if conv == "r3d" else (Conv2Plus1D, R2Plus1dStem)
    model = SRTGResNet(
        block, conv_maker, LAYERS[depth], stem, num_classes, gates, gate_epoch, stem_pool, recursion
    )
    return model if weights is None else load_srtg_weights(model, weights, conv, recursion)


def _register(depth: int, conv: str) -> Callable[..., nn.Module]:
    """Register `srtg-{conv}-{depth}`: one signature for all six, read by the registry."""

    def build(
        num_classes: int = 400,
        gates: bool = False,
        gate_epoch: int = 0,
        stem_pool: StemPool = "max",
        recursion: bool = True,
        weights: str | None = None,
    ) -> nn.Module:
        return build_srtg(
            depth, conv, num_classes, gates, gate_epoch, stem_pool, recursion, weights
        )

    build.__name__ = build.__qualname__ = f"srtg_{conv}_{depth}"
    bottlenecks = "expansion-1 bottlenecks, " if depth >= 50 else ""
    build.__doc__ = (
        f"SRTG {LABELS[conv]}-{depth} (Stergiou"
        f" and Poppe 2020): {bottlenecks}LSTM squeeze-and-recursion after every block.\n\n"
        "stem_pool: 'max' (the 2020-21 code of the released checkpoints) | 'none' (June 2020).\n"
        "recursion: False builds the network without cells that the authors' get_symbol"
        " builds for srtg_* names.\nweights: the authors' .pth, an mtbench checkpoint or a"
        " state_dict."
    )
    return register_model(f"srtg-{conv}-{depth}", family="srtg")(build)


srtg_r3d_34 = _register(34, "r3d")
srtg_r3d_50 = _register(50, "r3d")
srtg_r3d_101 = _register(101, "r3d")
srtg_r2plus1d_34 = _register(34, "r2plus1d")
srtg_r2plus1d_50 = _register(50, "r2plus1d")
srtg_r2plus1d_101 = _register(101, "r2plus1d")
