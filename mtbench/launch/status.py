"""Where `mtbench status` says each cell stands: done, failed (why), submitted (job id and
SLURM state) or not started, from the store, the launcher's journal and squeue (or sacct)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mtbench.errors import UsageError
from mtbench.launch.jobs import accounted_states, is_active, queued_states, submissions
from mtbench.suite.grid import load_suite
from mtbench.suite.runner import SUITE_COPY
from mtbench.suite.schema import SuiteError
from mtbench.suite.store import is_store, latest_by_cell, read_records

STATES = ("done", "failed", "submitted", "not started")


@dataclass
class CellStatus:
    cell_key: str
    label: str
    state: str  # one of STATES
    reason: str | None = None  # a failed cell's error
    job_id: str | None = None
    slurm_state: str | None = None  # squeue's, sacct's, or why there is none


def copied_suite_cells(folder: Path) -> tuple[dict[str, str], str | None]:
    """The cells (key: label) of the suite copied beside the store, and why there are none
    where the copy no longer expands (its relative `imports` are read from the store's folder,
    not the suite's): the store's own cells still show."""
    if not (folder / SUITE_COPY).exists():
        return {}, None
    try:
        return {c.key: c.label for c in load_suite(folder / SUITE_COPY)[1]}, None
    except SuiteError as exc:
        return {}, exc.problems[-1]


def store_status(folder: Path, cells: dict[str, str] | None = None) -> list[CellStatus]:
    """Every cell of the suite (`cells`, key: label; by default the copy beside the store's),
    in suite order, then any other cell the store holds."""
    if cells is None:
        cells = copied_suite_cells(folder)[0]
    records = latest_by_cell(read_records(folder))
    submitted = submissions(folder)
    job_ids = {s["job_id"] for s in submitted.values()}
    queued = queued_states(job_ids)
    ended = accounted_states(job_ids - set(queued or {}))
    out = []
    for key in dict.fromkeys([*cells, *records, *submitted]):
        record, sub = records.get(key), submitted.get(key)
        label = cells.get(key) or (record or sub or {}).get("label") or key
        status = CellStatus(key, label, "not started")
        if sub is not None:
            job = sub["job_id"]
            if queued is None:
                slurm = "unknown: no squeue here"
            else:
                slurm = queued.get(job) or ended.get(job)
            if slurm is None and record is None:
                slurm = f"ended without a record; log {sub.get('log')}"
            status.job_id, status.slurm_state = job, slurm
            newer = record is None or sub["submitted_at"] > (record.get("finished_at") or "")
            if queued is not None and is_active(queued.get(job)) and newer:
                status.state = "submitted"
            elif record is None:
                status.state = "submitted"
        if status.state == "not started" and record is not None:
            ok = record.get("status") == "ok"
            status.state = "done" if ok else "failed"
            status.reason = None if ok else record.get("error") or record.get("status")
        out.append(status)
    return out


def summary_line(statuses: list[CellStatus]) -> str:
    counts = Counter(s.state for s in statuses)
    slurm = Counter(s.slurm_state for s in statuses if s.state == "submitted")
    parts = [f"{counts[state]} {state}" for state in STATES]
    if slurm:
        parts[2] += f" ({', '.join(f'{n} {state}' for state, n in sorted(slurm.items()))})"
    return f"{len(statuses)} cells: {', '.join(parts)}"


def show_status(folder: Path, as_json: bool, cells: dict[str, str] | None = None) -> None:
    """Print where each cell of the store in `folder` stands: those of `cells` (key: label,
    from the suite file) or, without them, of the suite copied beside the store."""
    if cells is None:
        if not is_store(folder) and not (folder / SUITE_COPY).exists():
            raise UsageError(f"{folder}: no results.jsonl, results.d/ or {SUITE_COPY} in it")
        cells, problem = copied_suite_cells(folder)
        if problem is not None:
            typer.echo(
                f"note: {problem}; cells not started are not listed (give the suite file: "
                "mtbench status SUITE.toml)",
                err=True,
            )
    statuses = store_status(folder, cells)
    line = summary_line(statuses)
    if as_json:
        print(json.dumps({"cells": [asdict(s) for s in statuses], "summary": line}, indent=2))
        return
    console = Console()
    table = Table(title=str(folder))
    for col in ("cell", "label", "state", "job", "SLURM state / reason"):
        table.add_column(col, overflow="fold")
    colour = {"done": "green", "failed": "red", "submitted": "yellow", "not started": "dim"}
    for s in statuses:
        table.add_row(
            s.cell_key[:8],
            s.label,
            f"[{colour[s.state]}]{s.state}",
            s.job_id or "-",
            s.reason or s.slurm_state or "-",
        )
    console.print(table)
    console.print(line)
