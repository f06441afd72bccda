"""Every cell against a baseline cell measured under the same conditions, each difference with
its uncertainty.

A cell is compared only with a baseline cell of the same machine (`measure.machine`), device,
input, batch, dtype, execution mode, runtime and thread count (`--baseline runtime=NAME`: with
the same model under runtime NAME, the one comparison across runtimes); accuracy also needs the
same dataset and views. What the records allow decides the uncertainty:

- latency: the ratio of the two medians, with a 95% percentile-bootstrap interval that resamples
  each cell's raw per-repeat times (records written before those were kept: "unavailable");
- a scenario's p90 (LoadGen's per query, the stream's per window): the ratio of the two, with
  the bootstrap interval over the latencies each record kept (records without them: one run
  each, no interval); its throughput: single- and multi-stream's queries/s, the ratio of LoadGen's
  figures with the bootstrap interval of the ratio of the mean latencies around it; the server's
  highest rate, bounded by each search's next failing step ("search step"); offline's clips/s
  one run each;
- GFLOPs and params: exact counts, so their ratios carry no uncertainty;
- top-1: the difference of the means over training seeds, with its standard error and a 95%
  Student-t interval: paired by seed when both cells ran the same seeds (the seed fixes the
  initialisation and the data order, which both cells then share), Welch's otherwise; one seed
  on either side gives no interval.

An interval that contains 1 (ratios) or 0 (differences) is marked not resolved: the data
cannot tell the two cells apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mtbench import numbers
from mtbench.errors import UsageError
from mtbench.table_model import Column, TextTable, to_csv, to_markdown

LEVEL = 0.95
RESAMPLES = 4000
SEED = 0  # the bootstrap's generator: the same store prints the same intervals every time

# Conditions two cells must share to be compared (machine first: `--across-machines` drops
# it); accuracy adds ACCURACY_CONDITIONS.
CONDITIONS = (
    "machine",
    "device",
    "input",
    "batch_size",
    "dtype",
    "mode",
    "runtime",
    "threads",
    "scenario",
)
# `--baseline runtime=NAME`: each cell against its own model under runtime NAME, all else equal
# (the mode names the runtime, so it is left out with it).
RUNTIME_BASELINE = "runtime="
SAME_MODEL = ("model", "kwargs_text", *(c for c in CONDITIONS if c not in ("mode", "runtime")))
ACCURACY_CONDITIONS = ("dataset", "views")
NOT_RESOLVED = "n.r."
UNAVAILABLE = "unavailable"
DISTURBED = "disturbed"
ONE_RUN = "one run each"  # a scenario's figure: one LoadGen run or stream per cell, no repeats


@dataclass(frozen=True)
class Estimate:
    """A ratio or difference with its 95% interval (NaN bounds: no interval possible)."""

    value: float
    low: float = math.nan
    high: float = math.nan
    null: float = 1.0  # the value meaning "no difference": 1 for a ratio, 0 for a difference
    se: float = math.nan
    how: str = ""

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    @property
    def resolved(self) -> bool | None:
        """True when the interval excludes the null value, None when there is no interval."""
        if not self.has_interval:
            return None
        return not (self.low <= self.null <= self.high)


def bootstrap_median(samples: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Medians of `RESAMPLES` resamples (with replacement) of `samples`."""
    return bootstrap(samples, rng, np.median)


def bootstrap(
    samples: Sequence[float], rng: np.random.Generator, statistic: Callable[..., np.ndarray]
) -> np.ndarray:
    """`statistic(resample, axis=1)` of `RESAMPLES` resamples (with replacement) of `samples`."""
    data = np.asarray(samples, dtype=float)
    picks = rng.integers(0, len(data), size=(RESAMPLES, len(data)))
    return statistic(data[picks], axis=1)


def percentile_interval(draws: np.ndarray) -> tuple[float, float]:
    """The central `LEVEL` interval of bootstrap draws."""
    low, high = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


