"""What reduced precision buys and costs, model by model: each INT8 and bfloat16 cell of a
store beside the float32 cell of the same model, keyword arguments, input and runtime (and
PyTorch eager's float32 cell), read from the records, nothing measured here.

One row per reduced cell: its forward latency and the same runtime's float32 one, the
speed-up over that and over PyTorch eager (with compare's bootstrap interval), the share of
the network's FLOPs that ran in INT8 (the audit), the gate's top-1 as run against float32's
(the same evaluation clips) and its verdict against MLPerf's 99% target. A latency whose
timing was disturbed is marked `†`.

Run: python benchmarks/int8_matrix.py STORE [--output FILE]
(`--output`: the table with the verdict of the timings it uses, as benchmarks/publish.py
renders it; docs/deploy.md's matrix is `python benchmarks/int8_matrix.py
docs/results/deploy-int8`.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
from publish import write_table

from mtbench import numbers
from mtbench.report.breakdown_tables import SAME_NETWORK
from mtbench.report.compare import frame_latency_ratio, ratio_text
from mtbench.report.frame import records_frame
from mtbench.suite.store import read_records
from mtbench.table_model import Column, TextTable, to_markdown

HEADERS = [
    "model",
    "runtime",
    "dtype",
    "by",
    "f32 ms",
    "ms",
    "× f32",
    "× eager",
    "INT8 FLOPs",
    "top-1 f32",
    "as run",
    "gate",
]


def _ms(row: pd.Series) -> str:
    disturbed = row["latency_fwd_verdict"] == "disturbed"
    return numbers.marked(numbers.decimal(row["latency_fwd_ms"], 2), disturbed)


def _speedup(reference: pd.Series | None, row: pd.Series) -> str:
    """reference / row latency with compare's 95% bootstrap interval over both cells' raw
    repeats (none where a side was disturbed: `†`)."""
    if reference is None:
        return numbers.MISSING
    return ratio_text(frame_latency_ratio(reference, row, "latency_fwd"))


def matrix(frame: pd.DataFrame) -> tuple[TextTable, list[tuple[str | None, list[str]]]]:
    """The table, and the verdicts of every timing it shows."""
    ok = frame[frame["status"] == "ok"]
    key = ok[list(SAME_NETWORK)].astype(str).agg("|".join, axis=1)
    floats = {
        (k, r["runtime"]): r
        for k, (_, r) in zip(key, ok.iterrows(), strict=True)
        if r["dtype"] == "float32"
    }
    rows, verdicts = [], []
    for k, (_, row) in zip(key, ok.iterrows(), strict=True):
        if row["dtype"] == "float32":
            continue
        same, eager = floats.get((k, row["runtime"])), floats.get((k, "pytorch"))
        shown = [r for r in (row, same, eager) if r is not None]
        verdicts += [(r["latency_fwd_verdict"], []) for r in shown]
        top1 = row["top1_as_run"]
        name = row["label"].split(" dtype=")[0].split(" quantizer=")[0]
        rows.append(
            [
                name if len(name) <= 24 else f"{row['model']} (the suite's width)",
                row["runtime"],
                row["dtype"],
                row["quantized_by"] or numbers.MISSING,
                _ms(same) if same is not None else numbers.MISSING,
                _ms(row),
                _speedup(same, row),
                _speedup(eager, row),
                numbers.percent(row["int8_flops_pct"], 1),
                numbers.decimal(row["top1"], 1),
                numbers.decimal(top1, 1) if pd.notna(top1) else numbers.MISSING,
                row["gate_verdict"] or numbers.MISSING,
            ]
        )
    columns = [Column(h, "left" if i < 4 else "right") for i, h in enumerate(HEADERS)]
    notes = [
        "× f32: the same runtime's float32 latency over this one; × eager: PyTorch eager"
        " float32's over this one (each with its 95% bootstrap interval over both cells' raw"
        " repeats, as `mtbench compare` gives it; n.r.: the interval contains 1); INT8 FLOPs:"
        " share of the network's FLOPs that ran in INT8;"
        " as run: top-1 (%) of the network in this dtype and runtime on the float32 cell's"
        " evaluation clips; gate: at least 99% of float32's top-1 (MLPerf's closed-division"
        " target); † disturbed timing"
    ]
    failed = frame[frame["status"] != "ok"]
    notes += [f"failed: {r['label']}: {r['error']}" for _, r in failed.iterrows()]
    return TextTable(columns, rows, "", notes), verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--output", help="write the table with its verdict (publish.py)")
    args = parser.parse_args(argv)
    records: list[dict[str, Any]] = read_records(args.store)
    table, verdicts = matrix(records_frame(records))
    threads = {r.get("threads") for r in records} - {None}
    if args.output:
        write_table(args.output, table, min(threads) if len(threads) == 1 else None, verdicts)
    print(to_markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
