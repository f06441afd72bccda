"""Result records -> one pandas DataFrame per store: the report's flat columns.

Plots, tables and the HTML page read the flat columns built here from records read through
`mtbench.record.read_record` (which owns the layout). Units are fixed by the column names:
params in millions, GFLOPs per clip (one multiply-add = one FLOP), latency in ms per clip
(median over repeats, with the p10/p90 spread).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mtbench import numbers
from mtbench.measure.machine import UNRECORDED, machine_key
from mtbench.record import ceilings_of, read_record
from mtbench.report.scenario_frame import SCENARIO_COLUMNS, scenario_columns
from mtbench.suite.store import find_stores, latest_by_cell, read_store

# Where a record leaves r or g out, the MTNet builder's defaults apply (the paper's: Table 4
# reports every MTNet at r = 0.875, and g = 1 means no sub-streams). The report needs them to
# place a cell on the ablation axes and to join it with the paper's rows. They are
# `mtbench.models.mtnet.MTNetConfig`'s, written out so that a report does not import torch
# (a test holds the two equal).
MTNET_DEFAULTS = {"r": 0.875, "g": 1}
# The keys of a record's `top1_by_duration` (multiduration test sets), flattened into one column
# each: `mtbench.data.multiduration.BUCKETS`, written out here because importing the data
# package would import torch into every report (a test holds the two equal).
TOP1_BY_DURATION_KEYS = ("short", "medium", "long")
DURATION_COLUMNS = [f"top1_{bucket}" for bucket in TOP1_BY_DURATION_KEYS]
# An INT8 cell's toolchain, its audit (INT8 operators of all, INT8 share of the FLOPs) and,
# with [data], the quantized network's top-1 beside float32's and the gate's verdict.
QUANTIZATION_COLUMNS = [
    "quantized_by",
    "int8_ops",
    "int8_flops_pct",
    "top1_as_run",
    "top1_as_run_of_float_pct",
    "gate_verdict",
]
# A default label names a varied seed ("... train.seed=2"); rows aggregated over seeds drop it.
_SEED_IN_LABEL = re.compile(r"\s*\btrain\.seed=\d+")

COLUMNS = [
    "suite",
    "cell_key",
    "label",
    "model",
    "family",
    "kwargs",
    "count_norm",
    "r",
    "g",
    "input",
    "batch_size",
    "device",
    "dtype",
    "threads",
    "mode",
    "runtime",
    "machine",
    "params_m",
    "gflops",
    "flops_rel_diff",
    "latency_fwd_ms",
    "latency_fwd_p10",
    "latency_fwd_p90",
    "latency_fwdbwd_ms",
    "latency_fwdbwd_p10",
    "latency_fwdbwd_p90",
    "latency_fwd_samples",
    "latency_fwdbwd_samples",
    "latency_fwd_verdict",
    "latency_fwdbwd_verdict",
    "interleaved",
    "peak_mem_mb",
    *QUANTIZATION_COLUMNS,
    "top1",
    "top5",
    "mean_class_acc",
    "num_classes",
    "dataset",
    "views",
    "seed",
    "seed_group",
    *DURATION_COLUMNS,
    "top1_std",
    "top5_std",
    *(f"{c}_std" for c in DURATION_COLUMNS),
    "n_seeds",
    "top1_by_seed",
    "train_curve",
    "status",
    "error",
    "breakdown",
    "ceilings",
    "audit",
    *SCENARIO_COLUMNS,
]
# Accuracy columns that get a `<column>_std` over training seeds when seeds are averaged.
SEED_SPREAD_METRICS = ("top1", "top5", *DURATION_COLUMNS)


@dataclass
class Store:
    """One suite folder: its latest record per cell as a frame, every record (for the
    history: nothing is dropped), and what could not be read."""

    folder: Path
    suite: str
    frame: pd.DataFrame
    envs: list[dict[str, Any]] = field(default_factory=list)
    unreadable_lines: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> pd.DataFrame:
        """Successful cells, those that differ only in their training seed as one row."""
        return aggregate_seeds(self.frame[self.frame["status"] == "ok"])

    @property
    def failed(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] != "ok"]

    @property
    def machines(self) -> list[str]:
        """The machine keys of the store's cells, in order of first appearance; a cell that
        failed before anything was measured records no machine and makes none of its own."""
        found = list(dict.fromkeys(self.frame["machine"]))
        return [m for m in found if m != UNRECORDED] or found

    def by_machine(self) -> list[Store]:
        """The store itself when one machine made it, else one part per machine (suite name
        `<suite> [machine i/n]`): latencies of two machines never share a column."""
        machines = self.machines
        if len(machines) <= 1:
            return [self]
        return [
            Store(
                folder=self.folder,
                suite=f"{self.suite} [machine {i}/{len(machines)}]",
                frame=self.frame[self.frame["machine"].isin([machine, UNRECORDED])].reset_index(
                    drop=True
                ),
                envs=[e for e in self.envs if machine_key(e) == machine],
                unreadable_lines=self.unreadable_lines,
                records=[
                    r for r in self.records if machine_key(r.get("env")) in (machine, UNRECORDED)
                ],
            )
            for i, machine in enumerate(machines, 1)
        ]


def _as_float(value: Any) -> float:
    """A figure from a record as float, NaN for null or anything non-numeric."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _latency(record: dict[str, Any], key: str) -> tuple[float, float, float, tuple[float, ...]]:
    """Median, p10, p90 and the raw per-repeat times; records written before the raw times
    were kept have none (an empty tuple), and no interval is made up for them."""
    stats = record.get(key) or {}
    if not isinstance(stats, dict):
        return math.nan, math.nan, math.nan, ()
    samples = stats.get("samples")
    raw = tuple(float(v) for v in samples) if isinstance(samples, list) else ()
    return (
        _as_float(stats.get("median")),
        _as_float(stats.get("p10")),
        _as_float(stats.get("p90")),
        raw,
    )