def t_half_width(se: float, df: float) -> float:
    """Half-width of the `LEVEL` Student-t interval for a standard error `se` and `df` degrees
    of freedom."""
    from scipy import stats  # a second to import: only when an interval is asked for

    return float(stats.t.ppf((1 + LEVEL) / 2, df)) * se


def median_interval(samples: Sequence[float]) -> tuple[float, float] | None:
    """95% percentile-bootstrap interval of one cell's median latency; None without at least
    two raw repeats."""
    if len(samples) < 2:
        return None
    return percentile_interval(bootstrap_median(samples, np.random.default_rng(SEED)))


def latency_ratio(
    cell: Sequence[float],
    base: Sequence[float],
    median: float,
    base_median: float,
    disturbed: bool = False,
) -> Estimate:
    """median(cell) / median(base), with the bootstrap interval of that ratio: both sets of
    repeats resampled independently. With a `disturbed` side no interval: the repeats
    measured a busy machine as much as the model, and an interval would call that resolved."""
    value = median / base_median if base_median else math.nan
    if disturbed:
        return Estimate(value, how=DISTURBED)
    if len(cell) < 2 or len(base) < 2:
        return Estimate(value, how=UNAVAILABLE)
    rng = np.random.default_rng(SEED)
    low, high = percentile_interval(bootstrap_median(cell, rng) / bootstrap_median(base, rng))
    return Estimate(value, low, high, how="bootstrap")


def seed_difference(cell: dict[int, float], base: dict[int, float]) -> Estimate:
    """mean(cell) - mean(base) over seeds, in accuracy points, with SE and 95% t-interval."""
    if not cell or not base:
        return Estimate(math.nan, null=0.0, how=UNAVAILABLE)
    a, b = np.array(list(cell.values())), np.array(list(base.values()))
    value = float(a.mean() - b.mean())
    if set(cell) == set(base) and len(cell) >= 2:
        seeds = sorted(cell)
        diffs = np.array([cell[s] - base[s] for s in seeds])
        se = float(diffs.std(ddof=1) / math.sqrt(len(diffs)))
        df = len(diffs) - 1
        how = f"paired, {len(diffs)} seeds"
    elif len(a) >= 2 and len(b) >= 2:
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = float(math.sqrt(va + vb))
        df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se else 1.0
        how = f"Welch, {len(a)} and {len(b)} seeds"
    else:
        return Estimate(value, null=0.0, how=f"{UNAVAILABLE}: {len(a)} and {len(b)} seeds")
    half = t_half_width(se, df)
    return Estimate(value, value - half, value + half, null=0.0, se=se, how=how)


def _is_baseline(frame: pd.DataFrame, baseline: str) -> pd.Series:
    """Rows whose label is `baseline`, or failing that whose registry name is."""
    by_label = frame["label"] == baseline
    return by_label if by_label.any() else frame["model"] == baseline


def _key(row: pd.Series, columns: Sequence[str]) -> tuple:
    return tuple("" if pd.isna(row[c]) else row[c] for c in columns)


@dataclass
class Comparison:
    """The rows of `compare` and the cells that found no baseline, with the reason."""

    rows: list[dict]
    unmatched: list[str]
    baseline: str


