"""Interleaved timing: a suite's measure cells on one device timed in rounds.

Round k times repeat k of every cell, in an order shuffled each round, so that slow drift and
a passing load fall on every cell alike and the ratios between cells stay honest (asv's
`--interleave-rounds`; `benchmarks/mtnet_latency.py` times its models in turn the same way).
Each cell's model is built once and kept; everything but the latencies (counts, memory) is
measured by `profile` as usual; the latencies come from the same timer and the same
contention meter, so the record has the same fields, with `interleaved: true`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mtbench.errors import one_line
from mtbench.measure.contention import ContentionMeter, flag_fwdbwd
from mtbench.measure.latency import judged, summarize, time_one, timer_for
from mtbench.measure.profile import (
    build_for,
    cudnn_benchmark,
    now_iso,
    process_settings,
    profile,
    resolve_device,
    runtime_steps,
    unmeasured_record,
)
from mtbench.record import CellPart, Record, with_cell
from mtbench.suite.grid import Cell
from mtbench.suite.store import append_record

TIMED = ("latency_fwd", "latency_fwdbwd")


def interleavable(cells: list[Cell]) -> list[Cell]:
    """The cells timed in rounds: measure-only PyTorch cells that ask for it and time a
    latency. Training cells are timed after their training, alone; a breakdown times its own
    steps; another runtime times its exported graph in its own session."""
    return [
        c
        for c in cells
        if c.options.interleave
        and c.workload is None
        and c.options.runtime == "pytorch"
        and "breakdown" not in c.options.measure
        and any(m in TIMED for m in c.options.measure)
    ]


@dataclass
class _Timed:
    """One cell in the rounds: its record so far, its steps, its repeats and meters."""

    cell: Cell
    record: Record
    steps: list[tuple[str, Callable[[], object], Callable[[], object]]] = field(
        default_factory=list
    )
    samples: dict[str, list[float]] = field(default_factory=dict)
    meters: dict[str, ContentionMeter] = field(default_factory=dict)

    def settings(self) -> AbstractContextManager[None]:
        device = torch.device(self.record["device"])
        return process_settings(
            self.cell.options.threads, cudnn_benchmark(self.cell.options, device)
        )

    def fail(self, exc: Exception) -> None:
        self.record.update(status="failed", error=one_line(exc), finished_at=now_iso())
        self.steps = []


def run_interleaved(
    suite: str, store: Path, cells: list[Cell], on_phase: Callable[[str], None]
) -> list[tuple[Cell, Record]]:
    """Measure `cells`, their latencies in rounds per device; each record is stored as it
    would be alone. Returns the cells with their records, in the cells' order."""
    timed = [_prepare(c, on_phase) for c in cells]
    for device in dict.fromkeys(t.record["device"] for t in timed):
        _rounds([t for t in timed if t.record["device"] == device and t.steps], on_phase)
    out = []
    for t in timed:
        _finish(t)
        part = CellPart(suite=suite, cell_key=t.cell.key, label=t.cell.label)
        record = with_cell(t.record, part)
        append_record(store, record)
        out.append((t.cell, record))
    return out


def _prepare(cell: Cell, on_phase: Callable[[str], None]) -> _Timed:
    """The cell measured but for its latencies, and its steps ready and warmed up."""
    options = cell.options
    try:
        model = build_for(cell.model, cell.kwargs, options)
        record = profile(
            cell.model, cell.kwargs, cell.input_shape, options, on_phase, model, time_latency=False
        )
    except Exception as exc:  # isolation, as for a cell timed alone
        record = unmeasured_record(cell.model, cell.kwargs, cell.input_shape, options)
        record.update(status="failed", error=one_line(exc), finished_at=now_iso())
        return _Timed(cell, record)
    timed = _Timed(cell, record)
    keys = [m for m in options.measure if m in TIMED]
    try:
        with timed.settings():
            device = resolve_device(options.device)
            timed.steps = list(runtime_steps(model, cell.input_shape, device, options, keys))
            for _, set_mode, step in timed.steps:
                set_mode()
                for _ in range(options.warmup):
                    step()
    except Exception as exc:
        timed.fail(exc)
    for key in keys:
        timed.samples[key] = []
        timed.meters[key] = ContentionMeter(record["threads"])
    return timed


def _rounds(timed: list[_Timed], on_phase: Callable[[str], None]) -> None:
    """Round k: repeat k of every step of every cell that still has repeats, shuffled."""
    rounds = max((t.cell.options.repeats for t in timed), default=0)
    for k in range(rounds):
        on_phase(f"interleaved round {k + 1}/{rounds}")
        order = [(t, s) for t in timed for s in t.steps if k < t.cell.options.repeats]
        random.Random(k).shuffle(order)  # seeded: the same suite runs the same order
        for t, (key, set_mode, step) in order:
            if not t.steps:  # failed earlier in this round
                continue
            try:
                with t.settings():
                    set_mode()
                    timer = timer_for(torch.device(t.record["device"]))
                    t.samples[key].append(time_one(step, timer, t.meters[key]))
            except Exception as exc:  # one cell's failure is that cell's
                t.fail(exc)


def _finish(t: _Timed) -> None:
    """The latencies from the rounds' repeats, with their verdicts, into the record."""
    if t.record["status"] != "ok":
        return
    for key, samples in t.samples.items():
        stats = judged(summarize(samples, t.cell.input_shape[0]), t.meters[key])
        t.record[f"{key}_ms"] = stats.as_dict()
    t.record.update(interleaved=True, finished_at=now_iso())
    flag_fwdbwd(t.record)
