"""Parameter counts: exact integers, shared parameters counted once."""

from __future__ import annotations

from torch import nn


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable); works on the meta device, so counting never allocates."""
    params = list(model.parameters())  # nn.Module.parameters() already de-duplicates
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return total, trainable
