"""The per-epoch training log: one JSON line per epoch in `train_log.jsonl` (as timm's
summary.csv, so curves are a read of data), mirrored to TensorBoard when it is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAIN_LOG = "train_log.jsonl"
SCALARS = ("lr", "loss", "train_top1", "clips_per_s", "data_wait_frac")


class TrainLog:
    """Lines up to a resumed checkpoint's epoch are kept; later ones came from a killed run."""

    def __init__(self, folder: Path, resumed_epoch: int, write: bool) -> None:
        self.path = folder / TRAIN_LOG
        self.write = write
        self.lines = self._read(resumed_epoch)
        self.tensorboard = None
        if write:
            folder.mkdir(parents=True, exist_ok=True)
            self.path.write_text("".join(json.dumps(line) + "\n" for line in self.lines))
            self.tensorboard = _tensorboard(folder / "tensorboard")

    def _read(self, upto_epoch: int) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = [json.loads(s) for s in self.path.read_text().splitlines() if s.strip()]
        return [line for line in lines if line["epoch"] <= upto_epoch]

    def append(self, line: dict[str, Any]) -> None:
        self.lines.append(line)
        if not self.write:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        if self.tensorboard is not None:
            for key in SCALARS:
                self.tensorboard.add_scalar(f"train/{key}", line[key], line["epoch"])
            self.tensorboard.flush()

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()


def _tensorboard(folder: Path):
    """A SummaryWriter when the optional `tensorboard` package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
