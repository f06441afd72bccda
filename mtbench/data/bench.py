"""How many clips per CPU-second each video reader decodes (`mtbench data bench DIR`).

A clip is the training sampler's: `frames` frames at `interval` from a random start of a
random video; every reader opens the file for each clip, as a DataLoader worker does. The
readers take the same clips interleaved clip by clip, so load that comes and goes touches
all of them alike, and each clip's cost is the process CPU time it took (all decoder
threads counted), which other processes' load does not inflate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from mtbench.data.decode import VIDEO_EXTENSIONS, VideoSource
from mtbench.data.sampling import train_indices

Reader = Callable[[Path, np.ndarray, int], np.ndarray]


def mtbench_reader(path: Path, indices: np.ndarray, threads: int) -> np.ndarray:
    source = VideoSource(path, threads=threads)
    try:
        return source.read(indices % source.num_frames)
    finally:
        source.close()


def _torchcodec(seek_mode: str) -> Reader:
    def read(path: Path, indices: np.ndarray, threads: int) -> np.ndarray:
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(
            str(path), dimension_order="NHWC", num_ffmpeg_threads=threads, seek_mode=seek_mode
        )
        n = decoder.metadata.num_frames
        return decoder.get_frames_at(indices=[int(i) % n for i in indices]).data.numpy()

    return read


def decord_reader(path: Path, indices: np.ndarray, threads: int) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path), num_threads=threads)
    return reader.get_batch([int(i) % len(reader) for i in indices]).asnumpy()


def mmaction_pyav_reader(path: Path, indices: np.ndarray, threads: int) -> np.ndarray:
    """MMAction2's PyAVDecode: decode from the start, every frame to RGB, up to the last."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = "AUTO", threads
        images, last = [], int(indices.max())
        for frame in container.decode(stream):
            if len(images) > last + 1:
                break
            images.append(frame.to_rgb().to_ndarray())
    return np.stack([images[int(i) % len(images)] for i in indices])


def importable(module: str) -> bool:
    try:
        __import__(module)
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def available_readers() -> dict[str, Reader]:
    """Every reader this machine can run, mtbench's first (the reference of the ratios)."""
    readers: dict[str, Reader] = {"mtbench-pyav": mtbench_reader}
    if importable("torchcodec"):
        readers["torchcodec-exact"] = _torchcodec("exact")
        readers["torchcodec-approx"] = _torchcodec("approximate")
    if importable("decord"):
        readers["decord"] = decord_reader
    readers["mmaction2-pyav"] = mmaction_pyav_reader
    return readers


@dataclass
class ReaderResult:
    name: str
    cpu_s: list[float]
    wall_s: list[float]
    same: int  # clips whose frames equal mtbench's reader's, pixel for pixel

    def row(self, reference: float) -> dict[str, float | str | int]:
        cpu = float(np.mean(self.cpu_s))
        return {
            "reader": self.name,
            "clips": len(self.cpu_s),
            "cpu_ms_per_clip": 1000 * cpu,
            "clips_per_cpu_s": 1 / cpu,
            "vs_mtbench": reference / cpu,
            "wall_ms_per_clip": 1000 * float(np.mean(self.wall_s)),
            "same_frames_as_mtbench": self.same,
        }


def video_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)


def _clips(paths: list[Path], clips: int, frames: int, interval: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    counts = {}
    work = []
    for _ in range(clips):
        path = paths[int(rng.integers(len(paths)))]
        if path not in counts:
            source = VideoSource(path, threads=1)
            counts[path] = source.num_frames
            source.close()
        work.append((path, train_indices(counts[path], frames, interval, rng)))
    return work


def bench(
    paths: list[Path],
    readers: dict[str, Reader],
    *,
    clips: int = 120,
    frames: int = 16,
    interval: int = 1,
    threads: int = 1,
    seed: int = 0,
) -> list[dict[str, float | str | int]]:
    """One row per reader: CPU ms per clip, clips per CPU-second, ratio to mtbench's."""
    work = _clips(paths, clips, frames, interval, seed)
    results = {name: ReaderResult(name, [], [], 0) for name in readers}
    for path, indices in work:
        reference = None
        for name, read in readers.items():
            wall, cpu = time.perf_counter(), time.process_time()
            got = read(path, indices, threads)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            results[name].cpu_s.append(cpu)
            results[name].wall_s.append(wall)
            reference = got if reference is None else reference
            results[name].same += int(np.array_equal(got, reference))
    first = float(np.mean(next(iter(results.values())).cpu_s))
    return [r.row(first) for r in results.values()]