def compare(frame: pd.DataFrame, baseline: str, across_machines: bool = False) -> Comparison:
    """Each successful cell (seeds already aggregated) against the baseline cell under the same
    conditions. A cell whose only baseline ran on another machine is listed as unmatched,
    unless `across_machines`. `runtime=NAME` compares each cell with the same model's cell under
    runtime NAME instead: the only comparison across runtimes."""
    if baseline.startswith(RUNTIME_BASELINE):
        return compare_runtimes(frame, baseline.removeprefix(RUNTIME_BASELINE))
    is_base = _is_baseline(frame, baseline)
    if not is_base.any():
        names = ", ".join(dict.fromkeys(frame["label"]))
        raise UsageError(f"--baseline {baseline!r}: no such cell (labels: {names})")
    bases: dict[tuple, pd.Series] = {}
    for _, row in frame[is_base].iterrows():
        key = _key(row, CONDITIONS)
        if key in bases:
            raise UsageError(
                f"--baseline {baseline!r} names more than one cell under the same conditions "
                f"({bases[key]['label']}, {row['label']}); give one cell's label"
            )
        bases[key] = row
    machines_with_base = {row["machine"] for row in bases.values()}
    rows, unmatched = [], []
    elsewhere_bases = {_key(row, CONDITIONS[1:]): row for row in reversed(list(bases.values()))}
    for _, cell in frame[~is_base].iterrows():
        base = bases.get(_key(cell, CONDITIONS))
        if base is None and across_machines:  # the same conditions on another machine
            base = elsewhere_bases.get(_key(cell, CONDITIONS[1:]))
        if base is None:
            elsewhere = cell["machine"] not in machines_with_base
            why = (
                f"the baseline ran on another machine, not {cell['machine']} "
                "(--across-machines compares anyway)"
                if elsewhere and not across_machines
                else "no baseline cell under the same conditions"
            )
            unmatched.append(f"{cell['label']} ({cell['input']}, {cell['device']}): {why}")
            continue
        rows.append(_row(cell, base))
    return Comparison(rows, unmatched, baseline)


def compare_runtimes(frame: pd.DataFrame, runtime: str) -> Comparison:
    """Each cell under another runtime against the same model (same keyword arguments, input,
    batch, dtype, threads, machine) under `runtime`: what deploying it there changes."""
    present = list(dict.fromkeys(frame["runtime"]))
    if runtime not in present:
        raise UsageError(
            f"--baseline runtime={runtime}: no cell ran under {runtime!r}"
            f" (runtimes: {', '.join(present)})"
        )
    frame = frame.assign(kwargs_text=frame["kwargs"].map(lambda k: repr(sorted(k.items()))))
    is_base = frame["runtime"] == runtime
    bases = {_key(row, SAME_MODEL): row for _, row in frame[is_base].iterrows()}
    rows, unmatched = [], []
    for _, cell in frame[~is_base].iterrows():
        base = bases.get(_key(cell, SAME_MODEL))
        if base is None:
            why = f"no {runtime} cell of {cell['model']} under the same conditions"
            unmatched.append(f"{cell['label']} ({cell['input']}, {cell['device']}): {why}")
        else:
            rows.append(_row(cell, base))
    return Comparison(rows, unmatched, f"runtime {runtime}")


def _top1_by_seed(row: pd.Series) -> dict[int, float]:
    """The cell's top-1 per seed; a trained cell whose record names no seed counts as one."""
    if row["top1_by_seed"]:
        return row["top1_by_seed"]
    return {} if pd.isna(row["top1"]) else {-1: row["top1"]}


def frame_latency_ratio(cell: pd.Series, base: pd.Series, stem: str) -> Estimate:
    """`latency_ratio` of two rows of a report frame for timing `stem` (`latency_fwd`), with
    no interval where either row's timing was disturbed."""
    disturbed = DISTURBED in (cell[f"{stem}_verdict"], base[f"{stem}_verdict"])
    return latency_ratio(
        cell[f"{stem}_samples"],
        base[f"{stem}_samples"],
        cell[f"{stem}_ms"],
        base[f"{stem}_ms"],
        disturbed,
    )


def _row(cell: pd.Series, base: pd.Series) -> dict:
    same_data = _key(cell, ACCURACY_CONDITIONS) == _key(base, ACCURACY_CONDITIONS)
    return {
        "cell": cell["label"],
        "baseline": base["label"],
        "machine": cell["machine"]
        if cell["machine"] == base["machine"]
        else f"{cell['machine']} vs {base['machine']}",
        "conditions": f"{cell['device']}, {cell['input']}, batch {cell['batch_size']:g}, "
        f"{cell['dtype']}, {_mode_text(cell, base)}, {numbers.count(cell['threads'], 'thread')}",
        "latency_fwd": frame_latency_ratio(cell, base, "latency_fwd"),
        "latency_fwdbwd": frame_latency_ratio(cell, base, "latency_fwdbwd"),
        "scenario_p90": _scenario_ratio(cell, base, "scenario_p90_ms"),
        "scenario_qps": _scenario_ratio(cell, base, "scenario_qps"),
        "gflops": Estimate(cell["gflops"] / base["gflops"], how="exact"),
        "params": Estimate(cell["params_m"] / base["params_m"], how="exact"),
        "top1": seed_difference(_top1_by_seed(cell), _top1_by_seed(base))
        if same_data or cell[["top1"]].isna().any() or base[["top1"]].isna().any()
        else Estimate(math.nan, null=0.0, how="other dataset"),
    }


