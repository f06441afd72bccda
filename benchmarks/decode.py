"""Video readers compared on clips per CPU-second, and the loader's worker x thread splits.

Writes (with the system `ffmpeg`) 20 ten-second 340x256 h264 mp4 videos at libx264's
default keyframe interval and 20 ten-second 320x240 MPEG-4 AVI videos in UCF-101's styles
(no B-frames, B-frames, Xvid packed B-frames; a keyframe every 300 frames), then:

1. readers: 16-frame clips at random starts (`mtbench.data.bench`: every reader on the same
   clips, interleaved clip by clip, CPU time per clip) at 1 and 2 decoder threads: mtbench's
   PyAV reader (and as shipped before, with FFmpeg's default thread count), torchcodec
   (exact and approximate seek), decord, MMAction2's no-seek PyAV loop;
2. loader: training clips per second (decode + resize + crop + flip + normalise, batch 8)
   for DataLoader workers x decoder threads on this machine's cores, `decode_threads = 0`
   (the default: cores / workers) among them.

Run: python benchmarks/decode.py [--clips 120] [--batches 16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mtbench.data import DataConfig, build_dataset, collate
from mtbench.data.bench import available_readers, bench, mtbench_reader, video_files
from mtbench.data.decode import decode_threads

NOISE = "noise=alls=12:allf=t+u"
AVI_CODECS = (["mpeg4", "-bf", "0"], ["mpeg4", "-bf", "2"], ["libxvid", "-bf", "2"])


def ffmpeg(source: str, args: list[str], path: Path) -> None:
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", "10", *args]
    subprocess.run([*command, "-pix_fmt", "yuv420p", str(path)], check=True)


def write_sets(folder: Path) -> tuple[Path, Path]:
    """The h264 set and the AVI set (kept when already written)."""
    h264, avi = folder / "h264", folder / "avi"
    for sub in (h264, avi):
        sub.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        hue = f"hue=H={i * 0.3:.1f}"  # a different picture per video
        if not (h264 / f"v{i:02d}.mp4").exists():
            source = f"testsrc2=size=340x256:rate=25,{NOISE},{hue}"
            ffmpeg(source, ["-c:v", "libx264"], h264 / f"v{i:02d}.mp4")
        if not (avi / f"v{i:02d}.avi").exists():
            source = f"testsrc2=size=320x240:rate=25,{NOISE},{hue}"
            codec = ["-c:v", *AVI_CODECS[i % 3], "-g", "300", "-q:v", "4"]
            ffmpeg(source, codec, avi / f"v{i:02d}.avi")
    return h264, avi


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    print("| reader | CPU ms / clip | clips / CPU-s | vs mtbench | wall ms / clip | same |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['reader']} | {r['cpu_ms_per_clip']:.1f} | {r['clips_per_cpu_s']:.1f} |"
            f" {r['vs_mtbench']:.2f}x | {r['wall_ms_per_clip']:.1f} |"
            f" {r['same_frames_as_mtbench']}/{r['clips']} |"
        )


def readers_table(folder: Path, clips: int, threads: int) -> None:
    readers = available_readers()
    if threads == 1:  # mtbench as shipped before issue 30: FFmpeg's default thread count
        readers["mtbench-pyav, FFmpeg threads"] = lambda p, i, t: mtbench_reader(p, i, 0)
    rows = bench(video_files(folder), readers, clips=clips, threads=threads)
    load = os.getloadavg()[0]
    print_rows(f"{folder.name}: {clips} clips, {threads} thread(s), load {load:.2f}", rows)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the DataLoader's workers)."""
    own, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def loader_rate(root: Path, workers: int, threads: int, batches: int) -> tuple[float, float]:
    """Training clips per second through the DataLoader, from creating the iterator (worker
    start-up included, the same for every split) to the last of `batches` batches, and clips
    per CPU-second (workers included): the rate other load on the machine does not skew."""
    lines = [f"{p.name},{i % 4}" for i, p in enumerate(video_files(root))]
    for split in ("train", "test"):
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    cfg = DataConfig("list", root=str(root), workers=workers, decode_threads=threads)
    data = build_dataset(cfg, "train", train=True, seed=0)
    sampler = torch.utils.data.RandomSampler(
        data, num_samples=8 * batches, generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(
        data, batch_size=8, sampler=sampler, num_workers=workers, collate_fn=collate
    )
    start, cpu = time.perf_counter(), cpu_seconds()
    seen = sum(len(batch["label"]) for batch in loader)
    return seen / (time.perf_counter() - start), seen / (cpu_seconds() - cpu)


def loader_table(root: Path, batches: int) -> None:
    cores = os.cpu_count() or 1
    splits = [(w, t) for w in (0, 1, 2) for t in (1, 2)] + [(2, cores + 1), (2, 0)]
    print(f"\nloader ({root.name}, batch 8, {batches} batches, {cores} cores)\n")
    print("| workers | decoder threads | clips / s | clips / CPU-s | load |")
    print("|---:|---:|---:|---:|---:|")
    for workers, threads in splits:
        rate, per_cpu = loader_rate(root, workers, threads, batches)
        used = decode_threads(DataConfig("list", workers=workers, decode_threads=threads))
        name = f"{used} (default: cores / workers)" if threads == 0 else str(threads)
        name += " (FFmpeg's own default)" if threads == cores + 1 else ""
        print(f"| {workers} | {name} | {rate:.1f} | {per_cpu:.1f} | {os.getloadavg()[0]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=120)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the videos here")
    parser.add_argument("--only", choices=("h264", "avi", "loader"), help="one part only")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        h264, avi = write_sets(args.keep or Path(tmp))
        if args.only in (None, "h264"):
            for threads in (1, 2):
                readers_table(h264, args.clips, threads)
        if args.only in (None, "avi"):
            readers_table(avi, args.clips, 1)
        if args.only in (None, "loader"):
            loader_table(h264, args.batches)


if __name__ == "__main__":
    main()
