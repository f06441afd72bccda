"""Multi-duration motion clips (issue 12): one action, performed over a 4x range of durations.

The MTNet paper's premise (its Figure 1) is that an action is performed at very different
durations. Here every video shows one actor performing its class's motion over `duration`
frames (log-uniform in `min_duration`..`max_duration`) at a random start inside the clip,
still before and after; shape, texture, colour, scale, position, track direction, speed
profile jitter, background texture, drifting distractors and pixel noise are random per
video and independent of the class.

Classes come in time-reversal pairs: the second class of a pair is the first one played
backwards (speed-up / slow-down, approach / recede, orbit-cw / orbit-ccw, wave-growing /
wave-fading, bounce-in / bounce-out). Since track direction and start time are symmetric,
the two classes of a pair show exactly the same distribution of frames, positions and
scales; only their order differs. A model that sees frames without their order (TSN-style
averaging) can at best tell the pair, so its ceiling is 50%; a model that sees motion can
reach 100%. The video is exactly one clip long, `(frames - 1) * interval + 1` frames, so
the action is always inside the clip (evaluate with `clips = 1`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from mtbench.data.config import DataConfig, DataError
from mtbench.data.kinds import Annotations, Sample, register_dataset
from mtbench.data.sampling import span

GENERATOR_VERSION = 1
SEED = 20_250_312  # the dataset's own seed: training seeds vary the clips drawn, not the data
BUCKETS = ("short", "medium", "long")
SHAPES = ("square", "disc", "diamond")
Profile = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _speed_up(u: np.ndarray):
    return -1 + 2 * u**2, 0 * u, 1 + 0 * u


def _approach(u: np.ndarray):
    return 0.4 * (2 * u - 1), 0 * u, 0.45 * 3.5**u  # scale grows 3.5x while drifting


def _orbit(u: np.ndarray):
    angle = 1.5 * np.pi * u  # three quarters of a circle
    return np.cos(angle), np.sin(angle), 1 + 0 * u


def _wave(u: np.ndarray):
    return u * np.sin(2 * np.pi * u), 0 * u, 1 + 0 * u  # one swing, amplitude 0 -> 1


def _bounce(u: np.ndarray):
    # Constant speed: -1 -> +1 in the first 2/3, rebounds to the middle in the last 1/3.
    return np.where(u < 2 / 3, -1 + 3 * u, 1 - 3 * (u - 2 / 3)), 0 * u, 1 + 0 * u


# (name played forwards, name played backwards, profile): u in [0, 1] -> (along the track,
# across it, scale factor); positions are in units of the track's half length.
PAIRS: tuple[tuple[str, str, Profile], ...] = (
    ("speed-up", "slow-down", _speed_up),
    ("approach", "recede", _approach),
    ("orbit-cw", "orbit-ccw", _orbit),
    ("wave-growing", "wave-fading", _wave),
    ("bounce-in", "bounce-out", _bounce),
)
CLASSES = tuple(name for pair in PAIRS for name in pair[:2])


def video_frames(cfg: DataConfig) -> int:
    """Frames of every generated video: exactly one clip's span."""
    return span(cfg.frames, cfg.interval)


def _rng(key: str, stream: int) -> np.random.Generator:
    return np.random.default_rng((SEED, zlib.crc32(key.encode()), stream))


def draw_duration(cfg: DataConfig, key: str) -> int:
    """The action's length in frames, log-uniform over the knobs' range (balanced buckets)."""
    low, high = np.log(cfg.min_duration), np.log(cfg.max_duration)
    return int(np.rint(np.exp(_rng(key, 0).uniform(low, high))))


def bucket_edges(cfg: DataConfig) -> tuple[float, float]:
    """Short / medium / long are geometric thirds of [min_duration, max_duration]: with
    log-uniform durations each bucket holds about a third of the videos (4..16: 6.35, 10.1)."""
    ratio = cfg.max_duration / cfg.min_duration
    return cfg.min_duration * ratio ** (1 / 3), cfg.min_duration * ratio ** (2 / 3)


def duration_bucket(cfg: DataConfig, duration: int) -> str:
    first, second = bucket_edges(cfg)
    return BUCKETS[int(duration >= first) + int(duration >= second)]


