"""Multi-view evaluation: K clips x C crops per video, softmax scores averaged over views.

Every view's scores are kept (`scores.pt`: videos x views x classes), so fewer views (1x1,
Kx1) are scored again from them without running the model; the metrics, per-class accuracy
and confusion matrix come from the same function either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from mtbench.train.distributed import gather_objects

SCORES = "scores.pt"
VIEW_AVERAGE = "softmax"  # scores averaged over views after the softmax (SlowFast, MMAction2)


@dataclass
class ViewScores:
    """Per-video softmax scores of every view, in test-list order; what `scores.pt` holds."""

    scores: torch.Tensor  # (videos, clips * crops, classes), float32; clip-major views
    labels: torch.Tensor  # (videos,)
    clips: int
    crops: int
    classes: list[str]
    missing: list[str] = field(default_factory=list)
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # per-video, e.g. "duration"

    def save(self, path: Path) -> None:
        torch.save(self.__dict__, path)

    @classmethod
    def load(cls, path: Path) -> ViewScores:
        return cls(**torch.load(path, map_location="cpu", weights_only=False))


def center_crop_index(crops: int) -> int:
    """Three crops are (start, centre, end) of the long side; one crop is the centre."""
    return 1 if crops == 3 else 0


def select_views(total_clips: int, total_crops: int, clips: int, crops: int) -> list[int]:
    """View indices of a Kx C subset: clips evenly spread over the K stored ones (one clip is
    the middle one, the same window a 1-clip evaluation samples when K is odd), the centre
    crop when one crop is asked."""
    if clips > total_clips or crops not in (1, total_crops):
        raise ValueError(
            f"cannot score {clips}x{crops} views from {total_clips}x{total_crops} stored ones"
        )
    if clips == 1:
        clip_ids = [total_clips // 2]
    else:
        clip_ids = np.linspace(0, total_clips - 1, clips).round().astype(int).tolist()
    crop_ids = [center_crop_index(total_crops)] if crops == 1 else list(range(total_crops))
    return [k * total_crops + c for k in clip_ids for c in crop_ids]


@dataclass
class Metrics:
    top1: float
    top5: float
    mean_class_acc: float
    per_class: list[float]  # NaN for a class with no test video
    confusion: np.ndarray  # (true, predicted) counts
    videos: int


def score(view_scores: ViewScores, clips: int | None = None, crops: int | None = None) -> Metrics:
    """Top-1/top-5/mean class accuracy (percent) of the averaged views."""
    clips = view_scores.clips if clips is None else clips
    crops = view_scores.crops if crops is None else crops
    views = select_views(view_scores.clips, view_scores.crops, clips, crops)
    probs = view_scores.scores[:, views].mean(dim=1)
    labels = view_scores.labels
    num_classes = len(view_scores.classes)
    if len(labels) == 0:
        raise RuntimeError("no test video could be scored")
    k = min(5, num_classes)
    topk = probs.topk(k, dim=1).indices
    correct1 = topk[:, 0] == labels
    correct5 = (topk == labels[:, None]).any(dim=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels.numpy(), topk[:, 0].numpy()), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / totals
    return Metrics(
        top1=100.0 * correct1.float().mean().item(),
        top5=100.0 * correct5.float().mean().item(),
        mean_class_acc=100.0 * float(np.nanmean(per_class)),
        per_class=(100.0 * per_class).tolist(),
        confusion=confusion,
        videos=len(labels),
    )


@torch.no_grad()
def run_views(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    clips: int,
    crops: int,
    classes: list[str],
    autocast: Callable[[], AbstractContextManager],
    on_step: Callable[[int], None] = lambda n: None,
) -> tuple[ViewScores, float]:
    """Score every view of this rank's videos, then gather all ranks' on every rank.

    Returns the scores and this run's clips/s (views per second over the world).
    """
    model.eval()
    rows: dict[int, tuple[torch.Tensor, int, dict[str, Any]]] = {}
    missing: list[str] = []
    start = time.perf_counter()
    views_done = 0
    for batch in loader:
        missing.extend(batch.get("missing", []))
        video = batch["video"]
        if video is None or len(video) == 0:
            continue
        b, v = video.shape[:2]
        with autocast():
            logits = model(video.flatten(0, 1).to(device, non_blocking=True))
        probs = logits.float().softmax(dim=1).view(b, v, -1).cpu()
        extras = {k: t for k, t in batch.items() if k not in _BATCH_KEYS}
        for j, index in enumerate(batch["index"].tolist()):
            extra = {k: t[j] for k, t in extras.items()}
            rows[index] = (probs[j], int(batch["label"][j]), extra)
        views_done += b * v
        on_step(b)
    seconds = time.perf_counter() - start
    parts = gather_objects((rows, missing, views_done, seconds))
    merged = {i: row for part in parts for i, row in part[0].items()}
    order = sorted(merged)
    num_classes = len(classes)
    scores = (
        torch.stack([merged[i][0] for i in order])
        if order
        else torch.empty(0, clips * crops, num_classes)
    )
    extra_keys = merged[order[0]][2].keys() if order else []
    result = ViewScores(
        scores=scores,
        labels=torch.tensor([merged[i][1] for i in order], dtype=torch.long),
        clips=clips,
        crops=crops,
        classes=classes,
        missing=sorted(p for part in parts for p in part[1]),
        extra={k: torch.stack([merged[i][2][k] for i in order]) for k in extra_keys},
    )
    total_views = sum(part[2] for part in parts)
    slowest = max(part[3] for part in parts)
    return result, total_views / slowest if slowest > 0 else 0.0


_BATCH_KEYS = {"video", "label", "index", "skipped", "missing"}


def write_reports(folder: Path, metrics: Metrics, classes: list[str], tag: str = "") -> None:
    """per_class.csv and confusion.csv/.png beside the checkpoint (tag: e.g. '-1x1')."""
    import pandas as pd
    from matplotlib.figure import Figure  # no pyplot: the global backend stays as it is

    folder.mkdir(parents=True, exist_ok=True)
    totals = metrics.confusion.sum(axis=1)
    pd.DataFrame({"class": classes, "videos": totals, "accuracy": metrics.per_class}).to_csv(
        folder / f"per_class{tag}.csv", index=False
    )
    pd.DataFrame(metrics.confusion, index=classes, columns=classes).to_csv(
        folder / f"confusion{tag}.csv"
    )
    size = min(12.0, 2.0 + 0.12 * len(classes))
    fig = Figure(figsize=(size, size), dpi=150)
    ax = fig.subplots()
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = metrics.confusion / np.maximum(totals[:, None], 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion (row-normalised), top-1 {metrics.top1:.1f}%")
    if len(classes) <= 30:
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
        ax.set_yticks(range(len(classes)), classes, fontsize=6)
    fig.tight_layout()
    fig.savefig(folder / f"confusion{tag}.png")
