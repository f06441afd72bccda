"""Run a suite's cells one at a time, each isolated, each leaving one record in the store.

A cell that raises (a model that fails to build, an out-of-memory, a bug) is stored as a
failed record with a one-line error and the suite goes on. Cells with an ok record are
skipped on the next run, so a killed or interrupted suite resumes where it stopped; the
first Ctrl-C lets the current cell finish and stops, the second stops at once.
"""

from __future__ import annotations

import gc
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mtbench import numbers
from mtbench.console import LogConsole
from mtbench.errors import one_line
from mtbench.measure.loadgen_run import reported_percentile
from mtbench.measure.memory import frozen_heap
from mtbench.measure.profile import now_iso, profile, unmeasured_record
from mtbench.preemption import requeuing
from mtbench.record import (
    Record,
    TrainingResult,
    is_trained,
    read_record,
    verdict_of,
    with_cell,
)
from mtbench.registry import model_entry
from mtbench.store_layout import cell_folder
from mtbench.suite.grid import Cell, cell_config, cell_key, cell_part
from mtbench.suite.interleave import (
    Network,
    NetworkOf,
    built_from_name,
    interleavable,
    per_network,
    run_interleaved,
    trained_rounds,
)
from mtbench.suite.quantized import (
    accuracy_gate,
    calibration_clips,
    is_reference,
    trained_sibling,
)
from mtbench.suite.schema import SuiteSpec
from mtbench.suite.store import append_record, ok_records
from mtbench.table_model import Column, Figure, TextTable
from mtbench.train.checkpoint import LAST
from mtbench.train.distributed import current_world
from mtbench.train.progress import TrainProgress
from mtbench.train.trainer import (
    TrainedCell,
    train_and_evaluate,
    trained_network,
)

SUITE_COPY = "suite.toml"
PROGRESS_COLUMNS = (
    SpinnerColumn(),
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
    TextColumn("ETA"),
    TimeRemainingColumn(),
)


@dataclass
class RunSummary:
    cells: list[Cell]
    ran: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    interrupted: bool = False


def execute_cell(
    spec: SuiteSpec,
    cell: Cell,
    on_phase=lambda phase: None,
    progress: Progress | None = None,
    eval_views: dict[str, int] | None = None,
    retime: Record | None = None,
) -> Record:
    """The cell's record: for a training cell, train and evaluate it, then measure the network
    that was trained (the cell's one build); for a measure-only cell, measure it. Never raises:
    any failure is the cell's result. With `eval_views` the cell's trained checkpoint is only
    evaluated again, with those views, under its own key. With `retime` (the cell's stored
    record) a trained cell's final checkpoint is measured again, nothing trained or
    evaluated: the stored training part is kept."""
    trained: TrainedCell | None = None
    key = cell.key if eval_views is None else view_cell_key(cell, eval_views)
    bars = TrainProgress(progress, cell.label)
    try:
        trained = trained_of(spec, cell, on_phase, bars, eval_views, retime)
        on_phase("measure")
        model = trained.model if trained is not None else None
        folder = cell_folder(spec.output, cell.key)  # a runtime caches its export there
        calibration, gate = _quantized_cell(spec, cell, model, on_phase)
        record = profile(
            cell.model,
            cell.kwargs,
            cell.input_shape,
            cell.options,
            on_phase,
            model,
            folder,
            calibration,
            gate,
        )
    except Exception as exc:  # isolation: any failure of one cell is that cell's result
        if requeuing():  # the task is being requeued: its error, not the cell's
            raise
        record = unmeasured_record(cell.model, cell.kwargs, cell.input_shape, cell.options)
        record.update(status="failed", error=one_line(exc), finished_at=now_iso())
    finally:
        bars.close()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if trained is not None:
        record.update(trained.result)
    return with_cell(record, cell_part(spec.name, cell, key))


