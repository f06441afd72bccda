"""A cell's breakdown: where its params, FLOPs, bytes and time sit, by module and by kind of
operator, stored compactly in `record["breakdown"]` and read back into derived columns.

The record keeps only measured quantities, as short rows under their column names; shares,
achieved GFLOP/s, arithmetic intensity and the bounding ceiling are derived when shown, from
those rows and the ceilings in `record["env"]["ceilings"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mtbench.errors import one_line
from mtbench.executor import FORWARD, TRAINING_STEP, Executor
from mtbench.measure.breakdown_count import (
    OUTSIDE_MODULES,
    Counts,
    count_rows,
    default_depth,
    depth_problem,
    rows_at,
)
from mtbench.measure.breakdown_time import Times, attribute, profiled_step
from mtbench.measure.flops import FlopCount
from mtbench.measure.latency import time_runs, timer_for
from mtbench.measure.opkinds import KINDS
from mtbench.record import MODULE_COLUMNS, OP_COLUMNS, PASSES, Breakdown, latency_key

OUTSIDE_OPS = "(outside operators)"
STEPS = PASSES  # the profiled steps, in the order of the rows' time columns


def _r(value: float | None) -> float | None:
    """Four significant digits: enough for a table, small enough for a 300-cell store."""
    return None if value is None else float(f"{value:.4g}")


def time_verdict(breakdown: dict[str, Any], record: dict[str, Any]) -> str | None:
    """The verdict on the machine's contention for a breakdown's profiled times: the verdict
    of the cell's timings of the same steps, taken just before on the same machine
    ('disturbed' if any is, else 'clean' or 'unknown'); None where the cell timed none."""
    said = [
        stats.get("verdict", "unknown")
        for step in STEPS
        if f"{step}_ms" in breakdown and (stats := record.get(latency_key(step)))
    ]
    if not said:
        return None
    return next((v for v in ("disturbed", "unknown") if v in said), "clean")


class BreakdownRun:
    """One cell's breakdown, measured in steps by `profile`: counts on the float32 CPU model,
    times on the model as the cell runs it. A failing step leaves its reason in `error` and
    the rest of the cell is measured as usual."""

    def __init__(self, model: nn.Module, depth: int | None, shape: list[int], dtype: torch.dtype):
        self.depth = default_depth(model) if depth is None else depth
        self.error = depth_problem(model, self.depth)
        self.rows = [] if self.error else rows_at(model, self.depth)
        self.shape = shape
        self.bytes_per_element = torch.tensor([], dtype=dtype).element_size()
        self.counts: Counts | None = None
        self.times: dict[str, Times] = {}
        self.unprofiled: dict[str, float | None] = {}
        self.time_source = "cpu wall clock"

    def guarded(self, what: str, run: Callable[[], None]) -> None:
        if self.error is not None:
            return
        try:
            run()
        except Exception as exc:  # a breakdown's failure is the breakdown's, not the cell's
            self.error = f"{what}: {one_line(exc)}"

    def count(self, model: nn.Module, count_norm: bool) -> None:
        def run() -> None:
            self.counts = count_rows(model, self.shape, self.rows, count_norm, self.shape[0])

        self.guarded("counting", run)

    @property
    def flops(self) -> FlopCount | None:
        """The record's FLOP totals from the traces that gave the rows (None: not counted)."""
        return None if self.counts is None else self.counts.flops

    def time(
        self, model: nn.Module, eager: Executor, record: dict[str, Any], warmup: int, repeats: int
    ) -> None:
        """One profiled run of each of the eager executor's steps (the forward, and the
        forward+backward when the cell times it), beside the un-profiled median: the cell's
        own, else timed here by the one timer. `model` is the module the steps run, whose
        modules open the profiler's ranges."""
        if eager.device.type == "cuda":
            self.time_source = "cuda device time"

        def run() -> None:
            for name, key in zip(STEPS, (FORWARD, TRAINING_STEP), strict=True):
                if key not in eager.steps:
                    continue
                step = eager.steps[key]
                step.enter()
                events = profiled_step(step.run, model, self.rows, eager.device)
                self.times[name] = attribute(
                    events, eager.clips_per_run, eager.device.type == "cuda"
                )
                stats = record.get(f"{key}_ms")
                if stats is None:
                    stats = time_runs(
                        step.run,
                        warmup=warmup,
                        repeats=repeats,
                        timer=timer_for(eager.device),
                        clips_per_run=eager.clips_per_run,
                    ).as_dict()
                self.unprofiled[name] = stats["median"]

        self.guarded("profiling", run)

    def as_record(self, record: dict[str, Any]) -> Breakdown:
        """The compact `record["breakdown"]`: rows as lists under column names."""
        out: dict[str, Any] = {"depth": self.depth, "error": self.error}
        if self.counts is not None:
            out["module_columns"] = list(MODULE_COLUMNS)
            out["modules"] = self._module_rows()
            out["op_columns"] = list(OP_COLUMNS)
            out["ops"] = self._op_rows()
        for name, times in self.times.items():
            out[f"{name}_ms"] = _r(times.total)
            out[f"unprofiled_{name}_ms"] = _r(self.unprofiled.get(name))
        out["time_source"] = self.time_source if self.times else None
        out["verdict"] = time_verdict(out, record)
        return out  # type: ignore[return-value]

    def _time(self, name: str, key: str, rows: dict[str, float] | None = None) -> float | None:
        times = self.times.get(name)
        if times is None:
            return None
        values = times.rows if rows is None else rows
        if key in (OUTSIDE_MODULES, OUTSIDE_OPS):
            return times.total - sum(values.values())
        return values.get(key, 0.0)

    def _module_rows(self) -> list[list[Any]]:
        c = self.counts
        mb = self.bytes_per_element / 1e6
        rows = [
            [
                row,
                c.params[row],
                _r(c.fvcore[row] / 1e9),
                None,  # ptflops gives its total only: the record's gflops_ptflops
                _r(c.outputs[row] * self.bytes_per_element / 2**20),
                _r(c.moved[row] * mb),
                _r(self._time("fwd", row)),
                _r(self._time("fwdbwd", row)),
            ]
            for row in self.rows
        ]
        params = c.params_total - sum(c.params.values())
        flops = (c.fvcore_total - sum(c.fvcore.values())) / 1e9
        moved = (c.moved_total - sum(c.moved.values())) * mb
        outside = [OUTSIDE_MODULES, params, _r(flops), None, None, _r(moved)]
        outside += [_r(self._time(n, OUTSIDE_MODULES)) for n in STEPS]
        return [*rows, outside]

    def _op_rows(self) -> list[list[Any]]:
        kinds = self.counts.kinds
        mb = self.bytes_per_element / 1e6
        rows = []
        for kind in KINDS:
            times = [self._time(n, kind, self.times[n].kinds) for n in STEPS if n in self.times]
            times += [None] * (len(STEPS) - len(times))
            fv, moved = kinds[kind]
            if fv or any(times):
                rows.append([kind, _r(fv / 1e9), None, _r(moved * mb), *map(_r, times)])
        outside = [
            _r(self._time(n, OUTSIDE_OPS, self.times[n].kinds)) if n in self.times else None
            for n in STEPS
        ]
        return [*rows, [OUTSIDE_OPS, 0.0, None, 0.0, *outside]]