def _scenario_ratio(cell: pd.Series, base: pd.Series, column: str) -> Estimate:
    """A scenario's figure over the baseline's (the same scenario: it is a condition)."""
    value = cell[column] / base[column] if base[column] else math.nan
    parts = cell["scenario_run"], base["scenario_run"]
    if math.isnan(value) or not all(isinstance(p, dict) for p in parts):
        return Estimate(value, how=ONE_RUN)
    if any(p.get("verdict") == DISTURBED for p in parts):
        return Estimate(value, how=DISTURBED)
    if column == "scenario_qps" and cell["scenario"] == "server":
        return _search_step_ratio(value, *(p.get("search") for p in parts))
    if column == "scenario_qps" and cell["scenario"] not in ("single-stream", "multi-stream"):
        return Estimate(value, how=ONE_RUN)
    samples = [_scenario_latencies(p) for p in parts]
    if min(len(s) for s in samples) < 2:
        return Estimate(value, how=ONE_RUN)
    rng = np.random.default_rng(SEED)
    if column == "scenario_p90_ms":
        draws = [bootstrap(s, rng, lambda d, axis: np.quantile(d, 0.9, axis=axis)) for s in samples]
        return Estimate(value, *percentile_interval(draws[0] / draws[1]), how="bootstrap")
    # queries/s go as 1/mean latency: the interval of base mean / cell mean, around LoadGen's.
    draws = [bootstrap(s, rng, np.mean) for s in samples]
    point = np.mean(samples[1]) / np.mean(samples[0])
    low, high = percentile_interval(draws[1] / draws[0] * value / point)
    return Estimate(value, low, high, how="bootstrap")


def _scenario_latencies(part: dict) -> list[float]:
    """The per-query (LoadGen) or per-window (stream) latencies a record kept, else none."""
    run = part.get("loadgen") or part.get("stream") or {}
    return run.get("latencies_ms") or []


def _search_step_ratio(value: float, cell: dict | None, base: dict | None) -> Estimate:
    """The server's highest rate over the baseline's, bounded by what each search tried: the
    true rate lies between the step that passed and the next one up that failed."""
    bounds = [_search_bounds(s) for s in (cell, base)]
    if None in bounds:
        return Estimate(value, how=ONE_RUN)
    (c_low, c_high), (b_low, b_high) = bounds  # type: ignore[misc]
    return Estimate(value, c_low / b_high, c_high / b_low, how="search step")


def _search_bounds(search: dict | None) -> tuple[float, float] | None:
    if not search or search.get("found") is None:
        return None
    found = search["found"]
    above = [p["at"] for p in search["curve"] if not p["passed"] and p["at"] > found]
    return (found, min(above)) if above and found > 0 else None


def _mode_text(cell: pd.Series, base: pd.Series) -> str:
    """The cell's mode, and the baseline's when they differ (another runtime)."""
    return cell["mode"] if cell["mode"] == base["mode"] else f"{cell['mode']} vs {base['mode']}"


def ratio_text(estimate: Estimate, places: int = 2) -> str:
    """'1.23 [1.20, 1.27]', '0.99 [0.97, 1.02] n.r.', '2.67 †' (a disturbed side: no interval)."""
    if math.isnan(estimate.value):
        return numbers.MISSING
    text = numbers.decimal(estimate.value, places)
    if estimate.how == "exact":
        return text
    if estimate.how == DISTURBED:
        return numbers.marked(text, True)
    if estimate.how == ONE_RUN:
        return f"{text} ({ONE_RUN})"
    if estimate.how == "search step":
        return f"{text} {numbers.interval(estimate.low, estimate.high, places)} (search step)"
    if not estimate.has_interval:
        return f"{text} [{UNAVAILABLE}]"
    flag = "" if estimate.resolved else f" {NOT_RESOLVED}"
    return f"{text} {numbers.interval(estimate.low, estimate.high, places)}{flag}"


