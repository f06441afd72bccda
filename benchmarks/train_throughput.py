"""Training throughput of whole suite cells: clips/s and the share of step time spent
waiting for data, for MTNet-32 and r3d-18 at 16x112x112, batch 8, from synthetic clips and
from a folder of 320x240 mp4/avi videos (the `list` layout), with the default 2 workers.

Each configuration is one real `mtbench run` of a one-epoch suite in a temp dir; the figures
are the record's `train_clips_per_s` and `data_wait_frac`. The issue's target: data_wait_frac
under 10% from the video folder with the default workers.

Run: python benchmarks/train_throughput.py [--videos N] [--models mtnet-32,r3d-18]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from data_loader import write_folder

from mtbench.suite.store import read_records

SUITE = """
[suite]
name = "throughput"
[defaults]
device = "cpu"
measure = ["params"]
[data]
{data}
frames = 16
interval = 2
resize = [128, 160]
crop = 112
workers = 2
[train]
epochs = 1
batch_size = 8
lr = 0.01
lr_steps = []
[eval]
clips = 1
crops = 1
batch_size = 8
[[models]]
name = "{model}"
"""


def measure(model: str, data: str, folder: Path) -> dict:
    suite = folder / f"{model}-{len(data)}.toml"
    suite.write_text(SUITE.format(model=model, data=data))
    out = folder / f"out-{suite.stem}"
    cmd = [sys.executable, "-m", "mtbench", "run", str(suite), "--output", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    (record,) = read_records(out)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=32, help="videos (training clips/epoch)")
    parser.add_argument("--models", default="mtnet-32,r3d-18")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "videos").mkdir()
        write_folder(folder / "videos", args.videos, frames=64)
        sources = {
            "synthetic": f'dataset = "synthetic"\nnum_classes = 4\n'
            f"videos_per_class = {args.videos // 4}\ntest_videos_per_class = 1\n"
            "source_frames = 64\nsource_size = [128, 171]",
            "mp4/avi folder": f'dataset = "list"\nroot = "{folder / "videos"}"',
        }
        print(
            f"{platform.processor() or platform.machine()}, torch {torch.__version__},"
            f" {torch.get_num_threads()} threads; batch 8, 16x112x112, 2 workers"
        )
        print("| model | data | train clips/s | data_wait_frac | epoch (s) |")
        print("|---|---|---|---|---|")
        for model in args.models.split(","):
            for name, data in sources.items():
                r = measure(model, data, folder)
                seconds = r["train_time_s"]
                print(
                    f"| {model} | {name} | {r['train_clips_per_s']:.2f} |"
                    f" {r['data_wait_frac']:.3f} | {seconds:.1f} |"
                )


if __name__ == "__main__":
    main()
