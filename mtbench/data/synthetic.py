"""Synthetic clips, generated on the fly: learnable by motion only, any T/H/W, no disk.

Each source video (`source_frames` x `source_size`) shows one square moving over a static
low-frequency texture. The class sets the motion: one of 8 directions, one of 3 speeds, and
straight (wrapping around the frame edges) or oscillating back and forth. Colour, size,
start position, texture and small speed/direction jitter are random per video, so no
single frame tells the class. Everything is drawn from (generator seed, split, index), and
the frames then take the same sampling and transforms path as decoded videos. Horizontal
flips are off for this kind: a mirror turns "left" into "right".
"""

from __future__ import annotations

import zlib

import numpy as np

from mtbench.data.config import DataConfig, DataError
from mtbench.data.kinds import Annotations, Sample, register_dataset

GENERATOR_VERSION = 1
SEED = 20_240_817  # the dataset's own seed: training seeds vary the clips drawn, not the data
# Ordered so that the first classes differ most: a 4-class set moves right, left, down, up.
DIRECTIONS = ("right", "left", "down", "up", "down-right", "up-left", "down-left", "up-right")
ANGLES = (0, 180, 90, 270, 45, 225, 135, 315)  # degrees, image coordinates (y down)
SPEEDS = ("slow", "medium", "fast")
PATTERNS = ("straight", "oscillating")
MAX_CLASSES = len(DIRECTIONS) * len(SPEEDS) * len(PATTERNS)


def class_motion(label: int) -> tuple[int, int, int]:
    """(direction, speed, pattern) indices of a class."""
    direction = label % len(DIRECTIONS)
    speed = (label // len(DIRECTIONS)) % len(SPEEDS)
    return direction, speed, label // (len(DIRECTIONS) * len(SPEEDS))


def class_name(label: int) -> str:
    d, s, p = class_motion(label)
    return f"{DIRECTIONS[d]}-{SPEEDS[s]}-{PATTERNS[p]}"


class SyntheticSource:
    """One generated video; `read` renders only the requested frames."""

    def __init__(self, cfg: DataConfig, sample: Sample) -> None:
        self.num_frames = cfg.source_frames
        h, w = self.size = cfg.source_size
        rng = np.random.default_rng((SEED, zlib.crc32(sample.key.encode())))
        cells = rng.uniform(30, 140, size=(-(-h // 8), -(-w // 8), 3)).astype(np.uint8)
        self.background = np.repeat(np.repeat(cells, 8, axis=0), 8, axis=1)[:h, :w]
        self.colour = rng.uniform(150, 255, size=3).astype(np.uint8)
        self.half = rng.uniform(0.1, 0.18) * min(h, w)
        self.origin = rng.uniform((0, 0), (h, w))
        direction, speed, self.pattern = class_motion(sample.label)
        angle = np.deg2rad(ANGLES[direction]) + rng.uniform(-0.15, 0.15)
        # Per frame 1/32, 2/32 or 3/32 of the short side: at interval 2 a step stays under
        # a quarter of the frame, so the wrap-around never reverses the apparent direction.
        pixels = (1 + speed) * min(h, w) / 32 * rng.uniform(0.85, 1.15)
        self.velocity = pixels * np.array([np.sin(angle), np.cos(angle)])

    def centres(self, t: np.ndarray) -> np.ndarray:
        if self.pattern:  # oscillate over one period of 16 frames, amplitude of ~2.5 speeds
            travel = 2.5 * np.sin(2 * np.pi * t / 16)
        else:
            travel = t.astype(float)
        return self.origin + travel[:, None] * self.velocity

    def read(self, indices: np.ndarray) -> np.ndarray:
        h, w = self.size
        centres = self.centres(np.asarray(indices))
        dy = (np.arange(h)[None, :] - centres[:, :1] + h / 2) % h - h / 2
        dx = (np.arange(w)[None, :] - centres[:, 1:] + w / 2) % w - w / 2
        inside = (np.abs(dy) < self.half)[:, :, None] & (np.abs(dx) < self.half)[:, None, :]
        return np.where(inside[..., None], self.colour, self.background)


def open_synthetic(cfg: DataConfig, sample: Sample, split: str) -> SyntheticSource:
    return SyntheticSource(cfg, sample)


def synthetic_decoder(cfg: DataConfig) -> str:
    h, w = cfg.source_size
    return (
        f"synthetic-v{GENERATOR_VERSION}-c{cfg.num_classes}-n{cfg.videos_per_class}"
        f"-{cfg.test_videos_per_class}-f{cfg.source_frames}-{h}x{w}"
    )


@register_dataset("synthetic", open=open_synthetic, decoder=synthetic_decoder, flip=False)
def read_synthetic(cfg: DataConfig) -> Annotations:
    """Balanced splits: video i of a split has label i % num_classes."""
    if not 2 <= cfg.num_classes <= MAX_CLASSES:
        raise DataError(f"synthetic: num_classes {cfg.num_classes} must be in 2..{MAX_CLASSES}")
    if cfg.source_frames < 1 or min(cfg.source_size) < 8:
        raise DataError("synthetic: source_frames must be >= 1 and source_size >= 8 x 8")
    counts = {"train": cfg.videos_per_class, "test": cfg.test_videos_per_class}
    splits = {
        split: [
            Sample(path=None, label=i % cfg.num_classes, key=f"{split}/{i}")
            for i in range(cfg.num_classes * per_class)
        ]
        for split, per_class in counts.items()
    }
    classes = [class_name(c) for c in range(cfg.num_classes)]
    return Annotations(cfg.dataset, classes, splits, {"train": [], "test": []})
