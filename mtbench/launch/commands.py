"""`mtbench run`, `show`, `merge` and `status`: the suite commands of the CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mtbench.cli_options import Imports, import_cli_models
from mtbench.console import LogConsole
from mtbench.errors import UsageError
from mtbench.launch.settings import launcher_settings
from mtbench.launch.status import show_status
from mtbench.measure.machine import machine_key
from mtbench.measure.profile import FLOPS_WARN_REL_DIFF
from mtbench.numbers import DISTURBED_MARK, DISTURBED_WORDS, MISSING
from mtbench.record import Record
from mtbench.suite.grid import Cell, load_suite, shard
from mtbench.suite.interleave import round_partners
from mtbench.suite.runner import (
    SUITE_COPY,
    disturbed_keys,
    records_table,
    run_suite,
    view_cell_key,
)
from mtbench.suite.schema import SuiteError, SuiteSpec
from mtbench.suite.store import (
    find_stores,
    is_store,
    latest_by_cell,
    ok_keys,
    read_records,
    write_records,
)
from mtbench.table_model import Column, TextTable, to_rich
from mtbench.train.distributed import init_from_env, shutdown
from mtbench.train.schedule import long_cycle, short_cycle_shape

console = LogConsole()


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N (SLURM: --array=0-(N-1) and --shard $SLURM_ARRAY_TASK_ID/N)."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise UsageError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4")
    return i, n


def load_cells(suite: Path) -> tuple[SuiteSpec, list[Cell]]:
    try:
        return load_suite(suite)
    except SuiteError as exc:
        raise UsageError(str(exc)) from exc


def dry_run_table(cells: list[Cell], done: set[str], title: str) -> TextTable:
    headers = ("#", "label", "input", "measure", "key", "stored")
    rows = [
        [
            c.index,
            c.label,
            "x".join(map(str, c.input_shape)),
            ",".join(c.options.measure),
            c.key[:8],
            "ok" if c.key in done else MISSING,
        ]
        for c in cells
    ]
    return TextTable([Column(h, "right" if h == "#" else "left") for h in headers], rows, title)


def run(
    suite: Annotated[Path, typer.Argument(help="Suite TOML file, e.g. suites/substreams.toml.")],
    dry_run: Annotated[bool, typer.Option(help="Print the expanded cells and exit.")] = False,
    force: Annotated[
        bool, typer.Option(help="Re-run cells that already have an ok record.")
    ] = False,
    shard_spec: Annotated[
        str | None, typer.Option("--shard", help="Run shard I/N of the cells (0 <= I < N).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Output folder (default: the suite's, reports/<name>).")
    ] = None,
    launcher: Annotated[
        str | None,
        typer.Option(
            help="Where cells run: local or slurm (default: the suite's launcher.name, or local)."
        ),
    ] = None,
    launcher_opt: Annotated[
        list[str] | None,
        typer.Option(help="Set a launcher key for this run, KEY=VALUE (repeatable)."),
    ] = None,
    interleave: Annotated[
        bool,
        typer.Option(help="Time the measure cells' latencies in rounds ([defaults] interleave)."),
    ] = False,
    retime_disturbed: Annotated[
        bool,
        typer.Option(help="Time again only the cells whose latest timing is disturbed."),
    ] = False,
    imports: Imports = None,
) -> None:
    """Measure every cell of a suite, training and evaluating it first when the suite has
    a [data] section; results go to the store in <output>. Under torchrun, every process
    trains; with --launcher slurm, the cells still to do are submitted as SLURM job arrays."""
    import_cli_models(imports)
    spec, cells = load_cells(suite)
    if output is not None:
        spec.output = output
    if shard_spec is not None:
        cells = shard(cells, *parse_shard(shard_spec))
    if interleave:  # how to time, not what: the cells keep their keys
        cells = [replace(c, options=replace(c.options, interleave=True)) for c in cells]
    retime = disturbed_cells(spec, cells) if retime_disturbed else None
    if retime is not None:
        cells, force = [c for c in cells if c.key in retime], True
        if not cells:
            console.print(f"no disturbed timings in {spec.output}: nothing to re-time")
            return
    if dry_run:
        print_dry_run(spec, cells)
        return
    settings = launcher_settings(spec.launcher, launcher, launcher_opt or [])
    if settings.name == "slurm":
        slurm_launcher().submit(spec, cells, settings, force=force, console=console)
        return
    _run_and_report(spec, cells, force=force, retime=retime)


def print_dry_run(spec: SuiteSpec, cells: list[Cell]) -> None:
    """What `run` would do: every cell, done or not, and the multigrid schedules."""
    title = f"{spec.name}: {len(cells)} cells -> {spec.output}"
    console.print(to_rich(dry_run_table(cells, ok_keys(spec.output), title)))
    for table in multigrid_tables(cells):
        console.print(table)


def disturbed_cells(spec: SuiteSpec, cells: list[Cell]) -> dict[str, Record]:
    """The stored records, by cell key, of the cells whose latest ok record has a disturbed
    timing: `--retime-disturbed`'s, with the cells timed in the same rounds as a disturbed
    trained one (`round_partners`). Their new records are appended and, being the latest,
    win; the old ones stay in the store."""
    latest = latest_by_cell(read_records(spec.output))
    keys = set(disturbed_keys(list(latest.values()))) & {c.key for c in cells}
    partners = round_partners([c for c in cells if c.key in keys], cells)
    ok = {c.key for c in partners if c.key in latest and latest[c.key]["status"] == "ok"}
    return {key: latest[key] for key in keys | ok}


def slurm_launcher():
    """The SLURM launcher module, which needs submitit (the optional `slurm` extra)."""
    if importlib.util.find_spec("submitit") is None:
        raise UsageError("--launcher slurm needs submitit: pip install 'mtbench[slurm]'")
    from mtbench.launch import slurm

    return slurm


def _run_and_report(
    spec: SuiteSpec,
    cells: list[Cell],
    *,
    force: bool,
    eval_views: dict[str, int] | None = None,
    retime: dict[str, Record] | None = None,
) -> None:
    timeout = max((c.workload.train["timeout"] for c in cells if c.workload), default=600)
    world = init_from_env(timeout)
    try:
        summary = run_suite(
            spec, cells, force=force, console=console, eval_views=eval_views, retime=retime
        )
    finally:
        shutdown()
    if not world.is_main:
        return
    keys = [c.key if eval_views is None else view_cell_key(c, eval_views) for c in cells]
    latest = latest_by_cell(read_records(spec.output))
    records = [latest[k] for k in keys if k in latest]
    console.print(
        to_rich(records_table(records, f"{spec.name}: {len(records)} of {len(cells)} cells"))
    )
    console.print(
        f"ran {len(summary.ran)}, skipped {len(summary.skipped)} already measured,"
        f" failed {len(summary.failed)}; results in {spec.output}"
    )
    if disturbed := disturbed_keys(records):
        console.print(
            f"[yellow]{len(disturbed)} of {len(records)} cells disturbed[/]"
            f" ({DISTURBED_MARK} {DISTURBED_WORDS}); re-time them with"
            f" `mtbench run {spec.path} --retime-disturbed`, on a quieter machine, with fewer"
            f" threads than free cores, or with --interleave"
        )
    for record in records:
        rel = record.get("flops_rel_diff")
        if rel is not None and rel > FLOPS_WARN_REL_DIFF:
            console.print(
                f"[bold yellow]warning:[/] {record['label']}: fvcore and ptflops disagree by"
                f" {100 * rel:.1f}% (> {100 * FLOPS_WARN_REL_DIFF:.0f}%)"
            )
    if summary.interrupted:
        console.print("[yellow]interrupted: run the same command again to resume")
        raise typer.Exit(130)
    if summary.failed:
        for cell, error in summary.failed:
            console.print(f"[red]failed[/] cell {cell.index} {cell.label}: {error}")
        raise typer.Exit(1)


def evaluate(
    suite: Annotated[Path, typer.Argument(help="Suite TOML file whose cells were trained.")],
    output: Annotated[
        Path | None, typer.Option(help="Output folder (default: the suite's, reports/<name>).")
    ] = None,
    clips: Annotated[int | None, typer.Option(help="K temporal clips per video.")] = None,
    crops: Annotated[int | None, typer.Option(help="Spatial crops per clip: 1 or 3.")] = None,
    force: Annotated[bool, typer.Option(help="Evaluate cells that already have a record.")] = False,
    imports: Imports = None,
) -> None:
    """Evaluate the suite's trained checkpoints again, without training; other views get
    records of their own."""
    import_cli_models(imports)
    spec, cells = load_cells(suite)
    if output is not None:
        spec.output = output
    if spec.workload is None:
        raise UsageError(f"{suite}: no [data] section, so there is nothing trained to evaluate")
    if crops is not None and crops not in (1, 3):
        raise UsageError(f"--crops {crops}: expected 1 or 3")
    if clips is not None and clips < 1:
        raise UsageError(f"--clips {clips}: expected an integer >= 1")
    views = {k: v for k, v in (("clips", clips), ("crops", crops)) if v is not None}
    _run_and_report(spec, cells, force=force, eval_views=views)


def multigrid_tables(cells: list[Cell]) -> list[Table]:
    """The multigrid long cycle of every cell that trains with it (`run --dry-run`)."""
    tables = []
    for cell in cells:
        if cell.workload is None or not cell.workload.train["multigrid"]:
            continue
        train, data = cell.workload.train, cell.workload.data
        table = Table(title=f"multigrid schedule of {cell.label}")
        for col in ("epochs", "frames", "crop", "batch size", "short cycle (crop x batch)"):
            table.add_column(col)
        for phase in long_cycle(train, data["frames"], data["crop"]):
            short = "-"
            if train["short_cycle"]:
                short = ", ".join(
                    f"{c}x{b}"
                    for c, b in (short_cycle_shape(phase, i, data["crop"]) for i in range(3))
                )
            table.add_row(
                f"{phase.start + 1}-{phase.end}",
                str(phase.frames),
                str(phase.crop),
                str(phase.batch_size),
                short,
            )
        tables.append(table)
    return tables


def show(
    folder: Annotated[
        Path,
        typer.Argument(
            help="A suite's output folder, e.g. reports/smoke, or a record `profile --json` wrote."
        ),
    ],
    csv: Annotated[bool, typer.Option(help="Also write results.csv next to the store.")] = False,
    by: Annotated[str, typer.Option(help="A record's breakdown rows: module | op.")] = "module",
) -> None:
    """Print a result store as a table, or one saved record as `mtbench profile` prints it."""
    if folder.is_file():
        _show_record(folder, by)
        return
    stores = find_stores(folder)
    if not stores:
        raise UsageError(f"{folder}: no results.jsonl or results.d/ found under it")
    for store in stores:
        records = list(latest_by_cell(read_records(store), per_machine=True).values())
        console.print(to_rich(records_table(records, f"{store}: {len(records)} cells")))
        if csv:
            import pandas as pd

            path = store / "results.csv"
            pd.json_normalize(records).to_csv(path, index=False)
            console.print(f"wrote {path}")


def _show_record(path: Path, by: str) -> None:
    """A record saved with `mtbench profile --json`, printed as the command printed it."""
    from mtbench.cli import print_breakdown, print_record
    from mtbench.report.breakdown_tables import BY_CHOICES

    if by not in BY_CHOICES:
        raise UsageError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    not_a_record = f"{path}: not a record saved with `mtbench profile --json`"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{not_a_record} ({exc})") from exc
    if not isinstance(record, dict) or "model" not in record:
        raise UsageError(not_a_record)
    print_record(record)
    if record.get("breakdown") is not None:
        print_breakdown(record, by)


def _preferred(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Of two records of one cell, an ok one beats a failed one, then the later one wins."""
    rank = (a.get("status") == "ok", a.get("finished_at") or "")
    return a if rank >= (b.get("status") == "ok", b.get("finished_at") or "") else b


