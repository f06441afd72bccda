"""How long the harness takes, and how close r3d-18 runs to this machine's ceiling.

    python benchmarks/harness_overhead.py [--models r3d-18,s3d] [--repeats 10]

1. Wall time of `mtbench profile NAME --measure params,flops` per registered model: the
   whole command as a user runs it (interpreter start, build, both FLOP counters).
2. r3d-18's forward latency at 1x3x16x112x112 and its achieved GFLOP/s (2 x GMACs / s),
   beside a large fp32 matrix product's GFLOP/s measured in the same run: the ceiling.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch
from rich.console import Console
from rich.table import Table

from mtbench.measure.latency import CpuTimer, time_runs
from mtbench.measure.profile import ProfileOptions, profile
from mtbench.registry import list_models


def profile_wall_times(models: list[str]) -> Table:
    table = Table(title="`mtbench profile NAME --measure params,flops` wall time")
    for col in ("model", "GFLOPs/clip (1 MAC = 1 FLOP)", "input", "wall (s)"):
        table.add_column(col)
    for name in models:
        shape = "1x3x16x224x224" if name == "s3d" else "1x3x16x112x112"
        cmd = [sys.executable, "-m", "mtbench", "profile", name, "--input", shape]
        start = time.perf_counter()
        out = subprocess.run(
            [*cmd, "--measure", "params,flops", "--json"], capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        gflops = "failed" if out.returncode else f"{_json_field(out.stdout, 'gflops'):.2f}"
        table.add_row(name, gflops, shape, f"{wall:.2f}")
    return table


def _json_field(text: str, key: str) -> float:
    import json

    return json.loads(text)[key]


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
