"""Squeeze and Recursion (paper eq. 4, Fig. 4): recalibrate each frame by a recurrent cell.

    x (B, C, T, H, W) --mean over H, W--> (B, T, C) --2-layer GRU, hidden C--> h (B, T, C)
    out = x * h[..., None, None]                                       (frame-wise product)

The cell runs over the T frames of the clip, so each frame's recalibration sees the global
motion up to it. It is one fused GRU call on the whole (B, T, C) sequence in eager mode, no
Python loop over frames; the cell is `recurrent.GRU` / `recurrent.LSTM`: `nn.GRU` / `nn.LSTM`
that torch.compile traces, run in the weights' dtype whatever autocast says. The paper
replaces the LSTM of the original Squeeze and Recursion with a GRU; both are offered, and
`none` removes the cell (ablation).

The authors' code multiplies by the raw GRU output, which lies in (-1, 1) and can flip a
feature's sign; the paper does not say otherwise, so `raw` is the default and a sigmoid gate
in (0, 1) is the option.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from mtbench.models.recurrent import GRU, LSTM, recurrent_outputs

SRCell = Literal["gru", "lstm", "none"]
SRGate = Literal["raw", "sigmoid"]


class SqueezeRecursion(nn.Module):
    """Per-frame channel weights (B, C, T, 1, 1) from a recurrent cell over the squeezed clip.

    `forward` returns the weights, not the product, so that the block can fuse the product
    with its residual addition (`torch.addcmul`); they are in the dtype of `x`, so that the
    fused op never meets two floating dtypes (under CUDA autocast it raises if it does).
    """

    def __init__(
        self, channels: int, cell: Literal["gru", "lstm"] = "gru", gate: SRGate = "raw"
    ) -> None:
        super().__init__()
        recurrent = GRU if cell == "gru" else LSTM
        self.cell = recurrent(channels, channels, num_layers=2, batch_first=True)
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        # Squeeze: spatial mean per frame. A mean is several times faster on CPU than the
        # equivalent adaptive pool; FLOP counters treat it as free (one add per element).
        hidden = recurrent_outputs(self.cell, x.mean(dim=(3, 4)).transpose(1, 2))  # (B, T, C)
        if self.gate == "sigmoid":
            hidden = torch.sigmoid(hidden)
        return hidden.transpose(1, 2)[..., None, None]

    def extra_repr(self) -> str:
        return f"gate={self.gate}"
