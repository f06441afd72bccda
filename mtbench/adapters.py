"""One adapter for models that do not take (B, C, T, H, W) and return logits.

Measurement, training and evaluation always call `model(clip)` with a (B, C, T, H, W) clip
and read a (B, num_classes) tensor. Hugging Face's video classifiers take (B, T, C, H, W)
`pixel_values` and return an output object whose `.logits` is that tensor; an entry says so
once, at registration, and `create_model` wraps what its builder returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LAYOUTS = ("BCTHW", "BTCHW")


@dataclass(frozen=True)
class Adapter:
    """`layout`: the axis order the model takes; `logits`: the output's attribute (or key)
    holding the logits, None when the model returns them as a tensor."""

    layout: str = "BCTHW"
    logits: str | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"adapter layout {self.layout!r}: choose one of {', '.join(LAYOUTS)}")


class AdaptedModel(nn.Module):
    """`model` seen through an `Adapter`: (B, C, T, H, W) in, logits out."""

    def __init__(self, model: nn.Module, adapter: Adapter) -> None:
        super().__init__()
        self.model = model
        self.layout = adapter.layout
        self.logits = adapter.logits

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if self.layout == "BTCHW":
            clip = clip.transpose(1, 2)
        out = self.model(clip)
        if self.logits is None:
            return out
        return out[self.logits] if isinstance(out, dict) else getattr(out, self.logits)


def adapt(model: nn.Module, adapter: Adapter | None) -> nn.Module:
    return model if adapter is None or adapter == Adapter() else AdaptedModel(model, adapter)
