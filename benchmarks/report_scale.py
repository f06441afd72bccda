"""How `mtbench plot` and `mtbench table` scale with the number of cells in a store.

    python benchmarks/report_scale.py [--cells 320,2000] [--out /tmp/report-scale]
                                      [--profile plot] [--no-raw]

Each store is built from the substreams fixture records (tests/fixtures/report/substreams),
copied until it holds N cells, every copy a distinct configuration as a real sweep has them
(batch 1/8, eager/compiled, float32/bfloat16, a distinct label and cell key), with its numbers
spread by a fixed factor so points do not coincide, and with 10 raw repeats per latency
(`--no-raw`: as records written before raw repeats were kept). Then each command runs as a user
runs it, in a fresh process, and its wall time is printed beside the per-cell time: growth no
faster than linear keeps the per-cell time flat. `--profile plot` prints the top of a cProfile
of one in-process plot of the largest store.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from mtbench.console import LogConsole
from mtbench.suite.store import read_records, write_records

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report" / "substreams"
# (batch, compile, dtype) of the copies, in turn: distinct configurations, as in gpu-latency.
VARIANTS = [(b, c, d) for b in (1, 8) for c in (False, True) for d in ("float32", "bfloat16")]


def build_store(folder: Path, cells: int, raw: bool) -> None:
    """A store of `cells` distinct cells made from the fixture's records."""
    base = read_records(FIXTURE)
    rng = np.random.default_rng(0)
    records = []
    for i in range(cells):
        record = {**base[i % len(base)]}
        copy = i // len(base)
        batch, compiled, dtype = VARIANTS[copy % len(VARIANTS)]
        factor = 1 + 0.37 * (copy / max(cells // len(base), 1))
        record.update(
            cell_key=hashlib.sha1(f"{i}".encode()).hexdigest()[:12],
            label=f"{record['label']} #{copy}",
            batch_size=batch,
            compile=compiled,
            dtype=dtype,
            input_shape=[batch, *record["input_shape"][1:]],
        )
        for key in ("params_total", "gflops", "top1"):
            if isinstance(record.get(key), int | float):
                record[key] = record[key] * factor if key != "top1" else record[key] - copy % 7
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            if record.get(key):
                stats = {**record[key], "median": record[key]["median"] * factor}
                if raw:
                    stats["samples"] = (stats["median"] * rng.lognormal(0, 0.03, 10)).tolist()
                record[key] = stats
        records.append(record)
    write_records(folder, records)


def _seconds(*args: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one `mtbench` command. On a shared machine the
    wall time grows with the other users' load; the CPU time much less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mtbench", *args], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def profile_plot(folder: Path) -> str:
    from mtbench.report.build import build_plots

    profiler = cProfile.Profile()
    profiler.enable()
    build_plots(folder, formats=["png"])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="320,2000", help="comma-separated store sizes")
    parser.add_argument("--out", type=Path, default=Path("/tmp/report-scale"))
    parser.add_argument("--profile", choices=["plot"], default=None)
    parser.add_argument("--no-raw", action="store_true", help="records without raw repeats")
    args = parser.parse_args()
    sizes = [int(n) for n in args.cells.split(",")]
    table = Table(title="`mtbench plot` (png + svg) and `mtbench table` on stores of N cells")
    columns = (
        "cells",
        "plot wall (s)",
        "plot CPU (s)",
        "plot ms/cell",
        "index.html (MB)",
        "table wall (s)",
        "table CPU (s)",
        "load avg",
    )
    for col in columns:
        table.add_column(col, justify="right")
    for n in sizes:
        folder = args.out / f"cells-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        build_store(folder / "store", n, raw=not args.no_raw)
        plot, plot_cpu = _seconds("plot", str(folder))
        tab, tab_cpu = _seconds("table", str(folder))
        load = f"{os.getloadavg()[0]:.1f}"
        table.add_row(
            str(n),
            f"{plot:.1f}",
            f"{plot_cpu:.1f}",
            f"{plot / n * 1e3:.1f}",
            f"{(folder / 'index.html').stat().st_size / 1e6:.1f}",
            f"{tab:.1f}",
            f"{tab_cpu:.1f}",
            load,
        )
    LogConsole().print(table)
    if args.profile:
        print(profile_plot(args.out / f"cells-{sizes[-1]}"))


if __name__ == "__main__":
    main()
