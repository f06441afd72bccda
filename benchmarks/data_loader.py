"""Loader throughput at 16x112x112 beside MTNet-32's training throughput, on this machine.

Writes a folder of 320x240 videos (half mp4/h264, half avi/mpeg4, 25 fps) to a temp dir,
then measures: clips/s of the training loader (random start, 16 frames at interval 2,
short side 128..160, random 112 crop, flip, normalise; batch 8) with 0, 1 and 2 DataLoader
workers; decode frames/s of a whole video per container; and MTNet-32's training clips/s
(forward + backward + SGD step, batch 8). The issue's target: loader >= 3x MTNet-32.

Run: python benchmarks/data_loader.py [--videos N] [--frames N] [--batches N]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader

from mtbench.data import DataConfig, build_dataset, collate
from mtbench.data.decode import VideoSource
from mtbench.registry import create_model

BATCH = 8


def write_video(path: Path, frames: int, codec: str, rng: np.random.Generator) -> None:
    """A moving gradient plus noise: compresses like real footage rather than a flat frame."""
    ramp = np.add.outer(np.arange(240), np.arange(320)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for t in range(frames):
            level = (ramp + 4 * t) % 256
            noise = rng.integers(0, 24, size=(240, 320, 3))
            image = np.clip(level[..., None] + noise, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_folder(folder: Path, videos: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(videos):
        ext, codec = (".mp4", "libx264") if i % 2 == 0 else (".avi", "mpeg4")
        write_video(folder / f"v{i:03d}{ext}", frames, codec, rng)
        lines.append(f"v{i:03d}{ext} {i % 4}")
    for split in ("train", "test"):
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


def loader_clips_per_s(cfg: DataConfig, workers: int, batches: int) -> float:
    data = build_dataset(cfg, "train", train=True, seed=0)
    loader = DataLoader(
        data,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=workers > 0,
    )
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start, clips = time.perf_counter(), 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        clips += batch["video"].shape[0]
    return clips / (time.perf_counter() - start)


def decode_frames_per_s(path: Path, repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        source = VideoSource(path)
        source.read(np.arange(source.num_frames))
        source.close()
        best = max(best, source.num_frames / (time.perf_counter() - start))
    return best


def training_clips_per_s(steps: int) -> float:
    model = create_model("mtnet-32", num_classes=101)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 3, 16, 112, 112)
    y = torch.randint(0, 101, (BATCH,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150, help="frames per video (6 s)")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--train-steps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, args.videos, args.frames)
        cfg = DataConfig("list", root=tmp, annotations=tmp)
        print(
            f"{platform.processor() or platform.machine()}, torch {torch.__version__},"
            f" torch threads {torch.get_num_threads()}, PyAV {av.__version__}"
        )
        print(f"{args.videos} videos of {args.frames} frames at 320x240, batch {BATCH}")
        print("| measure | value |\n|---|---|")
        for ext in (".mp4", ".avi"):
            path = next(folder.glob(f"*{ext}"))
            print(f"| decode, whole {ext} video | {decode_frames_per_s(path):.0f} frames/s |")
        for workers in (0, 1, 2):
            rate = loader_clips_per_s(cfg, workers, args.batches)
            print(f"| loader, {workers} workers, 16x112x112 | {rate:.1f} clips/s |")
        rate = training_clips_per_s(args.train_steps)
        print(f"| MTNet-32 training (fwd+bwd+SGD), 16x112x112 | {rate:.2f} clips/s |")


if __name__ == "__main__":
    main()
