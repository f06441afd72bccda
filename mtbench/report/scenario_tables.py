"""Can it run live: per model, runtime and input, the highest frame rate its stream cells
sustained with at most 1% of windows missed, and the share missed at 25 and 30 fps; and what
every scenario gives, side by side, for the same rows (`summary_table`).

Read from stream cells (`scenario = "stream"`): a search cell gives the highest fps, a cell
run at 25 or 30 fps (or a search step that landed on it) its misses there. A figure no cell
measured is shown missing, never guessed from another.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mtbench import numbers
from mtbench.table_model import Column, Figure, TextTable

LIVE_RATES = (25.0, 30.0)
LIVE_HEADERS = [
    Column("Model", "left"),
    Column("Runtime", "left"),
    Column("Input (T×H×W)", "left"),
    Column("Window / stride"),
    Column("Live fps (≤ 1% missed)"),
    *(Column(f"Missed at {rate:g} fps (%)") for rate in LIVE_RATES),
    Column("p99 at 25 fps (ms)"),
]


def _name(row: pd.Series) -> str:
    kwargs = ", ".join(f"{k}={v}" for k, v in sorted(row["kwargs"].items()))
    return f"{row['model']} {kwargs}".strip()


def _at(group: pd.DataFrame, rate: float) -> tuple[float, float]:
    """(% missed, p99 ms) of a stream run at `rate` fps: a cell run there, else a search step."""
    for part in group["scenario_run"]:
        stream = part["stream"]
        if not (part.get("search") or None) and math.isclose(stream["fps"], rate):
            return stream["miss_rate"] * 100, stream["p99_ms"]
    for part in group["scenario_run"]:
        for point in (part.get("search") or {}).get("curve", []):
            if math.isclose(point["at"], rate):
                return point["miss_rate"] * 100, point["p99_ms"]
    return math.nan, math.nan


def _cell(value: float, places: int = 1) -> Figure:
    return Figure(None if math.isnan(value) else value, numbers.decimal(value, places))


def live_table(frame: pd.DataFrame, title: str = "") -> TextTable:
    """One row per model (with its keyword arguments), runtime and input among the frame's
    successful stream cells."""
    ok = frame[(frame["status"] == "ok") & (frame["scenario"] == "stream")]
    rows: list[list[Any]] = []
    shorts: set[float] = set()
    for _, group in ok.groupby([ok.apply(_name, axis=1), ok["runtime"], ok["input"]], sort=False):
        first = group.iloc[0]
        settings = first["scenario_run"]["settings"]
        shorts.update(p["settings"]["min_duration_s"] for p in group["scenario_run"])
        missed = [_at(group, rate) for rate in LIVE_RATES]
        rows.append(
            [
                _name(first),
                first["runtime"],
                first["input"],
                f"{settings['window']} / {settings['stride']}",
                _cell(group["live_fps"].max()),
                *(_cell(m) for m, _ in missed),
                _cell(missed[0][1], 2),
            ]
        )
    seconds = ", ".join(f"{s:g}" for s in sorted(shorts))
    notes = [
        "Live fps: the highest frame rate a search found with at most 1% of windows finished "
        "after the next was due; missed: windows finished after the next one was due; latency "
        f"from a window's last frame to its logits. Runs of {seconds} s each: short runs, "
        "the tail of a longer run can be worse."
    ]
    return TextTable(LIVE_HEADERS, rows, title, notes if rows else [])


SUMMARY_HEADERS = [
    Column("Model", "left"),
    Column("Runtime", "left"),
    Column("Input (T×H×W)", "left"),
    Column("GFLOPs"),
    Column("Batch-1 median (ms)"),
    Column("Single-stream p90 (ms)"),
    Column("Multi-stream p99 (ms)"),
    Column("Server QPS"),
    Column("Offline clips/s"),
    Column("Best batch"),
    Column("Live fps"),
]


def _figure(
    group: pd.DataFrame, scenario: str, column: str, places: int = 2, found: bool = False
) -> Figure:
    """The group's `scenario` cell's `column`, marked † where that scenario ran disturbed; a
    search's `found` value marked ≥ where every step of it passed."""
    cells = group[group["scenario"] == scenario]
    if cells.empty or math.isnan(value := float(cells.iloc[-1][column])):
        return Figure(None, numbers.MISSING)
    part = cells.iloc[-1]["scenario_run"] or {}
    text = numbers.marked(numbers.decimal(value, places), part.get("verdict") == "disturbed")
    return Figure(value, numbers.at_least(text, found and _open_ended(part)))


def _open_ended(part: dict[str, Any]) -> bool:
    """Whether the part's search passed at every step: its value is a lower bound."""
    search = part.get("search") or {}
    return bool(search.get("curve")) and all(p["passed"] for p in search["curve"])


def _batch(group: pd.DataFrame) -> Figure:
    """Offline's best batch, a count."""
    cells = group[group["scenario"] == "offline"]
    if cells.empty or math.isnan(value := float(cells.iloc[-1]["scenario_batch"])):
        return Figure(None, numbers.MISSING)
    return Figure(value, str(int(value)))


def _median(group: pd.DataFrame) -> Figure:
    """The batch-1 forward median of the group's single-stream cell (its repeats beside the
    scenario), else of any of its cells."""
    cells = group[group["scenario"] == "single-stream"]
    row = (cells if not cells.empty else group).iloc[-1]
    disturbed = row["latency_fwd_verdict"] == "disturbed"
    value = float(row["latency_fwd_ms"])
    return Figure(value, numbers.marked(numbers.decimal(value), disturbed))