def merge(
    folders: Annotated[list[Path], typer.Argument(help="Stores to combine.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Merged store (default: the first).")
    ] = None,
) -> None:
    """Combine result stores, keeping one record per cell_key and machine: the same cell
    measured on two machines stays as two results, which tables and plots show apart."""
    missing = [str(f) for f in folders if not is_store(f)]
    if missing:
        raise UsageError(f"no results.jsonl or results.d/ in: {', '.join(missing)}")
    merged: dict[str, dict[str, Any]] = {}
    total = 0
    for folder in folders:
        for key, record in latest_by_cell(read_records(folder), per_machine=True).items():
            total += 1
            merged[key] = _preferred(merged[key], record) if key in merged else record
    target = output or folders[0]
    write_records(target, merged.values())
    suite_copies = [f / SUITE_COPY for f in folders if (f / SUITE_COPY).exists()]
    if suite_copies and not (target / SUITE_COPY).exists():
        shutil.copyfile(suite_copies[0], target / SUITE_COPY)
    cells = len({r.get("cell_key") for r in merged.values()})
    machines = len({machine_key(r.get("env")) for r in merged.values()})
    on = f" on {machines} machines ({len(merged)} results)" if machines > 1 else ""
    console.print(f"merged {total} records from {len(folders)} stores into {cells} cells{on}")
    console.print(f"wrote {target / 'results.jsonl'}")


def status(
    target: Annotated[
        Path,
        typer.Argument(
            help="A suite's output folder (e.g. reports/smoke), or the suite file: its cells, "
            "imports read from its folder as run reads them, and its output folder."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where each cell of a store stands: done, failed (why), submitted (SLURM job and
    state) or not started."""
    if target.is_file():
        spec, cells = load_cells(target)
        show_status(spec.output, as_json, {c.key: c.label for c in cells})
    else:
        show_status(target, as_json)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command(name="eval")(evaluate)
    app.command()(show)
    app.command()(merge)
    app.command()(status)
