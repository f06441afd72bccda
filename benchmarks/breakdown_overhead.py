"""What a breakdown costs: the same suite run with and without `"breakdown"` in `measure`.

    python benchmarks/breakdown_overhead.py [--models r3d-18,mtnet-32] [--input 1x3x16x112x112]
                                            [--warmup 3] [--repeats 10] [--threads 2]

Each run writes a fresh store in a temporary folder (nothing is skipped); the ceilings are
measured beforehand, so the second run times the breakdown as every later cell on this
machine pays it, and the first measurement of the ceilings is reported on its own. The
target: the suite with breakdowns takes at most twice the time of the one without.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time
from pathlib import Path

import torch

from mtbench.cli import main as mtbench
from mtbench.measure.ceilings import machine_ceilings
from mtbench.measure.environment import environment


def run_suite(folder: Path, models: list[str], shape: list[int], args, breakdown: bool) -> float:
    measure = ["params", "flops", "latency_fwd", "latency_fwdbwd", "memory"]
    if breakdown:
        measure.append("breakdown")
    suite = folder / ("with.toml" if breakdown else "without.toml")
    suite.write_text(
        textwrap.dedent(f"""
        [suite]
        name = "{suite.stem}"
        [defaults]
        input = {shape}
        threads = {args.threads}
        warmup = {args.warmup}
        repeats = {args.repeats}
        measure = {measure}
        [[models]]
        name = {models}
        """).replace("'", '"')
    )
    start = time.perf_counter()
    try:
        mtbench(["run", str(suite), "--output", str(folder / suite.stem)])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="r3d-18,mtnet-32")
    parser.add_argument("--input", default="1x3x16x112x112")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    models = args.models.split(",")
    shape = [int(s) for s in args.input.split("x")]
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MTBENCH_CEILINGS_DIR", str(Path(tmp) / "ceilings"))
        start = time.perf_counter()
        machine_ceilings(environment(torch.device("cpu")), torch.device("cpu"), torch.float32)
        ceilings = time.perf_counter() - start
        without = run_suite(Path(tmp), models, shape, args, breakdown=False)
        with_ = run_suite(Path(tmp), models, shape, args, breakdown=True)
    print(f"load average at the end: {os.getloadavg()}")
    print(f"ceilings, first measurement: {ceilings:.1f} s")
    print(
        f"suite without breakdown: {without:.1f} s; with: {with_:.1f} s;"
        f" ratio {with_ / without:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    main()
