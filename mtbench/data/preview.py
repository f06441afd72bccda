"""A contact sheet of transformed clips: rows are clips, columns their frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mtbench.data.config import DataConfig


def contact_sheet(
    items: list[dict[str, Any]], classes: list[str], cfg: DataConfig, out: Path, columns: int = 8
) -> None:
    """Undo the normalisation and draw up to `columns` evenly spaced frames per clip."""
    from matplotlib.figure import Figure  # no pyplot: the global backend stays as it is

    mean = torch.tensor(cfg.mean).view(3, 1, 1, 1)
    std = torch.tensor(cfg.std).view(3, 1, 1, 1)
    t = items[0]["video"].shape[1]
    shown = sorted({round(i * (t - 1) / max(columns - 1, 1)) for i in range(min(columns, t))})
    fig = Figure(figsize=(1.3 * len(shown), 1.45 * len(items)))
    axes = fig.subplots(len(items), len(shown), squeeze=False)
    for row, item in zip(axes, items, strict=True):
        video = (item["video"] * std + mean).clamp(0, 1)
        for ax, frame in zip(row, shown, strict=True):
            ax.imshow(video[:, frame].permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"t={frame}", fontsize=6)
        duration = f"\n{int(item['duration'])} frames" if "duration" in item else ""
        row[0].set_ylabel(classes[item["label"]] + duration, fontsize=7)
    fig.suptitle(f"{cfg.dataset}: {t} frames, interval {cfg.interval}, crop {cfg.crop}", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
