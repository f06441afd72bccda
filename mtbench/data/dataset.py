"""The one clip dataset: any registered kind's samples, decoded, sampled and transformed.

Training randomness is a function of (seed, epoch, index) only (`set_epoch` before each
epoch), never of a global RNG, so clips are the same with 0 or N DataLoader workers and
after a resume. A video that cannot be read is never a crash and never silent: in training
another sample is drawn in its place (deterministically) and the path is reported in the
item's "skipped"; at evaluation the item's video is None and the path is in "skipped".
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mtbench.data.annotations import read_annotations
from mtbench.data.config import DataConfig, DataError
from mtbench.data.decode import check_decoder
from mtbench.data.kinds import DATASETS, Annotations, Sample, Unreadable
from mtbench.data.sampling import eval_indices, train_indices
from mtbench.data.transforms import eval_transform, train_transform


class ClipDataset(Dataset):
    """Items are dicts: "video", "label", "index", "skipped", plus each sample's `extra`."""

    def __init__(
        self,
        cfg: DataConfig,
        annotations: Annotations,
        split: str,
        *,
        train: bool,
        seed: int,
        clips: int = 1,
        crops: int = 1,
    ) -> None:
        self.cfg = cfg
        self.kind = DATASETS[cfg.dataset]
        self.classes = annotations.classes
        self.samples: list[Sample] = annotations.splits[split]
        self.split = split
        self.train = train
        self.seed = seed
        self.clips = clips
        self.crops = crops
        self.epoch = 0
        self.skipped: list[str] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def _shape(self, key: int | tuple[int, int, int]) -> tuple[int, int, int, int, tuple]:
        """(index, T, interval, crop, resize range), with multigrid's (index, T', crop')."""
        cfg = self.cfg
        if isinstance(key, tuple):
            index, frames, crop = key
            # Multigrid keeps the clip's time span and the crop's share of the frame.
            interval = max(1, round(cfg.interval * cfg.frames / frames))
            scale = crop / cfg.crop
            resize = (round(cfg.resize[0] * scale), round(cfg.resize[-1] * scale))
            return index, frames, interval, crop, resize
        return key, cfg.frames, cfg.interval, cfg.crop, (cfg.resize[0], cfg.resize[-1])

    def _frames(self, sample: Sample, pick) -> np.ndarray:
        """Open the sample, choose indices with `pick(num_frames)`, read them."""
        source = self.kind.open(self.cfg, sample, self.split)
        try:
            indices = pick(source.num_frames)
            return source.read(np.concatenate(indices) if isinstance(indices, list) else indices)
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    def _item(self, index: int, video: torch.Tensor | None, skipped: tuple) -> dict[str, Any]:
        sample = self.samples[index]
        return {
            "video": video,
            "label": sample.label,
            "index": index,
            "skipped": skipped,
            **sample.extra,
        }

    def __getitem__(self, key: int | tuple[int, int, int]) -> dict[str, Any]:
        index, frames, interval, crop, resize = self._shape(key)
        cfg = self.cfg
        if not self.train:
            sample = self.samples[index]
            try:
                pick = partial(eval_indices, frames=frames, interval=interval, clips=self.clips)
                raw = self._frames(sample, pick)
            except Unreadable:
                self.skipped.append(sample.key)
                return self._item(index, None, (sample.key,))
            views = []
            for clip in raw.reshape(self.clips, frames, *raw.shape[1:]):
                views += eval_transform(clip, resize[0], crop, self.crops, cfg.mean, cfg.std)
            return self._item(index, torch.stack(views), ())
        skipped: list[str] = []
        for attempt in range(len(self.samples)):
            rng = np.random.default_rng((self.seed, self.epoch, index, attempt))
            if attempt:  # a replacement for an unreadable video, drawn from the same key
                index = int(rng.integers(len(self.samples)))
            sample = self.samples[index]
            try:
                pick = partial(train_indices, frames=frames, interval=interval, rng=rng)
                raw = self._frames(sample, pick)
            except Unreadable:
                skipped.append(sample.key)
                self.skipped.append(sample.key)
                continue
            flip = self.kind.flip
            video = train_transform(raw, resize, crop, cfg.mean, cfg.std, rng, flip=flip)
            return self._item(index, video, tuple(skipped))
        raise DataError(
            f"{cfg.root or cfg.dataset}: no readable video in {len(self.samples)} draws"
            f" (first unreadable: {skipped[0]})"
        )


def build_dataset(
    cfg: DataConfig,
    split: str,
    *,
    train: bool,
    seed: int,
    clips: int = 1,
    crops: int = 1,
    annotations: Annotations | None = None,
) -> ClipDataset:
    """The clip dataset of one split ("train" or "test"); raises DataError on bad input."""
    if split not in ("train", "test"):
        raise DataError(f"split {split!r}: choose train or test")
    if crops not in (1, 3):
        raise DataError(f"crops {crops}: choose 1 or 3")
    if clips < 1 or cfg.frames < 1 or cfg.interval < 1 or cfg.crop < 1:
        raise DataError("clips, frames, interval and crop must be positive")
    check_decoder(cfg)
    annotations = annotations or read_annotations(cfg)
    if not annotations.splits[split]:
        missing = annotations.missing[split]
        raise DataError(
            f"{cfg.root}: none of the {len(missing)} videos listed for {split} exist"
            f" (first: {missing[0] if missing else 'none'})"
        )
    return ClipDataset(cfg, annotations, split, train=train, seed=seed, clips=clips, crops=crops)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a batch; items whose video is None are dropped and listed under "missing"."""
    kept = [item for item in items if item["video"] is not None]
    batch: dict[str, Any] = {
        "missing": [p for item in items if item["video"] is None for p in item["skipped"]],
        "skipped": [p for item in items for p in item["skipped"]],
    }
    if kept:
        batch["video"] = torch.stack([item["video"] for item in kept])
    else:
        batch["video"] = torch.empty(0)
    for key in kept[0] if kept else ("label", "index"):
        if key in ("video", "skipped"):
            continue
        dtype = torch.int64 if key in ("label", "index") else None
        batch[key] = torch.as_tensor([item[key] for item in kept], dtype=dtype)
    return batch
