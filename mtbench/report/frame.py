"""Result records -> one pandas DataFrame per store: the only place that knows the record layout.

Plots, tables and the HTML page read the flat columns built here, so a change in the record
format touches this module alone. Units are fixed by the column names: params in millions,
GFLOPs per clip (one multiply-add = one FLOP), latency in ms per clip (median over repeats,
with the p10/p90 spread).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mtbench.suite.store import find_stores, latest_by_cell, read_store

# Where a record leaves r or g out, the MTNet builder's defaults apply; these are the paper's
# (Table 4 reports every MTNet at r = 0.875, and g = 1 means no sub-streams). The report needs
# them to place a cell on the ablation axes and to join it with the paper's rows.
MTNET_DEFAULTS = {"r": 0.875, "g": 1}
# `top1_by_duration` (multiduration test sets) flattened: one column per duration bucket.
DURATION_BUCKETS = ("short", "medium", "long")
DURATION_COLUMNS = [f"top1_{bucket}" for bucket in DURATION_BUCKETS]
# A default label names a varied seed ("... train.seed=2"); rows aggregated over seeds drop it.
_SEED_IN_LABEL = re.compile(r"\s*\btrain\.seed=\d+")

COLUMNS = [
    "suite", "cell_key", "label", "model", "family", "r", "g", "input", "batch_size",
    "device", "dtype", "threads", "params_m", "gflops", "flops_rel_diff",
    "lat_fwd_ms", "lat_fwd_p10", "lat_fwd_p90",
    "lat_fwdbwd_ms", "lat_fwdbwd_p10", "lat_fwdbwd_p90",
    "peak_mem_mb", "top1", "top5", "mean_class_acc", "dataset", "views", "seed", "seed_group",
    *DURATION_COLUMNS, "top1_std", "top5_std", *(f"{c}_std" for c in DURATION_COLUMNS),
    "n_seeds", "train_curve", "status", "error",
]  # fmt: skip
ACCURACY = ("top1", "top5", *DURATION_COLUMNS)


@dataclass
class Store:
    """One suite folder: its latest record per cell as a frame, and what could not be read."""

    folder: Path
    suite: str
    frame: pd.DataFrame
    envs: list[dict[str, Any]] = field(default_factory=list)
    unreadable_lines: int = 0

    @property
    def ok(self) -> pd.DataFrame:
        """Successful cells, those that differ only in their training seed as one row."""
        return aggregate_seeds(self.frame[self.frame["status"] == "ok"])

    @property
    def failed(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] != "ok"]


def _number(value: Any) -> float:
    """A figure from a record as float, NaN for null or anything non-numeric."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _latency(record: dict[str, Any], key: str) -> tuple[float, float, float]:
    stats = record.get(key) or {}
    if not isinstance(stats, dict):
        return math.nan, math.nan, math.nan
    return _number(stats.get("median")), _number(stats.get("p10")), _number(stats.get("p90"))