def trained_of(
    spec: SuiteSpec,
    cell: Cell,
    on_phase: Callable[[str], None],
    bars: TrainProgress,
    eval_views: dict[str, int] | None = None,
    retime: Record | None = None,
) -> TrainedCell | None:
    """The network a training cell measures, with its training part: trained and evaluated
    here (or only evaluated, with `eval_views`), its float32 sibling's (a precision or
    runtime cell), or, with `retime` (its stored record), loaded from its final checkpoint.
    None for a measure-only cell."""
    if cell.workload is not None and retime is not None and is_trained(retime):
        on_phase("load the trained network")
        return _retimed(spec, cell, retime)
    if eval_views is None and (sibling := trained_sibling(spec.output, cell)) is not None:
        on_phase("the float32 cell's trained network")
        return sibling
    if cell.workload is None:
        return None
    on_phase("train" if eval_views is None else "evaluate")
    known = spec.annotations.get(cell.workload.data_config())
    return train_and_evaluate(cell, spec.output, bars, eval_views, known)


def _retimed(spec: SuiteSpec, cell: Cell, retime: Record) -> TrainedCell:
    """The trained network a re-timed cell measures again, with its stored training part: its
    own final checkpoint, or (a precision or runtime cell, which has none) its float32
    sibling's network, as it measured the first time."""
    own = cell_folder(spec.output, cell.key) / LAST
    sibling = None if own.exists() else trained_sibling(spec.output, cell)
    if sibling is not None:
        return TrainedCell(training_part(retime), sibling.model)
    model = trained_network(cell, spec.output, retime["num_classes"])
    return TrainedCell(training_part(retime), model)


def _quantized_cell(spec: SuiteSpec, cell: Cell, model: Any, on_phase: Any) -> tuple[Any, Any]:
    """A reduced-precision cell with [data]: its calibration clips (INT8's) and its accuracy
    gate; (None, None) for any other cell (an INT8 cell without data calibrates on random
    clips)."""
    if cell.options.dtype == "float32" or cell.workload is None or model is None:
        return None, None
    known = spec.annotations.get(cell.workload.data_config())
    calibration = None
    if cell.options.dtype == "int8":
        on_phase("calibration clips")
        calibration = calibration_clips(cell, known)
    return calibration, accuracy_gate(cell, model, known)


def run_cell(spec: SuiteSpec, cell: Cell, **options: Any) -> Record:
    """The one-cell function: execute the cell (`execute_cell`'s options) and store its
    record, rank 0 writing. The local loop and every SLURM task call this, so a cell runs
    and records the same anywhere."""
    record = execute_cell(spec, cell, **options)
    if current_world().is_main:
        append_record(spec.output, record)
    return record


def training_part(record: Record) -> TrainingResult:
    """A stored record's training and evaluation fields, as the trainer returned them."""
    return {k: record[k] for k in TrainingResult.__annotations__ if k in record}  # type: ignore[return-value]


def view_cell_key(cell: Cell, views: dict[str, int]) -> str:
    """The key of the same cell evaluated with other views: its own record, same rules."""
    workload = replace(cell.workload, eval={**cell.workload.eval, **views})
    return cell_key(cell_config(cell.model, cell.kwargs, cell.input_shape, cell.options, workload))


def copy_suite(spec: SuiteSpec) -> None:
    """The suite beside its store, so the store says what it measured (and status can list
    the cells not started)."""
    spec.output.mkdir(parents=True, exist_ok=True)
    copy = spec.output / SUITE_COPY
    if not copy.exists() or not copy.samefile(spec.path):
        shutil.copyfile(spec.path, copy)


