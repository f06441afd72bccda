"""Generated data written as files, so tools other than mtbench can train on the same clips.

`write_ucf101(cfg, out)` renders every video of a generated kind (the clip dataset's own frame
source, nothing re-implemented) to mp4 in UCF-101's layout, with the official split files
(`classInd.txt`, `trainlist01.txt`, `testlist01.txt`, CRLF line ends like the originals) and
`durations.csv` (video, class, duration in frames). `dataset = "ucf101"` reads it back.
"""

from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np

from mtbench.data.annotations import read_annotations
from mtbench.data.config import DataConfig, DataError
from mtbench.data.kinds import DATASETS

VIDEOS, ANNOTATIONS, DURATIONS = "videos", "annotations", "durations.csv"


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}  # small objects and noise survive the compression
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def _crlf(path: Path, lines: list[str]) -> None:
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())


def write_ucf101(cfg: DataConfig, out: Path, fps: int = 25) -> dict[str, int]:
    """Write `out/videos/<Class>/v_<Class>_gNN_c01.mp4`, `out/annotations/*.txt` and
    `out/durations.csv`; returns the number of videos per split."""
    if any(s % 2 for s in cfg.source_size):
        raise DataError(f"source size {cfg.source_size}: H and W must be even for mp4 (yuv420p)")
    annotations = read_annotations(cfg)
    kind = DATASETS[cfg.dataset]
    classes = annotations.classes
    lists: dict[str, list[str]] = {"train": [], "test": []}
    durations = []
    groups = [0] * len(classes)  # UCF-101's gNN numbers a class's videos; train comes first
    for split, samples in annotations.splits.items():
        for sample in samples:
            name = classes[sample.label]
            groups[sample.label] += 1
            rel = f"{name}/v_{name}_g{groups[sample.label]:02d}_c01.mp4"
            source = kind.open(cfg, sample, split)
            _write_mp4(out / VIDEOS / rel, source.read(np.arange(source.num_frames)), fps)
            lists[split].append(f"{rel} {sample.label + 1}" if split == "train" else rel)
            durations.append((rel, name, sample.extra.get("duration", source.num_frames)))
    folder = out / ANNOTATIONS
    folder.mkdir(parents=True, exist_ok=True)
    _crlf(folder / "classInd.txt", [f"{i + 1} {name}" for i, name in enumerate(classes)])
    _crlf(folder / "trainlist01.txt", lists["train"])
    _crlf(folder / "testlist01.txt", lists["test"])
    with open(out / DURATIONS, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video", "class", "duration"])
        writer.writerows(durations)
    return {split: len(lines) for split, lines in lists.items()}
