"""The MTNet paper's own numbers (Tables 2-4), and their join onto measured cells under
matching conditions only.

The numbers live in `paper_reference.csv` beside this module, one number per row with the table
it was transcribed from and the conditions it was measured under (input, device kind, class
count), so a reviewer can check each against the paper. A measured cell finds its paper row on
the model configuration: registry name, and for MTNets the ratio r and the sub-streams g;
accuracy also on the dataset.

A delta needs more than the configuration: our number under the paper's conditions.
- params: the model rebuilt with the paper's class count (a 700-class head for Table 3);
- GFLOPs: the model counted again at the paper's input (`mtbench.measure`, no timing);
- latency: only a cell on the same kind of device (Table 3's F and B are GPU figures; a CPU
  cell shows them for reference, without a delta);
- accuracy: the same dataset.
Our forward+backward latency is set against the paper's B column: the paper does not say
whether B includes the forward pass, and B is 1.4-2x F, which reads as a full training step.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE_FILE = Path(__file__).with_name("paper_reference.csv")
# Counts at the paper's conditions, kept beside a store so a table does not count them again.
COUNTS_FILE = "paper_counts.json"

# Measured column -> the paper metric it is compared with.
COMPARED = {
    "params_m": "params_m",
    "gflops": "gflops",
    "latency_fwd_ms": "latency_fwd_ms",
    "latency_fwdbwd_ms": "latency_b_ms",
    "top1": "top1",
    "top5": "top5",
}
# Paper metrics that are looked up by dataset (the others hold for any dataset).
PER_DATASET_METRICS = ("top1", "top5")
LATENCY = ("latency_fwd_ms", "latency_fwdbwd_ms")
# A record's device -> the kind the paper names.
DEVICE_KINDS = {"cuda": "GPU", "cpu": "CPU", "mps": "GPU"}

# The paper's dataset names, keyed by the spelling with case and punctuation removed.
_DATASETS = {
    "hacs": "HACS",
    "k700": "K-700",
    "kinetics700": "K-700",
    "mit": "MiT",
    "momentsintime": "MiT",
}


@cache
def reference() -> pd.DataFrame:
    """The transcribed numbers, one row each: model, r, g, paper_name, input, device, classes,
    source, dataset, metric, value."""
    frame = pd.read_csv(REFERENCE_FILE, comment="#", keep_default_na=False, dtype=str)
    frame["value"] = frame["value"].astype(float)
    frame["r"] = pd.to_numeric(frame["r"])
    frame["g"] = pd.to_numeric(frame["g"])
    return frame


def paper_dataset(name: str) -> str:
    """A record's dataset name as the paper spells it ('kinetics-700' -> 'K-700')."""
    return _DATASETS.get(re.sub(r"[^a-z0-9]", "", name.lower()), name)


def _key(model: str, r: float, g: float) -> tuple[str, float | None, float | None]:
    return (
        model,
        None if pd.isna(r) else round(float(r), 4),
        None if pd.isna(g) else float(g),
    )


@cache
def _lookup() -> dict[tuple, dict[str, Any]]:
    """(model, r, g, dataset, metric) -> the paper row. Tables repeat some numbers (Table 2's
    r = 0.875 rows are Table 4's, Table 3's accuracy is Table 4's); the repeats agree, so the
    row that states the most conditions stands."""
    table: dict[tuple, dict[str, Any]] = {}
    for row in reference().to_dict("records"):
        key = (*_key(row["model"], row["r"], row["g"]), row["dataset"], row["metric"])
        known = table.get(key)
        if known is None or (not known["input"] and row["input"]):
            table[key] = row
    return table


def input_dims(text: str) -> tuple[int, ...] | None:
    """'16x256x256' or '16×256×256' -> (16, 256, 256); None for anything else ('~8x180x180',
    '(32,4)x224x224', ''): those are not one input to count at."""
    parts = re.split(r"[x×]", text)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def conditions(row: dict[str, Any]) -> str:
    """A paper number's conditions in words: 'Table 3, 16×256×256, 700 classes'."""
    parts = [row["source"]]
    if row["input"]:
        parts.append(row["input"].replace("x", "×"))
    if row["device"]:
        parts.append(row["device"])
    if row["classes"]:
        parts.append(f"{row['classes']} classes")
    return ", ".join(parts)


def _classes(model: str, kwargs: dict[str, Any]) -> int | None:
    from mtbench.registry import model_entry

    if "num_classes" in kwargs:
        return int(kwargs["num_classes"])
    try:
        default = model_entry(model).kwargs.get("num_classes")
    except (KeyError, ValueError):
        return None
    return int(default) if isinstance(default, int) else None


