"""Which frame indices a clip uses: MMAction2's `SampleFrames` vocabulary (T, interval, K).

A clip spans `(T - 1) * interval + 1` frames. A video shorter than that loops: indices wrap
around modulo its length (PySlowFast and MMAction2 both loop rather than fail), so every
video gives a clip of exactly T frames.
"""

from __future__ import annotations

import numpy as np


def span(frames: int, interval: int) -> int:
    return (frames - 1) * interval + 1


def clip_indices(start: int, num_frames: int, frames: int, interval: int) -> np.ndarray:
    return (start + np.arange(frames) * interval) % num_frames


def train_indices(
    num_frames: int, frames: int, interval: int, rng: np.random.Generator
) -> np.ndarray:
    """One clip at a random start (any start in a video shorter than the span: it loops)."""
    long_enough = num_frames >= span(frames, interval)
    room = num_frames - span(frames, interval) + 1 if long_enough else num_frames
    return clip_indices(int(rng.integers(room)), num_frames, frames, interval)


def eval_indices(num_frames: int, frames: int, interval: int, clips: int) -> list[np.ndarray]:
    """K clips whose starts are evenly spaced, each at the centre of its 1/K of the room.

    As MMAction2's test-mode `SampleFrames`; in a video shorter than the span the starts
    spread over the whole (looped) video, so the K windows stay distinct when it has at
    least K frames.
    """
    room = num_frames - span(frames, interval) + 1
    if room < clips:
        room = num_frames
    step = room / clips
    starts = (np.arange(clips) * step + step / 2).astype(int)
    return [clip_indices(int(s), num_frames, frames, interval) for s in starts]