def input_text(shape: Any) -> str:
    """`[B, C, T, H, W]` -> `T×H×W`, the way the paper writes a clip."""
    if isinstance(shape, list | tuple) and len(shape) == 5:
        return "×".join(str(d) for d in shape[2:])
    return "?"


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row; missing or null figures become NaN so pandas keeps the columns numeric."""
    kwargs = record.get("model_kwargs") or {}
    family = record.get("family") or ""
    defaults = MTNET_DEFAULTS if family == "mtnet" else {}
    fwd = _latency(record, "latency_fwd_ms")
    fwdbwd = _latency(record, "latency_fwdbwd_ms")
    params = _number(record.get("params_total"))
    by_duration = record.get("top1_by_duration")
    by_duration = by_duration if isinstance(by_duration, dict) else {}
    label = record.get("label") or record.get("model") or "?"
    return {
        "suite": record.get("suite") or "",
        "cell_key": record.get("cell_key") or "",
        "label": label,
        "model": record.get("model") or "",
        "family": family,
        "r": _number(kwargs.get("r", defaults.get("r"))),
        "g": _number(kwargs.get("g", defaults.get("g"))),
        "input": input_text(record.get("input_shape")),
        "batch_size": _number(record.get("batch_size")),
        "device": record.get("device") or "",
        "dtype": record.get("dtype") or "",
        "threads": _number(record.get("threads")),
        "params_m": params / 1e6,
        "gflops": _number(record.get("gflops")),
        "flops_rel_diff": _number(record.get("flops_rel_diff")),
        "lat_fwd_ms": fwd[0],
        "lat_fwd_p10": fwd[1],
        "lat_fwd_p90": fwd[2],
        "lat_fwdbwd_ms": fwdbwd[0],
        "lat_fwdbwd_p10": fwdbwd[1],
        "lat_fwdbwd_p90": fwdbwd[2],
        "peak_mem_mb": _number(record.get("peak_mem_mb")),
        "top1": _number(record.get("top1")),
        "top5": _number(record.get("top5")),
        "mean_class_acc": _number(record.get("mean_class_acc")),
        "dataset": record.get("dataset") or "",
        "views": record.get("views") or "",
        "seed": _number(record.get("seed")),
        "seed_group": record.get("seed_group") or "",
        **{f"{metric}_std": math.nan for metric in ACCURACY},
        "n_seeds": 1,
        "train_curve": record.get("train_curve") or [],
        "status": record.get("status") or "unknown",
        "error": record.get("error") or "",
        **{f"top1_{b}": _number(by_duration.get(b)) for b in DURATION_BUCKETS},
    }


def aggregate_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of one seed group (same configuration, other `train.seed`) as one row: figures
    averaged, accuracy with its standard deviation over seeds and the number of seeds."""
    groups = frame["seed_group"].where(frame["seed_group"] != "", frame["cell_key"])
    if frame.empty or groups.is_unique:
        return frame
    rows = []
    for _, group in frame.groupby(groups, sort=False):
        row = group.iloc[0].copy()
        if len(group) > 1:
            for column in group.columns:
                if pd.api.types.is_float_dtype(group[column]):
                    row[column] = group[column].mean()
            for metric in ACCURACY:
                row[f"{metric}_std"] = group[metric].std(ddof=1)
            row["n_seeds"] = len(group)
            row["train_curve"] = _mean_curve(group["train_curve"].tolist())
            row["seed"] = math.nan
            row["label"] = _SEED_IN_LABEL.sub("", row["label"])
        rows.append(row)
    return pd.DataFrame(rows, columns=frame.columns).reset_index(drop=True)


def _mean_curve(curves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-epoch mean of the seeds' training curves, over the epochs they all have."""
    epochs = min((len(c) for c in curves), default=0)
    return [
        {
            key: sum(c[i][key] for c in curves) / len(curves)
            for key in ("epoch", "loss", "train_top1")
        }
        for i in range(epochs)
    ]


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The latest record of each cell as one row each, in the store's order."""
    rows = [record_row(r) for r in latest_by_cell(records).values()]
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
        envs=_distinct_envs(list(latest_by_cell(records).values())),
        unreadable_lines=contents.unreadable,
    )


def load_stores(root: Path) -> list[Store]:
    """Every store under `root` (itself included), sorted by folder."""
    return [load_store(folder) for folder in find_stores(root)]


def _distinct(values: pd.Series) -> str:
    return ", ".join(str(v) for v in dict.fromkeys(values.dropna()) if v != "")


def measured_on(store: Store) -> str:
    """One line naming the machine and software the store was measured with."""
    parts = []
    for env in store.envs:
        device = env.get("device_name") or "?"
        if env.get("cpu") and env.get("cpu") != device:
            device += f" ({env['cpu']}, {env.get('threads', '?')} threads)"
        versions = ", ".join(
            f"{k} {env[k]}" for k in ("torch", "torchvision", "mtbench") if env.get(k)
        )
        commit = f", commit {env['git_commit']}" if env.get("git_commit") else ""
        parts.append(f"{device}; {versions}{commit}")
    return " | ".join(parts) or "environment not recorded"


def workload(frame: pd.DataFrame) -> str:
    """Device, dtype and batch of the cells, for plot titles: 'cpu, float32, batch 1'."""
    batches = _distinct(frame["batch_size"].map(lambda b: f"{b:g}" if b == b else None))
    parts = [_distinct(frame["device"]), _distinct(frame["dtype"]), f"batch {batches}"]
    return ", ".join(p for p in parts if p and p != "batch ")
