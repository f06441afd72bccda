"""The MTNet paper's own numbers (Tables 2-4), and their join onto measured cells.

The numbers live in `paper_reference.csv` beside this module, one number per row with the table
it was transcribed from, so a reviewer can check each against the paper. A measured cell matches
a paper row on the model configuration: registry name, and for MTNets the ratio r and the
sub-streams g. Accuracy also matches on the dataset the cell was evaluated on.

Our forward+backward latency is compared with the paper's B column: the paper does not say
whether B includes the forward pass, and B is 1.4-2x F, which reads as a full training step.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pandas as pd

REFERENCE_FILE = Path(__file__).with_name("paper_reference.csv")

# Measured column -> the paper metric it is compared with.
COMPARED = {
    "params_m": "params_m",
    "gflops": "gflops",
    "lat_fwd_ms": "latency_fwd_ms",
    "lat_fwdbwd_ms": "latency_b_ms",
    "top1": "top1",
    "top5": "top5",
}
ACCURACY = ("top1", "top5")

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
    """The transcribed numbers, one row each: model, r, g, paper_name, input, source,
    dataset, metric, value."""
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
def _lookup() -> dict[tuple, float]:
    """(model, r, g, dataset, metric) -> value. Tables repeat some numbers (Table 2's r = 0.875
    rows are Table 4's); the repeats agree, so the first one stands."""
    table: dict[tuple, float] = {}
    for row in reference().itertuples(index=False):
        key = (*_key(row.model, row.r, row.g), row.dataset, row.metric)
        table.setdefault(key, row.value)
    return table


def with_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` plus `paper_<column>` for each compared column: the paper's number for the same
    configuration (accuracy: on the same dataset), NaN where the paper has none."""
    lookup = _lookup()
    out = frame.copy()
    for column, metric in COMPARED.items():
        values = []
        for row in frame.itertuples(index=False):
            dataset = paper_dataset(row.dataset) if metric in ACCURACY else ""
            key = (*_key(row.model, row.r, row.g), dataset, metric)
            values.append(lookup.get(key, float("nan")))
        out[f"paper_{column}"] = pd.Series(values, index=frame.index, dtype=float)
    return out