@contextmanager
def stop_after_current_cell(console: Console) -> Iterator[list[bool]]:
    """First SIGINT sets the flag; a second one raises KeyboardInterrupt as usual."""
    flag = [False]

    def handler(signum: int, frame: Any) -> None:
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True
        console.print("[yellow]interrupt: stopping after the current cell (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def run_suite(
    spec: SuiteSpec,
    cells: list[Cell],
    *,
    force: bool = False,
    console: Console | None = None,
    eval_views: dict[str, int] | None = None,
    retime: dict[str, Record] | None = None,
) -> RunSummary:
    """Run the cells not yet done; under torchrun every rank runs them, rank 0 writes.
    `retime` holds the stored records of cells to time again (`--retime-disturbed`): a
    trained one is measured from its checkpoint, not trained or evaluated again."""
    console = console or LogConsole()
    world = current_world()
    if world.is_main:
        copy_suite(spec)
    summary = RunSummary(cells)
    done, changed = current_ok_keys(spec, cells, console, rerun=eval_views is None)
    summary.skipped = [
        c
        for c in cells
        if (_key(c, eval_views) in done and not force) or (eval_views is not None and c in changed)
    ]
    todo = [c for c in cells if c not in summary.skipped]
    rounds = interleavable(todo) if not world.distributed and eval_views is None else []
    after = trained_rounds(todo, cells) if not world.distributed and eval_views is None else []
    with (
        stop_after_current_cell(console) as stop,
        frozen_heap(),
        Progress(*PROGRESS_COLUMNS, console=console, disable=not world.is_main) as progress,
    ):
        bar = progress.add_task(f"suite {spec.name}", total=len(cells))
        progress.update(bar, completed=len(summary.skipped))
        current = progress.add_task("", total=None)
        if rounds:
            _run_rounds(spec, rounds, summary, progress, (bar, current), stop)
        # A trained network's precision and runtime cells wait for the rounds after training;
        # its float32 cell trains first, alone (re-timed, it is timed in the rounds only).
        retimed = retime or {}
        first = [c for c in after if is_reference(c) and c.key not in retimed]
        alone = [c for c in todo if c not in rounds and (c not in after or c in first)]
        _run_alone(spec, alone, summary, progress, (bar, current), stop, eval_views, retimed)
        if after and not stop[0]:
            trained = ok_records(spec.output)  # a float32 cell whose training failed is left out
            after = [c for c in after if not is_reference(c) or c.key in trained]
            network_of = _trained_in_rounds(spec, progress, trained)
            for group in per_network(after):
                if stop[0]:
                    summary.interrupted = True
                    break
                _run_rounds(spec, group, summary, progress, (bar, current), stop, network_of)
        progress.update(current, description="done", visible=False)
    return summary


def cell_title(cell: Cell, cells: list[Cell]) -> str:
    """'cell 3/5': its place among this run's cells; with the suite's number where a run holds
    only some of them (a shard, --retime-disturbed), which `--dry-run` lists from 0."""
    place = f"cell {cells.index(cell) + 1}/{len(cells)}"
    return place if cells.index(cell) == cell.index else f"{place} (suite cell #{cell.index})"


def _run_alone(
    spec: SuiteSpec,
    cells: list[Cell],
    summary: RunSummary,
    progress: Progress,
    tasks: tuple[TaskID, TaskID],
    stop: list[bool],
    eval_views: dict[str, int] | None,
    retime: dict[str, Record],
) -> None:
    """Each cell in turn, in this process; a log gets one line per finished cell."""
    bar, current = tasks
    for cell in cells:
        if stop[0]:
            summary.interrupted = True
            break
        title = f"{cell_title(cell, summary.cells)} {cell.label}"

        def on_phase(phase: str, title: str = title) -> None:
            progress.update(current, description=f"{title}: {phase}")

        on_phase("start")
        started = time.monotonic()
        views, stored = eval_views, retime.get(cell.key)
        record = run_cell(
            spec, cell, on_phase=on_phase, progress=progress, eval_views=views, retime=stored
        )
        _count(summary, cell, record)
        progress.advance(bar)
        if current_world().is_main and not progress.console.is_terminal:
            progress.console.print(finished_line(title, record, started), markup=False)


def _trained_in_rounds(spec: SuiteSpec, progress: Progress, ok: dict[str, Record]) -> NetworkOf:
    """A trained cell's network for the rounds: a float32 cell's from its final checkpoint
    (trained alone before; `ok`: the store's ok records), a precision or runtime cell's
    from its float32 sibling, with an INT8 cell's calibration clips and its accuracy gate."""

    def network_of(cell: Cell, on_phase: Callable[[str], None]) -> Network:
        stored = ok.get(cell.key) if is_reference(cell) else None
        bars = TrainProgress(progress, cell.label)
        try:
            trained = trained_of(spec, cell, on_phase, bars, retime=stored)
        finally:
            bars.close()
        calibration, gate = _quantized_cell(spec, cell, trained.model, on_phase)
        return Network(trained.model, calibration, gate, dict(trained.result))

    return network_of


