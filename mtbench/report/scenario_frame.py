"""A record's scenario (`record.Scenario`) as the report's flat columns: what LoadGen or the
stream concluded, with the label that a short run is never MLPerf-valid."""

from __future__ import annotations

import math
from typing import Any

SCENARIO_COLUMNS = [
    "scenario",
    "scenario_text",  # name, LoadGen's verdict with its failed constraints, short or not
    "scenario_p90_ms",  # per query (LoadGen) or per window (stream)
    "scenario_p99_ms",
    "scenario_qps",  # queries/s (single/multi-stream), the highest QPS (server), clips/s
    "scenario_batch",  # offline: the batch with the most clips/s
    "stream_fps",  # the stream's frame rate as run
    "miss_rate",  # % of windows missed at stream_fps
    "live_fps",  # a stream search: the highest fps with at most 1% missed
    "scenario_run",  # the record's part, for tables that read the curves
]


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def scenario_text(part: dict[str, Any] | None, name: str) -> str:
    """'server: INVALID (early stopping); short run (1 s; MLPerf: 600 s): not MLPerf-valid'."""
    if part is None:
        return name
    loadgen = part.get("loadgen")
    text = part["name"]
    if loadgen is not None:
        failed = loadgen["failed"]
        text += f": {loadgen['result']}" + (f" ({', '.join(failed)})" if failed else "")
    search = part.get("search")
    if search is not None and search["note"]:
        text += f"; {search['note']}"
    if part.get("verdict") == "disturbed":
        text += f"; disturbed ({'; '.join(part.get('reasons') or [])})"
    return f"{text}; {part['label']}"


def _qps(part: dict[str, Any]) -> float:
    """The scenario's throughput figure: queries/s for the streams, the server's highest
    rate at the bound (or its completed rate), the offline clips/s."""
    loadgen, search = part["loadgen"], part.get("search")
    if loadgen is None:
        return math.nan
    if part["name"] == "server" and search is not None:
        return _float(search["found"])
    if part["name"] in ("single-stream", "multi-stream"):
        return _float(loadgen["qps_without_overhead"])
    return _float(loadgen["samples_per_s"])


def scenario_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The scenario columns of one record (read through `read_record`); NaN where the
    scenario has no such figure, `repeat` with nothing else for a record without one."""
    part = record.get("scenario_run")
    out: dict[str, Any] = {column: math.nan for column in SCENARIO_COLUMNS}
    out.update(scenario=record.get("scenario") or "repeat", scenario_run=part)
    out["scenario_text"] = scenario_text(part, out["scenario"])
    if part is None:
        return out
    if (loadgen := part.get("loadgen")) is not None:
        out["scenario_p90_ms"] = _float(loadgen["percentiles_ms"].get("p90"))
        out["scenario_p99_ms"] = _float(loadgen["percentiles_ms"].get("p99"))
        out["scenario_qps"] = _qps(part)
    search = part.get("search")
    if part["name"] == "offline" and search is not None:
        out["scenario_batch"] = _float(search["found"])
    if (stream := part.get("stream")) is not None:
        out.update(
            scenario_p90_ms=stream["p90_ms"],
            scenario_p99_ms=stream["p99_ms"],
            stream_fps=stream["fps"],
            miss_rate=stream["miss_rate"] * 100,
        )
        if search is not None:
            out["live_fps"] = _float(search["found"])
    return out