def difference_text(estimate: Estimate) -> str:
    if math.isnan(estimate.value):
        return numbers.MISSING if estimate.how != "other dataset" else "– (other dataset)"
    text = numbers.decimal(estimate.value, 2, sign=True)
    if not estimate.has_interval:
        return f"{text} [{estimate.how}]"
    flag = "" if estimate.resolved else f" {NOT_RESOLVED}"
    bounds = numbers.interval(estimate.low, estimate.high, 2, sign=True)
    return f"{text} ± {numbers.decimal(estimate.se, 2)} {bounds}{flag} ({estimate.how})"


HEADERS = {
    "cell": "Cell",
    "conditions": "Conditions",
    "latency_fwd": "Latency F ratio [95% CI]",
    "latency_fwdbwd": "Latency F+B ratio [95% CI]",
    "scenario_p90": "Scenario p90 ratio",
    "scenario_qps": "QPS ratio",
    "gflops": "GFLOPs ratio",
    "params": "Params ratio",
    "top1": "Top-1 Δ (points) ± SE [95% CI]",
}


RATIOS = ("latency_fwd", "latency_fwdbwd", "scenario_p90", "scenario_qps", "gflops", "params")


def comparison_table(comparison: Comparison) -> TextTable:
    """The rows as text, one column per figure (the machine first); columns that no row has
    are left out."""
    columns = [Column("Machine", "left"), *(Column(h, "left") for h in HEADERS.values())]
    rows = [
        [
            row["machine"],
            row["cell"],
            row["conditions"],
            *(ratio_text(row[k]) for k in RATIOS),
            difference_text(row["top1"]),
        ]
        for row in comparison.rows
    ]
    return TextTable(columns, rows).drop_empty(keep=("Machine", "Cell", "Conditions"))


FOOTNOTE = (
    "Ratios are cell / baseline (below 1: faster or smaller); latency intervals are 95% "
    "percentile-bootstrap intervals over each cell's raw repeats ([unavailable]: a record "
    f"written before raw repeats were kept; {numbers.DISTURBED_MARK}: no interval, a side was "
    f"disturbed). A scenario's p90 and QPS are compared within the same scenario: bootstrap "
    "intervals over the per-query or per-window latencies each record kept, the server's "
    f"highest rate between each search's passing and next failing step; {ONE_RUN}: no "
    "interval (offline, or records without latencies). GFLOPs and params are exact counts. "
    "Top-1 Δ is cell minus baseline over training seeds (paired by seed where both ran the "
    f"same seeds, else Welch), 95% Student-t interval. {NOT_RESOLVED}: not resolved, the "
    "interval contains 1 (ratio) or 0 (difference)."
)


def render_comparison(comparison: Comparison, fmt: str = "md") -> str:
    """Markdown (a section per machine, footnotes, unmatched cells) or CSV (one table)."""
    table = comparison_table(comparison)
    if fmt == "csv":
        return to_csv(table)
    sections = []
    for machine in dict.fromkeys(row[0] for row in table.rows):
        part = TextTable(table.columns[1:], [r[1:] for r in table.rows if r[0] == machine])
        sections.append(f"### against {comparison.baseline} on {machine}\n\n" + to_markdown(part))
    if not sections:
        sections.append(f"### against {comparison.baseline}\n\n_No cell could be compared._")
    notes = [FOOTNOTE, *(f"not compared: {line}" for line in comparison.unmatched)]
    if any(numbers.DISTURBED_MARK in text for row in table.rows for text in row):
        notes.insert(1, numbers.DISTURBED_NOTE)
    return "\n\n".join(sections) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