def _verdict(record: dict[str, Any], key: str) -> str:
    """A timing's verdict (`read_record` gives old ones `unknown`); '' where not timed."""
    stats = record.get(key)
    return stats.get("verdict", "unknown") if isinstance(stats, dict) else ""


def _timing(record: dict[str, Any]) -> dict[str, Any]:
    """How the latencies were taken: each one's verdict, and whether in interleaved rounds."""
    return {
        "latency_fwd_verdict": _verdict(record, "latency_fwd_ms"),
        "latency_fwdbwd_verdict": _verdict(record, "latency_fwdbwd_ms"),
        "interleaved": bool(record.get("interleaved")),
    }


def worst_verdict(verdicts: Any) -> str:
    """Of a group's verdicts, the one that speaks against it: disturbed, unknown, clean."""
    said = set(verdicts)
    return next((v for v in ("disturbed", "unknown", "clean") if v in said), "")


def _mode(record: dict[str, Any]) -> str:
    """How the model ran, the execution options a latency depends on: 'eager', 'compiled
    (default), cuda graphs, autocast bfloat16, channels-last', or the runtime that ran the
    exported graph ('onnxruntime')."""
    if (record.get("runtime") or "pytorch") != "pytorch":
        return record["runtime"]
    parts = [
        f"compiled ({record.get('compile_mode') or 'default'})"
        if record.get("compile")
        else "eager"
    ]
    if record.get("cuda_graphs"):
        parts.append("cuda graphs")
    if record.get("amp"):
        parts.append(f"autocast {record.get('dtype')}")
    if record.get("channels_last"):
        parts.append("channels-last")
    return ", ".join(parts)


def input_text(shape: Any) -> str:
    """`[B, C, T, H, W]` -> `T×H×W`, the way the paper writes a clip."""
    if isinstance(shape, list | tuple) and len(shape) == 5:
        return "×".join(str(d) for d in shape[2:])
    return "?"


def _latency_columns(record: dict[str, Any]) -> dict[str, Any]:
    """latency_fwd_ms, its p10, p90 and raw samples, and the same for latency_fwdbwd."""
    columns: dict[str, Any] = {}
    for stem, key in (("latency_fwd", "latency_fwd_ms"), ("latency_fwdbwd", "latency_fwdbwd_ms")):
        median, p10, p90, samples = _latency(record, key)
        columns.update(
            {
                f"{stem}_ms": median,
                f"{stem}_p10": p10,
                f"{stem}_p90": p90,
                f"{stem}_samples": samples,
            }
        )
    return columns


