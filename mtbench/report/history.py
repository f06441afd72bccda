"""Every measurement of a cell over code versions, and which changes between them are
regressions.

The store keeps every record; the other views show the latest per cell and machine. Here a
cell's records on one machine are read in store order (oldest first) and cut into
measurements: a new one starts where the code changed (mtbench version or commit, torch
version, the model's source file hash) or a seed already measured comes again. Seeds of one
configuration (`seed_group`) measured under the same code are one measurement.

Between two consecutive measurements, with the intervals `mtbench compare` uses:

- latency (F and F+B): the ratio of the medians, with the 95% bootstrap interval that
  resamples both sets of raw repeats;
- top-1: the difference of the means over seeds, with its 95% Student-t interval.

A change is flagged as a regression when its interval excludes "no change" and it is worse by
more than the threshold (relative: latency 5% slower, top-1 5% lower by default), and as an
improvement when it is better by as much, under the same interval. A latency with a disturbed
side (either measurement's timing verdict `disturbed`) gets no interval, as in `compare`: it
is reported as disturbed, neither a regression nor an improvement, whatever its ratio. A
latency is judged against the latest earlier measurement whose timing was not disturbed, so
a measurement taken again on a quiet machine after a disturbed one is still judged against
the code before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from mtbench import numbers
from mtbench.measure.machine import machine_key
from mtbench.record import read_record
from mtbench.report.compare import (
    DISTURBED,
    Estimate,
    difference_text,
    latency_ratio,
    ratio_text,
    seed_difference,
)
from mtbench.report.frame import strip_seed, worst_verdict
from mtbench.table_model import Column, TextTable, to_markdown

DEFAULT_THRESHOLD = 0.05
# What a record says about the code it ran: (name shown, where in the record).
VERSION_FIELDS = (
    ("mtbench", ("env", "mtbench")),
    ("commit", ("env", "git_commit")),
    ("torch", ("env", "torch")),
    ("model file", ("provenance", "sha256")),
)
LATENCY_PASSES = (("F", "latency_fwd_ms"), ("F+B", "latency_fwdbwd_ms"))


def _field(record: dict[str, Any], path: tuple[str, str]) -> str:
    outer = record.get(path[0])
    value = outer.get(path[1]) if isinstance(outer, dict) else None
    return "" if value is None else str(value)


def versions(record: dict[str, Any]) -> dict[str, str]:
    """The code a record ran, by name (a file hash shortened to 12 digits)."""
    out = {name: _field(record, path) for name, path in VERSION_FIELDS}
    out["model file"] = out["model file"][:12]
    return out


@dataclass
class VersionRun:
    """One cell measured once under one code version (its seeds, for a trained cell)."""

    started: str
    versions: dict[str, str]
    records: list[dict[str, Any]] = field(default_factory=list)

    def seeds(self) -> set[Any]:
        return {r.get("seed") for r in self.records}

    def latency(self, key: str) -> tuple[float, tuple[float, ...]]:
        """Median (the mean of the seeds' medians) and the raw repeats, pooled over seeds."""
        stats = [r.get(key) for r in self.records if isinstance(r.get(key), dict)]
        medians = [s["median"] for s in stats if s.get("median") is not None]
        samples = tuple(float(v) for s in stats for v in (s.get("samples") or ()))
        return (float(np.mean(medians)) if medians else math.nan), samples

    def verdict(self, key: str) -> str:
        """The seeds' verdicts on timing `key` as `compare` pools them: the worst one."""
        timings = (read_record(r)[key] for r in self.records)
        return worst_verdict(t["verdict"] for t in timings if t is not None)

    def top1_by_seed(self) -> dict[int, float]:
        return {
            int(r["seed"]) if r.get("seed") is not None else -1: float(r["top1"])
            for r in self.records
            if r.get("top1") is not None
        }


@dataclass
class Step:
    """From one measurement to the next: what changed, each figure's estimate, the flags."""

    before: VersionRun
    after: VersionRun
    changed: list[str]
    estimates: dict[str, Estimate]
    regressions: list[str]
    improvements: list[str]
    disturbed: list[str]  # latencies not judged: a side's timing was disturbed


@dataclass
class CellHistory:
    label: str
    key: str
    model: str
    machine: str
    measurements: list[VersionRun]
    steps: list[Step]


def _measurements(records: list[dict[str, Any]]) -> list[VersionRun]:
    """Records of one cell on one machine, oldest first, cut where the code changed or a
    seed came again."""
    out: list[VersionRun] = []
    for record in records:
        code = versions(record)
        current = out[-1] if out else None
        if current is None or current.versions != code or record.get("seed") in current.seeds():
            current = VersionRun(str(record.get("started_at") or ""), code)
            out.append(current)
        current.records.append(record)
    return out


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changes = [
        f"{k} {before[k] or '?'} → {after[k] or '?'}" for k in before if before[k] != after[k]
    ]
    return changes or ["nothing recorded (measured again)"]


def latency_reference(earlier: list[VersionRun], key: str) -> VersionRun:
    """What a latency is judged against: the latest earlier measurement whose timing `key`
    was not disturbed (else the latest), so that a slowdown timed once on a busy machine
    and again on a quiet one is still judged against the code before it."""
    quiet = [m for m in earlier if m.verdict(key) != DISTURBED]
    return (quiet or earlier)[-1]


def _estimates(earlier: list[VersionRun], after: VersionRun) -> dict[str, Estimate]:
    out = {}
    before = earlier[-1]
    for name, key in LATENCY_PASSES:
        reference = latency_reference(earlier, key)
        (old, old_samples), (new, new_samples) = reference.latency(key), after.latency(key)
        if not (math.isnan(old) or math.isnan(new)):
            disturbed = DISTURBED in (reference.verdict(key), after.verdict(key))
            out[name] = latency_ratio(new_samples, old_samples, new, old, disturbed)
    old_top1, new_top1 = before.top1_by_seed(), after.top1_by_seed()
    if old_top1 and new_top1:
        out["top-1"] = seed_difference(new_top1, old_top1)
    return out


def _change(name: str, estimate: Estimate, before: VersionRun) -> tuple[float, str] | None:
    """How much worse a figure got (relative; negative: better) and its text; None where its
    interval includes no change, or there is none (a disturbed side, too few repeats)."""
    if not estimate.resolved:
        return None
    if name == "top-1":
        old = float(np.mean(list(before.top1_by_seed().values())))
        if not old:
            return None
        text = f"top-1 {estimate.value:+.2f} points ({estimate.value / old:+.1%})"
        return -estimate.value / old, text
    return estimate.value - 1, f"latency {name} {estimate.value - 1:+.1%}"


def _beyond(
    estimates: dict[str, Estimate], before: VersionRun, threshold: float, sign: int
) -> list[str]:
    """The figures whose change times `sign` (1: worse, -1: better) exceeds `threshold`."""
    out = []
    for name, estimate in estimates.items():
        change = _change(name, estimate, before)
        if change is not None and sign * change[0] > threshold:
            out.append(change[1])
    return out


def regressions(estimates: dict[str, Estimate], before: VersionRun, threshold: float) -> list[str]:
    """The figures that got worse beyond `threshold` (relative) with an interval that
    excludes no change: slower latency, lower top-1."""
    return _beyond(estimates, before, threshold, 1)


def improvements(estimates: dict[str, Estimate], before: VersionRun, threshold: float) -> list[str]:
    """The figures that got better beyond `threshold`, under the same interval rule."""
    return _beyond(estimates, before, threshold, -1)


def disturbed(estimates: dict[str, Estimate]) -> list[str]:
    """The latencies with a disturbed side: their ratio, judged neither way."""
    flagged = [(name, e) for name, e in estimates.items() if e.how == DISTURBED]
    return [f"latency {name} {e.value - 1:+.1%}" for name, e in flagged]


def history_machine(record: dict[str, Any]) -> str:
    """The machine, as `machine_key` names it less the torch version: here torch is code that
    changed between two measurements, not another machine."""
    env = record.get("env")
    return machine_key(
        {k: v for k, v in env.items() if k != "torch"} if isinstance(env, dict) else env
    )


def _group(record: dict[str, Any]) -> tuple[str, str]:
    """A cell's records across versions and seeds: its seed group (else its key) and machine."""
    return (record.get("seed_group") or record.get("cell_key") or "?", history_machine(record))


def _step(earlier: list[VersionRun], after: VersionRun, threshold: float) -> Step:
    """From the latest of `earlier` to `after`: top-1 against the latest, each latency
    against its `latency_reference`."""
    before = earlier[-1]
    estimates = _estimates(earlier, after)
    return Step(
        before,
        after,
        _changed(before.versions, after.versions),
        estimates,
        regressions(estimates, before, threshold),
        improvements(estimates, before, threshold),
        disturbed(estimates),
    )


def cell_histories(
    records: list[dict[str, Any]], threshold: float = DEFAULT_THRESHOLD
) -> list[CellHistory]:
    """Every cell's measurements on each machine, in store order, with the steps between."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        if record.get("status") == "ok":
            groups.setdefault(_group(record), []).append(record)
    out = []
    for (key, machine), rows in groups.items():
        measured = _measurements(rows)
        steps = [_step(measured[:i], measured[i], threshold) for i in range(1, len(measured))]
        label = strip_seed(rows[-1].get("label") or rows[-1].get("model") or "?")
        out.append(CellHistory(label, key, rows[-1].get("model") or "", machine, measured, steps))
    return out


def select(histories: list[CellHistory], cell: str | None, model: str | None) -> list[CellHistory]:
    """The histories asked for: `cell` a cell key (or its start) or a label, `model` a registry
    name or a label; without either, every cell measured more than once."""
    if cell is not None:
        return [h for h in histories if h.key.startswith(cell) or h.label == cell]
    if model is not None:
        return [h for h in histories if model.lower() in (h.model.lower(), h.label.lower())]
    return [h for h in histories if len(h.measurements) > 1]


def _figure(measurement: VersionRun, key: str) -> str:
    """'94.62 † (n=10)': the median, marked where a record's timing was disturbed."""
    median, samples = measurement.latency(key)
    disturbed = any(
        isinstance(r.get(key), dict) and r[key].get("verdict") == "disturbed"
        for r in measurement.records
    )
    text = numbers.latency(None if math.isnan(median) else median, disturbed, unit=False)
    return text + (f" (n={len(samples)})" if samples and text != numbers.MISSING else "")


def _top1(measurement: VersionRun) -> str:
    """The top-1 over the measurement's seeds: mean ± 1 std (n), as every table shows it."""
    values = list(measurement.top1_by_seed().values())
    if not values:
        return numbers.MISSING
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return numbers.over_seeds(float(np.mean(values)), std, len(values))


def measurements_table(history: CellHistory) -> list[dict[str, str]]:
    """One row per measurement: when, which code, the figures."""
    return [
        {
            "#": str(i),
            "started": m.started[:19].replace("T", " ") or "?",
            **{name: m.versions[name] or "?" for name, _ in VERSION_FIELDS},
            **{f"{name} (ms)": _figure(m, key) for name, key in LATENCY_PASSES},
            "top-1 (%)": _top1(m),
        }
        for i, m in enumerate(history.measurements, 1)
    ]


def steps_table(history: CellHistory) -> list[dict[str, str]]:
    """One row per step: what changed, each estimate with its interval, the flag."""
    rows = []
    for i, step in enumerate(history.steps, 1):
        row = {"step": f"{i} → {i + 1}", "changed": "; ".join(step.changed)}
        for name in ("F", "F+B"):
            estimate = step.estimates.get(name)
            row[f"{name} ratio [95% CI]"] = ratio_text(estimate) if estimate else "–"
        estimate = step.estimates.get("top-1")
        row["top-1 Δ (points)"] = difference_text(estimate) if estimate else "–"
        row["flag"] = _flag(step)
        rows.append(row)
    return rows


def _flag(step: Step) -> str:
    """What a step is flagged: its regressions, improvements and the latencies not judged."""
    said = (
        ("REGRESSION: ", step.regressions),
        ("IMPROVEMENT: ", step.improvements),
        ("DISTURBED (not judged): ", step.disturbed),
    )
    return "; ".join(head + ", ".join(flags) for head, flags in said if flags)


def _listed(histories: list[CellHistory], flags_of: Callable[[Step], list[str]]) -> list[str]:
    """One line per step with flags of one kind: the cell, the flags, what changed."""
    return [
        f"- {h.label} on {h.machine}: {', '.join(flags_of(s))} ({'; '.join(s.changed)})"
        for h in histories
        for s in h.steps
        if flags_of(s)
    ]


def render_history(histories: list[CellHistory], threshold: float) -> str:
    """Markdown: per cell and machine, its measurements and the steps between them; then the
    improvements, the changes not judged and, last, the regressions flagged."""
    sections = []
    for h in histories:
        sections.append(
            f"### {h.label} (cell {h.key[:12]}) on {h.machine}\n\n"
            + _markdown(measurements_table(h))
            + ("\n\n" + _markdown(steps_table(h)) if h.steps else "")
        )
    return "\n\n".join([*sections, *_summary(histories, threshold)]) + "\n"


def _summary(histories: list[CellHistory], threshold: float) -> list[str]:
    """The improvements and the changes not judged (where there are any), then the
    regressions, last, where a CI log ends."""
    limit = f"threshold {threshold:.0%}"
    blocks = []
    if better := _listed(histories, attrgetter("improvements")):
        blocks.append("\n".join([f"{len(better)} improvement(s) flagged ({limit}):", *better]))
    if unjudged := _listed(histories, attrgetter("disturbed")):
        head = (
            f"{len(unjudged)} change(s) not judged, a side's timing {DISTURBED} (neither "
            "regression nor improvement):"
        )
        blocks.append("\n".join([head, *unjudged]))
    worse = _listed(histories, attrgetter("regressions"))
    blocks.append(
        "\n".join([f"{len(worse)} regression(s) flagged ({limit}):", *worse])
        if worse
        else f"no regression flagged ({limit})"
    )
    return blocks


def _markdown(rows: list[dict[str, str]]) -> str:
    """A Markdown table without the columns no row has a figure in."""
    table = TextTable([Column(h, "left") for h in rows[0]], [list(r.values()) for r in rows])
    text = to_markdown(table.drop_empty())
    marked = any(numbers.DISTURBED_MARK in v for r in rows for v in r.values())
    return text + (f"\n\n- {numbers.DISTURBED_NOTE}" if marked else "")
