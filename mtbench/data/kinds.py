"""The dataset registry: a kind is an annotation reader plus the frame source its samples use.

A new layout (or a generated dataset such as issue 12's "multiduration") is one more
`@register_dataset(...)` entry; the clip dataset, sampling and transforms never change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mtbench.data.config import DataConfig


@dataclass(frozen=True)
class Sample:
    """One listed video whose file exists (path None for generated data)."""

    path: Path | None
    label: int
    start: float | None = None  # seconds inside the file, when a reader knows a segment
    end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # numeric, passed on in each item
    key: str = ""  # the path as listed (relative to root), for reports and fingerprints
    num_frames: int = 0  # known from the list (frame folders); 0: ask the container


@dataclass
class Annotations:
    dataset: str
    classes: list[str]
    splits: dict[str, list[Sample]]  # "train", "test"
    missing: dict[str, list[str]]  # listed relative paths whose file does not exist


class FrameSource(Protocol):
    """Decoded frames of one sample: `read` returns uint8 (n, H, W, 3) for the indices."""

    num_frames: int

    def read(self, indices: np.ndarray) -> np.ndarray: ...


class Unreadable(Exception):
    """A video that cannot be opened or decoded, or has no frames (skipped and counted)."""


Reader = Callable[[DataConfig], Annotations]
SourceOpener = Callable[[DataConfig, Sample, str], FrameSource]


@dataclass(frozen=True)
class DatasetKind:
    name: str
    read: Reader
    open: SourceOpener  # (cfg, sample, split) -> FrameSource; raises Unreadable
    decoder: Callable[[DataConfig], str]  # decoder name and version, for the fingerprint
    flip: bool = True  # False where a mirror changes the class (left vs right motion)


DATASETS: dict[str, DatasetKind] = {}


def register_dataset(
    name: str,
    *,
    open: SourceOpener,
    decoder: Callable[[DataConfig], str],
    flip: bool = True,
) -> Callable[[Reader], Reader]:
    """Decorator: register an annotation reader as dataset kind `name`."""

    def wrap(read: Reader) -> Reader:
        DATASETS[name] = DatasetKind(name, read, open, decoder, flip)
        return read

    return wrap