def record_row(stored: dict[str, Any]) -> dict[str, Any]:
    """One flat row; missing or null figures become NaN so pandas keeps the columns numeric."""
    record = read_record(stored)
    kwargs = record.get("model_kwargs") or {}
    family = record.get("family") or ""
    defaults = MTNET_DEFAULTS if family == "mtnet" else {}
    params = _as_float(record.get("params_total"))
    by_duration = record.get("top1_by_duration")
    by_duration = by_duration if isinstance(by_duration, dict) else {}
    label = record.get("label") or record.get("model") or "?"
    return {
        "suite": record.get("suite") or "",
        "cell_key": record.get("cell_key") or "",
        "label": label,
        "model": record.get("model") or "",
        "family": family,
        "kwargs": kwargs,
        "count_norm": record.get("count_norm", True),
        "r": _as_float(kwargs.get("r", defaults.get("r"))),
        "g": _as_float(kwargs.get("g", defaults.get("g"))),
        "input": input_text(record.get("input_shape")),
        "batch_size": _as_float(record.get("batch_size")),
        "device": record.get("device") or "",
        "dtype": record.get("dtype") or "",
        "threads": _as_float(record.get("threads")),
        "mode": _mode(record),
        "runtime": record["runtime"],  # read_record: PyTorch for records before runtimes
        "machine": machine_key(record.get("env")),
        "params_m": params / 1e6,
        "gflops": _as_float(record.get("gflops")),
        "flops_rel_diff": _as_float(record.get("flops_rel_diff")),
        **_latency_columns(record),
        **_timing(record),
        "peak_mem_mb": _as_float(record.get("peak_mem_mb")),
        **_quantization_columns(record),
        "top1": _as_float(record.get("top1")),
        "top5": _as_float(record.get("top5")),
        "mean_class_acc": _as_float(record.get("mean_class_acc")),
        "num_classes": _as_float(record.get("num_classes")),
        "dataset": record.get("dataset") or "",
        "views": record.get("views") or "",
        "seed": _as_float(record.get("seed")),
        "seed_group": record.get("seed_group") or "",
        **{f"{metric}_std": math.nan for metric in SEED_SPREAD_METRICS},
        "n_seeds": 1,
        "top1_by_seed": _by_seed(record),
        "train_curve": record.get("train_curve") or [],
        "status": record.get("status") or "unknown",
        "error": record.get("error") or "",
        **{f"top1_{b}": _as_float(by_duration.get(b)) for b in TOP1_BY_DURATION_KEYS},
        "breakdown": record.get("breakdown"),
        "ceilings": ceilings_of(record),
        "audit": (record.get("quantization") or {}).get("audit"),
        **scenario_columns(record),
    }


def _quantization_columns(record: dict[str, Any]) -> dict[str, Any]:
    """QUANTIZATION_COLUMNS of a record: empty text and NaN where it was not quantized (the
    audit) or not gated (the gate: INT8 and bfloat16 cells with [data])."""
    q = record.get("quantization") or {}
    audit, gate = q.get("audit") or {}, record.get("gate") or {}
    ops = (audit.get("int8_ops"), audit.get("float_ops"))
    share = _as_float(audit.get("int8_flops_share"))
    return {
        "quantized_by": q.get("toolchain") or "",
        "int8_ops": f"{ops[0]} of {ops[0] + ops[1]}" if None not in ops else "",
        "int8_flops_pct": 100 * share,
        "top1_as_run": _as_float((gate.get("as_run") or {}).get("top1")),
        "top1_as_run_of_float_pct": 100 * _as_float(gate.get("ratio")),
        "gate_verdict": gate.get("verdict") or "",
    }


def _by_seed(record: dict[str, Any]) -> dict[int, float]:
    """{seed: top-1} of a trained cell, so differences over seeds can be paired by seed."""
    seed, top1 = _as_float(record.get("seed")), _as_float(record.get("top1"))
    return {} if math.isnan(seed) or math.isnan(top1) else {int(seed): top1}


def strip_seed(label: str) -> str:
    """'r3d-18 train.seed=2' -> 'r3d-18': the label of the configuration over its seeds."""
    return _SEED_IN_LABEL.sub("", label)