def _run_rounds(
    spec: SuiteSpec,
    cells: list[Cell],
    summary: RunSummary,
    progress: Progress,
    tasks: tuple[TaskID, TaskID],
    stop: list[bool],
    network_of: NetworkOf = built_from_name,
) -> None:
    """The interleaved cells (mtbench.suite.interleave), their latencies timed in rounds;
    each stored cell gets its line in a log as a cell timed alone does, and Ctrl-C ends the
    rounds after the run being timed. A cell trained alone before its rounds is counted
    once."""
    bar, task = tasks
    started = time.monotonic()

    def on_phase(phase: str) -> None:
        progress.update(task, description=f"{len(cells)} cells interleaved: {phase}")

    stored = run_interleaved(spec.name, spec.output, cells, on_phase, lambda: stop[0], network_of)
    for cell, record in stored:
        if cell in summary.skipped:  # done before this run, timed again beside its cells
            summary.skipped.remove(cell)
        elif cell in summary.ran:  # trained alone just before (ok): its latest record is this
            summary.ran.remove(cell)
        else:
            progress.advance(bar)
        _count(summary, cell, record)
        if current_world().is_main and not progress.console.is_terminal:
            title = f"{cell_title(cell, summary.cells)} {cell.label} (interleaved)"
            progress.console.print(finished_line(title, record, started), markup=False)
    if len(stored) < len(cells):
        summary.interrupted = True


def _count(summary: RunSummary, cell: Cell, record: Record) -> None:
    summary.ran.append(cell)
    if record["status"] != "ok":
        summary.failed.append((cell, record["error"]))


def current_ok_keys(
    spec: SuiteSpec, cells: list[Cell], console: Console, *, rerun: bool = True
) -> tuple[set[str], list[Cell]]:
    """Keys of the cells whose latest record is ok and was measured with the code registered
    now, and the cells measured with other code. Those are named in one line; with `rerun`
    their training folders are set aside so that they train again from scratch."""
    latest = ok_records(spec.output)
    done = set(latest)
    changed = [c for c in cells if c.key in done and measured_with_other_code(latest[c.key])]
    main = current_world().is_main
    if changed and main:
        console.print(other_code_line(changed, rerun))
    for cell in changed if rerun else []:
        done.discard(cell.key)
        if main:
            set_aside(spec.output, cell, latest[cell.key])
    return done, changed


def measured_with_other_code(stored: dict[str, Any]) -> bool:
    """A record of a model from outside mtbench whose code (file hash or package version)
    is no longer the code registered now. Built-ins are versioned by the git commit in `env`."""
    record = read_record(stored)
    then = record["provenance"]
    if not then or then.get("origin") == "built-in":
        return False
    try:
        now = model_entry(record["model"]).provenance()
    except ValueError:
        return True
    return (then.get("sha256"), then.get("version")) != (now["sha256"], now["version"])


def other_code_line(cells: list[Cell], rerun: bool) -> str:
    models = sorted({c.model for c in cells})
    labels = ", ".join(c.label for c in cells)
    what = (
        "measuring them again (their old cell folders kept as cells/<key>.other-code-*)"
        if rerun
        else "not evaluated: retrain them with `mtbench run` first"
    )
    return (
        f"[yellow]{len(cells)} cells were measured with other code of"
        f" {', '.join(models)} ({labels}): {what}"
    )


def set_aside(store: Path, cell: Cell, record: dict[str, Any]) -> None:
    """Keep a changed model's training files under another name: nothing is lost, and the
    new code starts from scratch instead of resuming weights the old code trained."""
    folder = cell_folder(store, cell.key)
    if folder.exists():
        sha = (record.get("provenance") or {}).get("sha256") or "unknown"
        target = folder.with_name(f"{folder.name}.other-code-{sha[:8]}")
        n = 1
        while target.exists():
            n += 1
            target = folder.with_name(f"{folder.name}.other-code-{sha[:8]}-{n}")
        folder.rename(target)


