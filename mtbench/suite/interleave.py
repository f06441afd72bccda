"""Interleaved timing: a suite's measure cells on one device timed in rounds.

Round k times repeat k of every cell, in an order shuffled each round, so that slow drift and
a passing load fall on every cell alike and the ratios between cells stay honest (asv's
`--interleave-rounds`). Each cell's model is built once and kept with its executor (PyTorch or
a runtime's session: they interleave alike); everything but the latencies (counts, the memory
pass) is measured as `profile` measures it; the latencies come from the same timer and the
same contention meter (`mtbench.measure.execution.time_in_rounds`), so the record has the same
fields, with `interleaved: true`.

A training suite's rounds come after its training: each float32 PyTorch network trained
alone, then timed again beside the precision and runtime cells that measure it (their
networks given by the runner: `NetworkOf`), each record keeping its training part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from mtbench.deploy.quantize import Calibration
from mtbench.errors import one_line
from mtbench.executor import Executor
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
from mtbench.record import Record, with_cell
from mtbench.store_layout import cell_folder
from mtbench.suite.grid import Cell, cell_part
from mtbench.suite.quantized import is_reference
from mtbench.suite.store import append_record


def _asks_for_rounds(cell: Cell) -> bool:
    """Interleave asked and a latency timed; a breakdown times its own steps, a scenario
    drives the network alone for its duration."""
    options = cell.options
    return (
        options.interleave
        and "breakdown" not in options.measure
        and options.scenario == "repeat"
        and bool(timed_keys(options))
    )


def interleavable(cells: list[Cell]) -> list[Cell]:
    """The measure-only cells timed in rounds (the trained ones: `trained_rounds`)."""
    return [c for c in cells if c.workload is None and _asks_for_rounds(c)]


def _same_network(reference: Cell, cell: Cell) -> bool:
    return (
        reference.model == cell.model
        and reference.kwargs == cell.kwargs
        and reference.input_shape == cell.input_shape
        and reference.workload.config() == cell.workload.config()
    )


def trained_rounds(todo: list[Cell], cells: list[Cell]) -> list[Cell]:
    """Training cells timed in rounds once every network is trained: each precision or
    runtime cell to run that asks for it, with the float32 PyTorch cells whose networks they
    measure (trained alone first, or earlier, and timed again in the rounds), so that a
    speed-up over float32 comes from repeats taken side by side. Empty without such a cell."""
    variants = [
        c for c in todo if c.workload is not None and not is_reference(c) and _asks_for_rounds(c)
    ]
    references = [
        c
        for c in cells
        if c.workload is not None
        and is_reference(c)
        and _asks_for_rounds(c)
        and any(_same_network(c, v) for v in variants)
    ]
    return references + variants if references else []


def per_network(cells: list[Cell]) -> list[list[Cell]]:
    """Trained rounds' cells in groups, one per float32 network with the cells that measure
    it, timed in rounds one group after another: a ratio to float32 is taken within a group,
    and only one network's executors are held at a time (six networks' 54 held 12 GB here).
    A cell without its float32 network among `cells` gets a group of its own."""
    groups: list[list[Cell]] = []
    for cell in cells:
        group = next((g for g in groups if _same_network(g[0], cell)), None)
        if group is None:
            groups.append([cell])
        else:
            group.append(cell)
    return groups


def round_partners(chosen: list[Cell], cells: list[Cell]) -> list[Cell]:
    """`chosen` with, for each trained cell among them that asks for rounds, the cells of
    `cells` timed in the same rounds (its float32 network's cell and the precision and runtime
    cells that measure that network): re-timed, they are timed side by side again."""
    trained = [c for c in chosen if c.workload is not None and _asks_for_rounds(c)]
    return [
        c
        for c in cells
        if c in chosen
        or (
            c.workload is not None
            and _asks_for_rounds(c)
            and any(_same_network(c, t) for t in trained)
        )
    ]


@dataclass
class Network:
    """What a cell in the rounds measures when it is not built from its name: a trained
    network, an INT8 cell's calibration clips and accuracy gate, the record's training part."""

    model: nn.Module | None = None
    calibration: Calibration | None = None
    gate: Callable[[Executor, Record], None] | None = None
    trained: dict[str, Any] = field(default_factory=dict)


NetworkOf = Callable[[Cell, Callable[[str], None]], Network]


def built_from_name(cell: Cell, on_phase: Callable[[str], None]) -> Network:
    return Network()


@dataclass
class _Cell:
    """One cell in the rounds: its record so far and, once built, its measuring and timing."""

    cell: Cell
    record: Record
    measuring: Measuring | None = None
    timed: Timed | None = None
    trained: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.record.update(status="failed", error=reason, finished_at=now_iso())
        self.timed = None


def run_interleaved(
    suite: str,
    store: Path,
    cells: list[Cell],
    on_phase: Callable[[str], None],
    stop: Callable[[], bool] = lambda: False,
    network_of: NetworkOf = built_from_name,
) -> list[tuple[Cell, Record]]:
    """Measure `cells`, their latencies in rounds per device; each record is stored as it
    would be alone. `network_of` gives a cell's trained network (else it is built from its
    name). Returns the cells stored with their records, in the cells' order; when `stop`
    says so (Ctrl-C) the rounds end after the run being timed, and a cell whose repeats are
    not all timed is not stored (the next run measures it again)."""
    prepared = [_prepare(c, store, on_phase, network_of) for c in cells]
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
        p.record.update(p.trained)  # type: ignore[typeddict-item]
        record = with_cell(p.record, cell_part(suite, p.cell))
        append_record(store, record)
        out.append((p.cell, record))
    return out


def _prepare(
    cell: Cell, store: Path, on_phase: Callable[[str], None], network_of: NetworkOf
) -> _Cell:
    """The cell counted, its executor built (a reduced-precision one gated) and warmed up;
    a failure is the cell's."""
    options = cell.options
    network = Network()
    try:
        network = network_of(cell, on_phase)
        shape = cell.input_shape
        measuring = counted(cell.model, cell.kwargs, shape, options, on_phase, network.model)
        measuring.calibration, measuring.gate = network.calibration, network.gate
        executor = network_executor(measuring, cell_folder(store, cell.key), on_phase)
    except Exception as exc:  # isolation, as for a cell timed alone
        record = unmeasured_record(cell.model, cell.kwargs, cell.input_shape, options)
        out = _Cell(cell, record, trained=network.trained)
        out.fail(one_line(exc))
        return out
    timed = Timed(executor, timed_keys(options), options.repeats)
    warm(timed, options.warmup)
    return _Cell(cell, measuring.record, measuring, timed, network.trained)


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