def aggregate_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of one seed group (same configuration, other `train.seed`) as one row: figures
    averaged, accuracy with its standard deviation over seeds and the number of seeds."""
    groups = frame["seed_group"].where(frame["seed_group"] != "", frame["cell_key"])
    groups = groups + " @ " + frame["machine"]  # seeds run on two machines stay apart
    if frame.empty or groups.is_unique:
        return frame
    rows = []
    for _, group in frame.groupby(groups, sort=False):
        row = group.iloc[0].copy()
        if len(group) > 1:
            for column in group.columns:
                if pd.api.types.is_float_dtype(group[column]):
                    row[column] = group[column].mean()
            for metric in SEED_SPREAD_METRICS:
                row[f"{metric}_std"] = group[metric].std(ddof=1)
            row["n_seeds"] = len(group)
            row["top1_by_seed"] = {k: v for d in group["top1_by_seed"] for k, v in d.items()}
            for stem in ("latency_fwd", "latency_fwdbwd"):  # repeats of one configuration, pooled
                row[f"{stem}_samples"] = sum(group[f"{stem}_samples"], ())
                row[f"{stem}_verdict"] = worst_verdict(group[f"{stem}_verdict"])
            row["train_curve"] = _mean_curve(group["train_curve"].tolist())
            row["seed"] = math.nan
            row["label"] = strip_seed(row["label"])
        rows.append(row)
    return pd.DataFrame(rows, columns=frame.columns).reset_index(drop=True)


def _mean_curve(curves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-epoch mean of the seeds' training curves, over the epochs they all have, with the
    standard deviation over seeds (`<key>_std`) and their number (`seeds`), so a plot can draw
    the spread as a band and say over how many seeds."""
    epochs = min((len(c) for c in curves), default=0)
    out = []
    for i in range(epochs):
        point: dict[str, Any] = {"epoch": curves[0][i]["epoch"], "seeds": len(curves)}
        for key in ("loss", "train_top1"):
            values = pd.Series([c[i][key] for c in curves], dtype=float)
            point[key], point[f"{key}_std"] = values.mean(), values.std(ddof=1)
        out.append(point)
    return out


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The latest record of each cell on each machine as one row each, in the store's order."""
    rows = [record_row(r) for r in latest_by_cell(records, per_machine=True).values()]
    return pd.DataFrame(rows, columns=COLUMNS)


def _distinct_envs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        env = record.get("env")
        if isinstance(env, dict):
            seen.setdefault(json.dumps(env, sort_keys=True), env)
    return list(seen.values())


def load_store(folder: Path) -> Store:
    contents = read_store(folder)
    records = contents.records
    frame = records_frame(records)
    named = frame["suite"][frame["suite"] != ""]
    suite = str(named.iloc[0]) if len(named) else folder.name
    return Store(
        folder=folder,
        suite=suite,
        frame=frame,
        envs=_distinct_envs(list(latest_by_cell(records, per_machine=True).values())),
        unreadable_lines=contents.unreadable,
        records=records,
    )


def load_stores(root: Path) -> list[Store]:
    """Every store under `root` (itself included), sorted by folder."""
    return [load_store(folder) for folder in find_stores(root)]


def _distinct(values: pd.Series) -> str:
    return ", ".join(str(v) for v in dict.fromkeys(values.dropna()) if v != "")


def measured_on(store: Store) -> str:
    """One line naming the machine (its key: processor, ISA, GPU, kernel libraries), threads
    and software the store was measured with."""
    parts = []
    for env in store.envs:
        threads = f", {numbers.count(env['threads'], 'thread')}" if env.get("threads") else ""
        versions = ", ".join(f"{k} {env[k]}" for k in ("torchvision", "mtbench") if env.get(k))
        commit = f", commit {env['git_commit']}" if env.get("git_commit") else ""
        parts.append(f"{machine_key(env)}{threads}; {versions}{commit}")
    return " | ".join(dict.fromkeys(parts)) or "environment not recorded"


def machines_note(store: Store) -> str:
    """'' for a store from one machine; else the line saying how many it holds."""
    n = len(store.machines)
    if n <= 1:
        return ""
    return f"{store.suite} holds cells from {n} machines: one table and one set of plots each."


def workload(frame: pd.DataFrame) -> str:
    """Device, dtype and batch of the cells, for plot titles: 'cpu, float32, batch 1'."""
    batches = _distinct(frame["batch_size"].map(lambda b: f"{b:g}" if b == b else None))
    parts = [_distinct(frame["device"]), _distinct(frame["dtype"]), f"batch {batches}"]
    return ", ".join(p for p in parts if p and p != "batch ")