Counter = Callable[[str, dict[str, Any], tuple[int, ...], bool], tuple[float, float]]


def count_at(
    model: str, kwargs: dict[str, Any], dims: tuple[int, ...], count_norm: bool
) -> tuple[float, float]:
    """(params in M, GFLOPs) of `model` built with `kwargs`, counted at a batch-1 clip of
    `dims` (T, H, W) on the CPU: mtbench's one measurement, without its timed runs."""
    from mtbench.measure.profile import ProfileOptions, profile

    options = ProfileOptions(device="cpu", measure=("params", "flops"), count_norm=count_norm)
    record = profile(model, kwargs, [1, 3, *dims], options)
    return record["params_total"] / 1e6, record["gflops"]


class PaperCounts:
    """`count_at` with a cache: in memory, and in `folder/paper_counts.json` when a store
    folder is given (keyed by the mtbench commit, so a changed model is counted again)."""

    def __init__(self, folder: Path | None = None, counter: Counter | None = None) -> None:
        self.path = folder / COUNTS_FILE if folder is not None else None
        self.counter = counter
        self.known: dict[str, list[float]] = {}
        if self.path is not None and self.path.exists():
            try:
                self.known = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.known = {}

    def __call__(
        self, model: str, kwargs: dict[str, Any], dims: tuple[int, ...], count_norm: bool
    ) -> tuple[float, float]:
        from mtbench.measure.environment import git_commit

        key = json.dumps([git_commit(), model, kwargs, dims, count_norm], sort_keys=True)
        if key not in self.known:
            counter = self.counter or count_at
            self.known[key] = list(counter(model, kwargs, dims, count_norm))
            self._save()
        params, gflops = self.known[key]
        return params, gflops

    def _save(self) -> None:
        """Written whole through a temporary file: a killed table never leaves half a cache."""
        if self.path is None:
            return
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".paper_counts.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.known, fh)
        os.replace(tmp, self.path)


def _ours(row: pd.Series, column: str, paper: dict[str, Any], counts: PaperCounts | None) -> float:
    """Our figure under the paper's conditions for `column`, NaN where they cannot be met."""
    if column in LATENCY:
        same = DEVICE_KINDS.get(row["device"]) == paper["device"]
        return row[column] if same else math.nan
    if column not in ("params_m", "gflops"):
        return row[column]  # accuracy: the lookup matched the dataset already
    kwargs = dict(row["kwargs"])
    classes = int(paper["classes"]) if paper["classes"] else None
    dims = input_dims(paper["input"]) if column == "gflops" else None
    same_classes = classes is None or _classes(row["model"], kwargs) == classes
    same_input = column == "params_m" or dims == input_dims(row["input"])
    if same_classes and same_input:
        return row[column]
    if counts is None or (column == "gflops" and dims is None):
        return math.nan
    if classes is not None:
        kwargs["num_classes"] = classes
    at = dims or input_dims(row["input"])
    if at is None:
        return math.nan
    params, gflops = counts(row["model"], kwargs, at, bool(row["count_norm"]))
    return params if column == "params_m" else gflops


def with_paper(frame: pd.DataFrame, counts: PaperCounts | None = None) -> pd.DataFrame:
    """`frame` plus, for each compared column: `paper_<column>` (the paper's number for the same
    configuration, accuracy on the same dataset; NaN where the paper has none),
    `paper_<column>_at` (its conditions in words) and `matched_<column>` (ours under those
    conditions: counted again by `counts` where needed; NaN where they cannot be met, and
    without `counts` wherever a count would be needed)."""
    lookup = _lookup()
    out = frame.copy()
    for column, metric in COMPARED.items():
        values, at, ours = [], [], []
        for _, row in frame.iterrows():
            dataset = paper_dataset(row["dataset"]) if metric in PER_DATASET_METRICS else ""
            paper = lookup.get((*_key(row["model"], row["r"], row["g"]), dataset, metric))
            values.append(paper["value"] if paper else math.nan)
            at.append(conditions(paper) if paper else "")
            ours.append(_ours(row, column, paper, counts) if paper else math.nan)
        out[f"paper_{column}"] = pd.Series(values, index=frame.index, dtype=float)
        out[f"paper_{column}_at"] = pd.Series(at, index=frame.index, dtype=object)
        out[f"matched_{column}"] = pd.Series(ours, index=frame.index, dtype=float)
    return out


def matched_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """`with_paper` for plots: a paper number is kept only where the cell's own figure was
    measured under the paper's conditions, so a paper point is never linked to a point that
    means something else (nothing is counted again)."""
    out = with_paper(frame)
    for column in COMPARED:
        out.loc[out[f"matched_{column}"].isna(), f"paper_{column}"] = math.nan
    return out