def _texture(rng: np.random.Generator, h: int, w: int, low: int, high: int) -> np.ndarray:
    """Random blocks of a random size: a static, low-frequency background."""
    cell = int(rng.integers(3, 9))
    blocks = rng.uniform(low, high, size=(-(-h // cell), -(-w // cell), 3)).astype(np.uint8)
    return np.repeat(np.repeat(blocks, cell, axis=0), cell, axis=1)[:h, :w]


def _inside(shape: int, dy: np.ndarray, dx: np.ndarray, half: np.ndarray) -> np.ndarray:
    if shape == 0:
        return np.maximum(np.abs(dy), np.abs(dx)) < half
    if shape == 1:
        return dy**2 + dx**2 < (1.15 * half) ** 2
    return np.abs(dy) + np.abs(dx) < 1.4 * half


class Body:
    """One rendered object: shape, colours, striped or solid, centre and half size per frame."""

    def __init__(self, rng: np.random.Generator, centres: np.ndarray, halves: np.ndarray):
        self.shape = int(rng.integers(len(SHAPES)))
        self.colours = rng.uniform(150, 255, size=(2, 3)).astype(np.uint8)
        self.stripes = rng.uniform(2, 5) if rng.random() < 0.5 else 0.0
        self.centres = centres  # (frames, 2): y, x
        self.halves = halves  # (frames,)

    def draw(self, frames: np.ndarray, indices: np.ndarray) -> None:
        h, w = frames.shape[1:3]
        for out, t in zip(frames, indices, strict=True):
            dy = np.arange(h)[:, None] - self.centres[t, 0]
            dx = np.arange(w)[None, :] - self.centres[t, 1]
            mask = _inside(self.shape, dy, dx, self.halves[t])
            colour = self.colours[0]
            if self.stripes:  # texture in the object's own coordinates: it moves with it
                band = ((dy + dx) // self.stripes % 2).astype(bool)
                colour = np.where(band[..., None], self.colours[0], self.colours[1])[mask]
            out[mask] = colour


class MultiDurationSource:
    """One generated video; `read` renders only the requested frames."""

    def __init__(self, cfg: DataConfig, sample: Sample) -> None:
        self.num_frames = n = video_frames(cfg)
        h, w = self.size = cfg.source_size
        self.noise = cfg.noise
        self.key = sample.key
        rng = _rng(sample.key, 1)
        self.background = _texture(rng, h, w, 20, 130)
        duration = int(sample.extra["duration"])
        start = int(rng.integers(n - duration + 1))
        warp = rng.uniform(-0.5, 0.5)  # speed jitter: a monotone warp of the action's time
        u = np.clip((np.arange(n) - start) / (duration - 1), 0, 1)
        u = u + warp * u * (1 - u)
        along, across, scale = PAIRS[sample.label // 2][2](1 - u if sample.label % 2 else u)
        short = min(h, w)
        length = rng.uniform(0.22, 0.32) * short  # the track's half length
        angle = rng.uniform(0, 2 * np.pi)
        axis = np.array([np.sin(angle), np.cos(angle)])
        normal = np.array([axis[1], -axis[0]])
        centre = np.array([h, w]) / 2 + rng.uniform(-0.12, 0.12, size=2) * short
        path = centre + length * (along[:, None] * axis + across[:, None] * normal)
        self.bodies = [Body(rng, path, rng.uniform(0.07, 0.11) * short * scale)]
        for _ in range(cfg.distractors):  # smaller, drifting at constant speed all clip long
            step = rng.uniform(-0.015, 0.015, size=2) * short
            drift = rng.uniform((0, 0), (h, w)) + np.arange(n)[:, None] * step
            self.bodies.insert(0, Body(rng, drift, np.full(n, rng.uniform(0.04, 0.06) * short)))

    def read(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        frames = np.repeat(self.background[None], len(indices), axis=0)
        for body in self.bodies:
            body.draw(frames, indices)
        if self.noise > 0:
            for out, t in zip(frames, indices, strict=True):
                grain = _rng(self.key, 2 + int(t)).normal(0, self.noise, size=out.shape)
                out[:] = np.clip(out + grain, 0, 255)
        return frames


def open_multiduration(cfg: DataConfig, sample: Sample, split: str) -> MultiDurationSource:
    return MultiDurationSource(cfg, sample)


def multiduration_decoder(cfg: DataConfig) -> str:
    h, w = cfg.source_size
    return (
        f"multiduration-v{GENERATOR_VERSION}-c{cfg.num_classes}-n{cfg.videos_per_class}"
        f"-{cfg.test_videos_per_class}-f{video_frames(cfg)}-{h}x{w}"
        f"-d{cfg.min_duration}-{cfg.max_duration}-x{cfg.distractors}-s{cfg.noise:g}"
    )


def _check(cfg: DataConfig) -> None:
    n = video_frames(cfg)
    if not 2 <= cfg.num_classes <= len(CLASSES):
        raise DataError(
            f"multiduration: num_classes {cfg.num_classes} must be in 2..{len(CLASSES)}"
        )
    if not 2 <= cfg.min_duration <= cfg.max_duration <= n:
        raise DataError(
            f"multiduration: need 2 <= min_duration ({cfg.min_duration}) <= max_duration"
            f" ({cfg.max_duration}) <= the clip span, (frames - 1) * interval + 1 = {n}"
        )
    if cfg.distractors < 0 or cfg.noise < 0 or min(cfg.source_size) < 16:
        raise DataError("multiduration: distractors and noise must be >= 0, source_size >= 16")


@register_dataset(
    "multiduration", open=open_multiduration, decoder=multiduration_decoder, flip=False
)
def read_multiduration(cfg: DataConfig) -> Annotations:
    """Balanced splits: video i of a split has label i % num_classes and carries its duration."""
    _check(cfg)
    counts = {"train": cfg.videos_per_class, "test": cfg.test_videos_per_class}
    splits = {}
    for split, per_class in counts.items():
        keys = [f"{split}/{i}" for i in range(cfg.num_classes * per_class)]
        splits[split] = [
            Sample(None, i % cfg.num_classes, extra={"duration": draw_duration(cfg, k)}, key=k)
            for i, k in enumerate(keys)
        ]
    classes = list(CLASSES[: cfg.num_classes])
    return Annotations(cfg.dataset, classes, splits, {"train": [], "test": []})
