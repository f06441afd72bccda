"""How long the harness takes, and how close r3d-18 runs to this machine's ceiling.

    python benchmarks/harness_overhead.py [--models r3d-18,s3d] [--repeats 10]

1. `mtbench profile NAME --measure params,flops` per registered model, split into the
   command's start-up (interpreter, torch and torchvision imports: the same for every
   model, timed as `mtbench models --json`) and the measurement itself (build, params, both
   FLOP counters), timed in this process; one real command per model checks the sum.
2. r3d-18's forward latency at 1x3x16x112x112 and its achieved GFLOP/s (2 x GMACs / s),
   beside a large fp32 matrix product's GFLOP/s measured in the same run: the ceiling.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
from rich.console import Console
from rich.table import Table

from mtbench.measure.latency import CpuTimer, time_runs
from mtbench.measure.profile import ProfileOptions, profile
from mtbench.registry import list_models


def _command_seconds(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "mtbench", *args], capture_output=True, text=True)
    return time.perf_counter() - start, out


def profile_wall_times(models: list[str]) -> Table:
    startup = statistics.median(_command_seconds("models", "--json")[0] for _ in range(3))
    table = Table(title="`mtbench profile NAME --measure params,flops`: where the time goes")
    columns = ("model", "input", "GFLOPs/clip*", "start-up (s)", "measure (s)", "command (s)")
    for col in columns:
        table.add_column(col)
    options = ProfileOptions(device="cpu", measure=("params", "flops"))
    for name in models:
        shape = [1, 3, 16, 224, 224] if name == "s3d" else [1, 3, 16, 112, 112]
        start = time.perf_counter()
        record = profile(name, {}, shape, options)
        measure = time.perf_counter() - start
        text = "x".join(map(str, shape))
        wall, out = _command_seconds("profile", name, "--input", text, "--measure", "params,flops")
        if out.returncode:
            wall = float("nan")
        row = (name, text, f"{record['gflops']:.2f}", f"{startup:.2f}", f"{measure:.2f}")
        table.add_row(*row, f"{wall:.2f}")
    table.caption = "* one multiply-add = one FLOP"
    return table


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    stats = time_runs(lambda: a @ b, warmup=2, repeats=repeats, timer=CpuTimer())
    return 2 * n**3 / (stats.median / 1000) / 1e9


def r3d18_throughput(repeats: int) -> tuple[float, float, float]:
    options = ProfileOptions(
        device="cpu", warmup=3, repeats=repeats, measure=("flops", "latency_fwd")
    )
    record = profile("r3d-18", {}, [1, 3, 16, 112, 112], options)
    median_s = record["latency_fwd_ms"]["median"] / 1000
    return record["gflops"], record["latency_fwd_ms"]["median"], 2 * record["gflops"] / median_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: all)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    models = args.models.split(",") if args.models else list_models()
    console = Console()
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    console.print(profile_wall_times(models))
    gmacs, ms, achieved = r3d18_throughput(args.repeats)
    ceiling = matmul_gflops(repeats=args.repeats)
    table = Table(title="r3d-18 forward at 1x3x16x112x112 against the fp32 matmul ceiling")
    for col in ("GMACs", "fwd median (ms)", "achieved GFLOP/s", "2048^3 matmul GFLOP/s", "ratio"):
        table.add_column(col)
    ratio = achieved / ceiling
    table.add_row(f"{gmacs:.2f}", f"{ms:.1f}", f"{achieved:.1f}", f"{ceiling:.1f}", f"{ratio:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