def summary_table(frame: pd.DataFrame, title: str = "") -> TextTable:
    """What each scenario gives, one row per model (with its keyword arguments), runtime and
    input among the frame's successful scenario cells: where the batch-1 median ranks models
    one way and a server's rate, a batch's throughput or a stream's fps another."""
    ok = frame[(frame["status"] == "ok") & (frame["scenario"] != "repeat")]
    rows: list[list[Any]] = []
    shorts: set[float] = set()
    for _, group in ok.groupby([ok.apply(_name, axis=1), ok["runtime"], ok["input"]], sort=False):
        first = group.iloc[0]
        shorts.update(p["settings"]["min_duration_s"] for p in group["scenario_run"])
        rows.append(
            [
                _name(first),
                first["runtime"],
                first["input"],
                _cell(first["gflops"], 2),
                _median(group),
                _figure(group, "single-stream", "scenario_p90_ms"),
                _figure(group, "multi-stream", "scenario_p99_ms"),
                _figure(group, "server", "scenario_qps", found=True),
                _figure(group, "offline", "scenario_qps"),
                _batch(group),
                _figure(group, "stream", "live_fps", 1, found=True),
            ]
        )
    seconds = ", ".join(f"{s:g}" for s in sorted(shorts))
    notes = [
        "Per clip: the batch-1 median of the forward's repeats; single-stream's p90 and "
        "multi-stream's p99 (a query of its samples_per_query clips) as LoadGen measured them; "
        "the server's highest Poisson rate whose p99 met its bound; offline's clips/s at the "
        "batch with the most; the highest stream fps with at most 1% of windows missed. "
        f"LoadGen runs and streams of {seconds} s: short runs, never MLPerf-valid. "
        f"{numbers.DISTURBED_MARK}: disturbed, the verdict on that figure's timing (the repeats' "
        "spread or other processes; a scenario's: other processes, or a stream's forwards at "
        "another speed than the repeats')."
    ]
    if any(c.text.startswith(numbers.AT_LEAST) for r in rows for c in r if isinstance(c, Figure)):
        notes.append(numbers.OPEN_ENDED_NOTE)
    return TextTable(SUMMARY_HEADERS, rows, title, notes if rows else [])


def _ms(values: list[float | None]) -> str:
    return " / ".join(numbers.decimal(v) for v in values) + " ms"


def _loadgen_rows(run: dict[str, Any]) -> list[list[str]]:
    kept = ("p50", "p90", "p99", "p99.9")
    rows = [
        ["LoadGen p50 / p90 / p99 / p99.9", _ms([run["percentiles_ms"].get(k) for k in kept])],
    ]
    if run["early_stopping_ms"]:
        estimates = ", ".join(
            f"{k} {numbers.decimal(v)} ms" for k, v in run["early_stopping_ms"].items()
        )
        rows.append(["early-stopping estimate", estimates])
    elif run["early_stopping"]:
        rows.append(["early stopping", " ".join(run["early_stopping"])])
    if run["qps_without_overhead"] is not None:
        rows.append(
            [
                "QPS without / with LoadGen",
                f"{numbers.decimal(run['qps_without_overhead'])}"
                f" / {numbers.decimal(run['qps_with_overhead'])}",
            ]
        )
    if run["samples_per_s"] is not None:
        rows.append(["samples / s", numbers.decimal(run["samples_per_s"])])
    logs = f"; logs {', '.join(run['logs'])}" if run["logs"] else ""
    rows.append(["LoadGen", f"{run['loadgen_version']}{logs}"])
    return rows


def _stream_rows(stream: dict[str, Any]) -> list[list[str]]:
    return [
        [
            "stream",
            f"{numbers.decimal(stream['fps'], 1)} fps, window {stream['window']} frames every"
            f" {stream['stride']}, {stream['source']}"
            + (f" ({stream['video']})" if stream.get("video") else ""),
        ],
        ["window p50 / p90 / p99", _ms([stream["p50_ms"], stream["p90_ms"], stream["p99_ms"]])],
        [
            "missed windows",
            f"{stream['misses']} of {stream['windows']}"
            f" ({numbers.decimal(stream['miss_rate'] * 100, 1)}%)",
        ],
        ["sustained", f"{numbers.decimal(stream['sustained_fps'], 1)} fps"],
    ]


def scenario_rows(part: dict[str, Any]) -> list[list[str]]:
    """A record's scenario as (measure, value) rows for `mtbench profile`'s table."""
    from mtbench.report.scenario_frame import scenario_text

    rows = [["scenario", scenario_text(part, part["name"])]]
    if part["loadgen"] is not None:
        rows += _loadgen_rows(part["loadgen"])
    if part["stream"] is not None:
        rows += _stream_rows(part["stream"])
    if (search := part["search"]) is not None:
        steps = ", ".join(
            f"{numbers.decimal(p['at'], 1)} {'ok' if p['passed'] else 'no'}"
            for p in search["curve"]
        )
        found = search["note"] or f"found {numbers.decimal(search['found'], 1)}"
        rows.append([f"search over {search['over']}", f"{found}; steps: {steps}"])
    return rows
