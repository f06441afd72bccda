"""A live video stream through an executor's forward: frames arrive on the clock at `fps`,
a window of T frames every S frames is classified once its last frame has arrived.

Frame i arrives i/fps seconds after the stream starts, so window k (frames kS .. kS+T-1) is
ready at (kS + T - 1)/fps; one worker classifies the windows in order, each as soon as it is
ready and the previous one is done. A window's latency runs from its last frame's arrival
to its logits (waiting behind an earlier window counts); it is a miss when it is not done by
the time the next window is ready, the point at which frames start to pile up. The forward
itself is timed by `latency.time_one`; the stream's clock only says when a window is due.

With `source = "video"` each window's new frames are decoded from a video file through
`mtbench.data`'s reader when it is due, resized (short side), centre-cropped to the clip's
H x W and normalised as evaluation does, inside its latency (decoding counts); the network
still runs on the executor's clip, whose shape the prepared frames match. The file is the
user's (`stream_video`) or random frames written at the clip's size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtbench.executor import FORWARD, Executor
from mtbench.measure.contention import MIN_OVER_MEDIAN_MIN, ContentionMeter
from mtbench.measure.latency import kept_samples, time_one, timer_for
from mtbench.record import StreamRun

MAX_MISS_RATE = 0.01  # the stream search's bound: at most 1% of windows missed


@dataclass(frozen=True)
class StreamSettings:
    fps: float
    window: int  # T: the cell's clip frames
    stride: int  # S
    min_duration_s: float
    source: str = "frames"
    video: Path | None = None  # the file a decoding stream reads (`source = "video"`)
    size: tuple[int, int] | None = None  # the clip's (H, W), which decoded frames are made

    def windows(self) -> int:
        """Windows whose frames fit in `min_duration_s` of video, at least two."""
        frames = self.min_duration_s * self.fps
        return max(2, int((frames - self.window) // self.stride) + 1)

    def ready_s(self, k: int) -> float:
        """When window k's last frame arrives, seconds after the stream starts."""
        return (k * self.stride + self.window - 1) / self.fps


def decoder_of(settings: StreamSettings) -> Callable[[int], object]:
    """What a due window prepares first: nothing for pre-decoded frames, else its new frames
    (all T for the first window, S after) read from the video, wrapping at its end, and made
    the clip's H x W as evaluation makes one view (short side resized, centre crop, the
    data's default mean and std)."""
    if settings.source != "video":
        return lambda k: None
    if settings.video is None or settings.size is None:
        raise ValueError("a decoding stream needs its video and the clip's size")
    from mtbench.data.config import DataConfig
    from mtbench.data.decode import VideoSource
    from mtbench.data.transforms import eval_transform

    source, size = VideoSource(settings.video), settings.size

    def decode(k: int) -> object:
        first = 0 if k == 0 else (k - 1) * settings.stride + settings.window
        last = k * settings.stride + settings.window
        frames = source.read(np.arange(first, last) % source.num_frames)
        return eval_transform(frames, max(size), size, 1, DataConfig.mean, DataConfig.std)[0]

    return decode


SPIN_S = 0.002  # the last stretch of a wait is spun: a sleep wakes late by up to a tick


def wait_until(when: float) -> None:
    """Return at `when` (perf_counter seconds), as a frame's arrival would wake a reader."""
    if (ahead := when - time.perf_counter() - SPIN_S) > 0:
        time.sleep(ahead)
    while time.perf_counter() < when:
        pass


def run_stream(executor: Executor, settings: StreamSettings) -> StreamRun:
    """The stream at `settings.fps` through the executor's forward, start to end."""
    step = executor.steps[FORWARD]
    decode = decoder_of(settings)
    timer = timer_for(executor.device)
    meter = ContentionMeter(executor.threads or 1)
    n = settings.windows()
    latencies, forwards, done = [], [], []
    with executor.settings():
        step.enter()
        step.run()  # untimed: lazy initialisation is not the stream's first window
        start = time.perf_counter()
        for k in range(n):
            ready = start + settings.ready_s(k)
            wait_until(ready)
            decode(k)
            began = time.perf_counter()
            forwards.append(time_one(step.run, timer, meter))
            # The logits came a forward after it began (the meter's reads around it aside);
            # on CUDA the device time leaves the host's part out: the clock after it is read.
            on_cpu = executor.device.type != "cuda"
            finished = began + forwards[-1] / 1000.0 if on_cpu else time.perf_counter()
            done.append(finished - start)
            latencies.append((finished - ready) * 1000.0)
    return stream_result(settings, latencies, done, forwards)


def stream_result(
    settings: StreamSettings, latencies: list[float], done_s: list[float], forwards: list[float]
) -> StreamRun:
    """The record's `StreamRun` from each window's latency (ms) and finishing time (s after
    the start): a miss is a window done after the next one was ready."""
    n = len(latencies)
    misses = sum(done_s[k] > settings.ready_s(k + 1) for k in range(n))
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99]).tolist()
    # Frames per second the classifier got through once running: the stride's frames per
    # window over the time between the first and the last window's logits.
    between = done_s[-1] - done_s[0]
    return {
        "fps": settings.fps,
        "window": settings.window,
        "stride": settings.stride,
        "source": settings.source,  # type: ignore[typeddict-item]
        "windows": n,
        "misses": misses,
        "miss_rate": misses / n,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "max_ms": max(latencies),
        "sustained_fps": min(settings.fps, (n - 1) * settings.stride / between)
        if between > 0
        else settings.fps,
        "forward_ms": statistics.median(forwards),
        "latencies_ms": kept_samples(latencies),
    }


def speed_drift(stream: StreamRun, repeats_median_ms: float | None) -> list[str]:
    """Why a stream cannot stand beside its cell's repeats: its forwards' median left the band
    the repeats' own fastest must keep (`MIN_OVER_MEDIAN_MIN` of their median, either way),
    with nothing else running: the machine's own speed changed between them (a shared host's
    cores slow down and speed up), so a miss rate from the slower of them is not the model's."""
    if not repeats_median_ms:
        return []
    ratio = stream["forward_ms"] / repeats_median_ms
    if MIN_OVER_MEDIAN_MIN <= ratio <= 1 / MIN_OVER_MEDIAN_MIN:
        return []
    return [
        f"the stream's forwards (median {stream['forward_ms']:.1f} ms) ran at {ratio:.2f} times"
        f" the repeats' median ({repeats_median_ms:.1f} ms): the machine's speed changed"
    ]


def write_stream_video(path: Path, frames: int, height: int, width: int, fps: float) -> Path:
    """A video of `frames` random frames at the clip's size for `source = "video"` (H and W
    rounded up to even, as mp4's yuv420p needs); kept when it already exists."""
    if path.exists():
        return path
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.height, stream.width = height + height % 2, width + width % 2
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            image = rng.integers(0, 256, (stream.height, stream.width, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path