def _key(cell: Cell, eval_views: dict[str, int] | None) -> str:
    return cell.key if eval_views is None else view_cell_key(cell, eval_views)


def finished_line(title: str, record: dict[str, Any], started: float) -> str:
    """'cell 3/16 mtnet-32: ok in 41.2 s (fwd 35.50 ms, top-1 45.0%)': what a log gets per
    finished cell, so a long run's log shows its progress (a progress bar draws nothing there)."""
    figures = [f"fwd {numbers.latency_stats(record.get('latency_fwd_ms'))}"]
    if record.get("top1") is not None:
        figures.append(f"top-1 {numbers.percent(record['top1'])}")
    if record.get("scenario_run"):
        figures.append(scenario_figure(record["scenario_run"]))
    status = record.get("status", "?")
    what = ", ".join(figures) if status == "ok" else record.get("error") or ""
    return f"{title}: {status} in {time.monotonic() - started:.1f} s ({what})"


def scenario_figure(part: dict[str, Any]) -> str:
    """'server p99 120.00 ms, INVALID, found 12.0' or 'stream 25.0 fps, 0.0% missed': a
    scenario's figure (MLPerf's percentile for it) on its cell's log line."""
    search = part.get("search")
    found = "" if search is None else f", found {numbers.decimal(search['found'], 1)}"
    if part.get("stream") is not None:
        stream = part["stream"]
        missed = numbers.decimal(stream["miss_rate"] * 100, 1)
        return f"stream {numbers.decimal(stream['fps'], 1)} fps, {missed}% missed{found}"
    loadgen = part.get("loadgen") or {"percentiles_ms": {}, "result": "no run"}
    percentile = reported_percentile(part["name"])
    value = numbers.decimal(loadgen["percentiles_ms"].get(percentile))
    return f"{part['name']} {percentile} {value} ms, {loadgen['result']}{found}"


RECORD_COLUMNS = (
    "label",
    "input",
    "params",
    "GFLOPs/clip*",
    "fwd (ms)",
    "fwd+bwd (ms)",
    "mem (MiB)",
)


def records_table(stored: list[dict[str, Any]], title: str) -> TextTable:
    """Key figures of each record: the run's summary and `mtbench show` use this one table."""
    records = [read_record(r) for r in stored]
    trained = any(is_trained(r) for r in records)
    accuracy = ("views", "top-1 (%)", "top-5 (%)") if trained else ()
    headers = (*RECORD_COLUMNS, *accuracy, "status")
    left = ("label", "input", "views", "status")
    table = TextTable([Column(h, "left" if h in left else "right") for h in headers], title=title)
    for r in records:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error'] or ''}"
        figures = (r.get("views"), numbers.decimal(r.get("top1")), numbers.decimal(r.get("top5")))
        table.rows.append(
            [
                r.get("label") or r["model"] or "?",
                "x".join(map(str, r["input_shape"])),
                Figure(r["params_total"], numbers.params(r["params_total"])),
                Figure(r["gflops"], numbers.gflops(r["gflops"])),
                numbers.latency_stats(r["latency_fwd_ms"], unit=False),
                numbers.latency_stats(r["latency_fwdbwd_ms"], unit=False),
                Figure(r["peak_mem_mb"], numbers.decimal(r["peak_mem_mb"], 0)),
                *(figures if trained else ()),
                status,
            ]
        )
        table.row_styles.append(None if r["status"] == "ok" else "red")
    table.footnotes = ["* one multiply-add = one FLOP; latency is the per-clip median"]
    if any(verdict_of(r) == "disturbed" for r in records):
        table.footnotes.append(numbers.DISTURBED_NOTE)
    return table


def disturbed_keys(stored: list[dict[str, Any]]) -> list[str]:
    """Cell keys of ok records with a disturbed timing: what `--retime-disturbed` re-times."""
    records = [read_record(r) for r in stored]
    return [r["cell_key"] for r in records if r["status"] == "ok" and verdict_of(r) == "disturbed"]
