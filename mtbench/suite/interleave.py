"""Interleaved timing: a suite's measure cells on one device timed in rounds.

Round k times repeat k of every cell, in an order shuffled each round, so that slow drift and
a passing load fall on every cell alike and the ratios between cells stay honest (asv's
`--interleave-rounds`). Each cell's model is built once and kept with its executor (PyTorch or
a runtime's session: they interleave alike); everything but the latencies (counts, the memory
pass) is measured as `profile` measures it; the latencies come from the same timer and the
same contention meter (`mtbench.measure.execution.time_in_rounds`), so the record has the same
fields, with `interleaved: true`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mtbench.errors import one_line
from mtbench.measure.execution import Timed, time_in_rounds, warm
from mtbench.measure.profile import (
    Measuring,
    counted,
    finished,
    network_executor,
    now_iso,
    record_memory,
    record_timings,
    timed_keys,
    unmeasured_record,
)
from mtbench.record import CellPart, Record, with_cell
from mtbench.store_layout import cell_folder
from mtbench.suite.grid import Cell
from mtbench.suite.store import append_record


def interleavable(cells: list[Cell]) -> list[Cell]:
    """The cells timed in rounds: measure-only cells that ask for it and time a latency.
    Training cells are timed after their training, alone; a breakdown times its own steps;
    a scenario drives the network alone for its duration."""
    return [
        c
        for c in cells
        if c.options.interleave
        and c.workload is None
        and "breakdown" not in c.options.measure
        and c.options.scenario == "repeat"
        and timed_keys(c.options)
    ]


@dataclass
class _Cell:
    """One cell in the rounds: its record so far and, once built, its measuring and timing."""

    cell: Cell
    record: Record
    measuring: Measuring | None = None
    timed: Timed | None = None

    def fail(self, reason: str) -> None:
        self.record.update(status="failed", error=reason, finished_at=now_iso())
        self.timed = None


def run_interleaved(
    suite: str,
    store: Path,
    cells: list[Cell],
    on_phase: Callable[[str], None],
    stop: Callable[[], bool] = lambda: False,
) -> list[tuple[Cell, Record]]:
    """Measure `cells`, their latencies in rounds per device; each record is stored as it
    would be alone. Returns the cells stored with their records, in the cells' order; when
    `stop` says so (Ctrl-C) the rounds end after the run being timed, and a cell whose
    repeats are not all timed is not stored (the next run measures it again)."""
    prepared = [_prepare(c, store, on_phase) for c in cells]
    for device in dict.fromkeys(p.timed.executor.device for p in prepared if p.timed):
        group = [p.timed for p in prepared if p.timed and p.timed.executor.device == device]

        def on_round(k: int, rounds: int) -> None:
            on_phase(f"interleaved round {k}/{rounds}")

        time_in_rounds(group, on_round, stop)
    out = []
    for p in prepared:
        if p.timed is not None and p.timed.error is None and not p.timed.complete():
            continue
        _finish(p)
        part = CellPart(suite=suite, cell_key=p.cell.key, label=p.cell.label)
        record = with_cell(p.record, part)
        append_record(store, record)
        out.append((p.cell, record))
    return out


def _prepare(cell: Cell, store: Path, on_phase: Callable[[str], None]) -> _Cell:
    """The cell counted, its executor built and warmed up; a failure is the cell's."""
    options = cell.options
    try:
        measuring = counted(cell.model, cell.kwargs, cell.input_shape, options, on_phase)
        executor = network_executor(measuring, cell_folder(store, cell.key), on_phase)
    except Exception as exc:  # isolation, as for a cell timed alone
        record = unmeasured_record(cell.model, cell.kwargs, cell.input_shape, options)
        out = _Cell(cell, record)
        out.fail(one_line(exc))
        return out
    timed = Timed(executor, timed_keys(options), options.repeats)
    warm(timed, options.warmup)
    return _Cell(cell, measuring.record, measuring, timed)


def _finish(p: _Cell) -> None:
    """The latencies from the rounds' repeats, with their verdicts, and the memory pass."""
    if p.timed is None or p.measuring is None:
        return
    if p.timed.error is not None:
        p.fail(p.timed.error)
        return
    record_timings(p.record, p.timed.stats())
    try:
        if "memory" in p.cell.options.measure:
            record_memory(p.record, p.timed.executor, lambda phase: None)
    except Exception as exc:  # one cell's failure is that cell's
        p.fail(one_line(exc))
        return
    p.record["interleaved"] = True
    finished(p.record)
