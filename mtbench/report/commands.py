"""The `plot` and `table` commands; `register(app)` adds them to the mtbench CLI.

Bad input raises `UsageError` (one line, exit code 2, printed by the CLI's entry point).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mtbench.errors import UsageError
from mtbench.report.choices import (
    PLOT_FORMATS,
    PLOT_NAMES,
    SORT_KEYS,
    TABLE_FORMATS,
    parse_choices,
)

COMPARE_CHOICES = ("paper",)


def _compare(value: str | None) -> bool:
    if value is None:
        return False
    if value not in COMPARE_CHOICES:
        raise UsageError(f"unknown --compare {value!r}; choose: {', '.join(COMPARE_CHOICES)}")
    return True


def plot(
    folder: Annotated[
        Path, typer.Argument(help="A results folder: every store under it is plotted.")
    ],
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Comma-separated plots to draw, from: " + ", ".join(PLOT_NAMES)
        ),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="'paper': overlay the paper's numbers as hollow markers."),
    ] = None,
    formats: Annotated[
        str,
        typer.Option(
            "--format", help="Comma-separated file formats, from: " + ", ".join(PLOT_FORMATS)
        ),
    ] = "png,svg",
) -> None:
    """Draw the paper's figures from result stores into FOLDER/plots/, and FOLDER/index.html."""
    from mtbench.report.build import build_plots
    from mtbench.report.frame import machines_note
    from mtbench.report.tables import failed_lines

    kinds = parse_choices(only, PLOT_NAMES, "plot")
    chosen_formats = parse_choices(formats, PLOT_FORMATS, "format")
    with_paper = _compare(compare)
    stores, outcomes, index = build_plots(folder, kinds, chosen_formats, with_paper)
    for outcome in outcomes:
        if outcome.skipped:
            typer.echo(f"skipped {outcome.suite}/{outcome.kind}: {outcome.skipped}", err=True)
        else:
            typer.echo(f"wrote {', '.join(str(p) for p in outcome.paths)}")
    for store in stores:
        if machines_note(store):
            typer.echo(machines_note(store))
        for line in failed_lines(store):
            typer.echo(f"failed cell in {store.suite}: {line}", err=True)
        if store.unreadable_lines:
            typer.echo(
                f"{store.suite}: skipped {store.unreadable_lines} unreadable line(s) "
                "(torn or corrupt) in its store",
                err=True,
            )
    typer.echo(f"wrote {index}")


def _scenario_text(stores: list[Any], fmt: str, live: bool, scenarios: bool) -> str:
    """Each store's 'can it run live' table (`live`) or what each scenario gives, in `fmt`."""
    from mtbench.report.scenario_tables import live_table, summary_table
    from mtbench.table_model import to_csv, to_latex, to_markdown

    if live and scenarios:
        raise UsageError("--live and --scenarios are two tables: ask for one")
    render = {"md": to_markdown, "csv": to_csv, "latex": to_latex}[fmt]
    parts = []
    for store in stores:
        if live:
            table = live_table(store.frame, f"{store.suite}: can it run live")
            empty = f'{store.suite}: no stream cells (scenario = "stream")\n'
        else:
            table = summary_table(store.frame, f"{store.suite}: what each scenario gives")
            empty = f"{store.suite}: no scenario cells (every cell's scenario is repeat)\n"
        if not table.rows:
            parts.append(empty)
        else:
            text = ("" if fmt == "csv" else f"### {table.title}\n\n") + render(table)
            parts.append(text if text.endswith("\n") else text + "\n")
    return "\n".join(parts)


def table(
    folder: Annotated[Path, typer.Argument(help="A results folder: every store under it.")],
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"Output format, one of: {', '.join(TABLE_FORMATS)}."),
    ] = "md",
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="'paper': add the paper's numbers and relative deltas."),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option("--sort", help=f"Order within each family by: {', '.join(SORT_KEYS)}."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Also compare every cell with this one (md only)."),
    ] = None,
    across_machines: Annotated[
        bool, typer.Option("--across-machines", help="With --baseline: compare across machines.")
    ] = False,
    breakdown: Annotated[
        bool, typer.Option("--breakdown", help="Print each cell's breakdown instead (md).")
    ] = False,
    by: Annotated[str, typer.Option(help="With --breakdown: rows by module | op.")] = "module",
    live: Annotated[
        bool,
        typer.Option("--live", help="Print 'can it run live' instead: the stream cells' fps."),
    ] = False,
    scenarios: Annotated[
        bool,
        typer.Option(
            "--scenarios",
            help="Print what each scenario gives instead: a row per model, runtime and input.",
        ),
    ] = False,
) -> None:
    """Print the stores as tables (params, GFLOPs, latency F/B, accuracy), grouped by family."""
    from mtbench.report.build import stores_under
    from mtbench.report.tables import failed_lines, render

    if breakdown:
        typer.echo(_breakdown_text(stores_under(folder), by), nl=False)
        return
    with_paper = _compare(compare)
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose one of: {', '.join(TABLE_FORMATS)}")
    if live or scenarios:
        typer.echo(_scenario_text(stores_under(folder), fmt, live, scenarios), nl=False)
        return
    if baseline is not None and fmt != "md":
        raise UsageError(f"--baseline goes with --format md; for {fmt}, use mtbench compare")
    stores = stores_under(folder)
    typer.echo(render(stores, fmt, with_paper, sort), nl=False)
    if baseline is not None:
        typer.echo("\n" + _comparison_text(stores, baseline, across_machines, "md"), nl=False)
    if fmt == "csv":  # Markdown and LaTeX list failed cells under each table; CSV cannot
        for store in stores:
            for line in failed_lines(store):
                typer.echo(f"failed cell in {store.suite} (not in the table): {line}", err=True)


def _breakdown_text(stores: list, by: str) -> str:
    from mtbench.report.breakdown_tables import (
        BY_CHOICES,
        breakdown_markdown,
        cells_with_breakdown,
    )

    if by not in BY_CHOICES:
        raise UsageError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    parts = [
        breakdown_markdown(label, breakdown, ceilings, by, audits)
        for s in stores
        for label, breakdown, ceilings, audits in cells_with_breakdown(s.ok)
    ]
    if not parts:
        raise UsageError('no cell has a breakdown: add "breakdown" to the suite\'s measure')
    return "\n".join(parts)


def _comparison_text(stores: list, baseline: str, across_machines: bool, fmt: str) -> str:
    import pandas as pd

    from mtbench.report.compare import compare as compare_cells
    from mtbench.report.compare import render_comparison

    cells = pd.concat([store.ok for store in stores], ignore_index=True)
    return render_comparison(compare_cells(cells, baseline, across_machines), fmt)


def compare(
    folder: Annotated[Path, typer.Argument(help="A results folder: every store under it.")],
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            help="The cell (label, or registry name) to compare with; runtime=NAME: each cell"
            " with its own model under runtime NAME (e.g. runtime=pytorch).",
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="md or csv.")] = "md",
    across_machines: Annotated[
        bool,
        typer.Option("--across-machines", help="Compare with a baseline measured elsewhere too."),
    ] = False,
) -> None:
    """Every cell against the baseline cell under the same conditions: latency ratios with 95%
    bootstrap intervals, GFLOPs and params ratios, top-1 differences over seeds."""
    from mtbench.report.build import stores_under

    if fmt not in ("md", "csv"):
        raise UsageError(f"unknown --format {fmt!r}; choose one of: md, csv")
    typer.echo(_comparison_text(stores_under(folder), baseline, across_machines, fmt), nl=False)


def _threshold(percent: float) -> float:
    if not 0 < percent < 1000:
        raise UsageError(f"--threshold {percent:g}: a percentage above 0 and below 1000, e.g. 5")
    return percent / 100


def history(
    folder: Annotated[Path, typer.Argument(help="A store, or a folder of stores.")],
    cell: Annotated[
        str | None, typer.Option("--cell", help="One cell: its key (or its start) or label.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The cells of one model (registry name).")
    ] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Percent worse that counts as a regression.")
    ] = 5.0,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit 1 when a regression is flagged.")
    ] = False,
) -> None:
    """A cell's measurements over time on each machine, what changed between them (mtbench,
    commit, torch, the model's file), and the regressions: slower or less accurate beyond
    --threshold, with a 95% interval that excludes no change. Without --cell or --model,
    every cell measured more than once."""
    from mtbench.report.build import stores_under
    from mtbench.report.history import cell_histories, render_history, select

    if cell is not None and model is not None:
        raise UsageError("--cell and --model: give one of them")
    limit = _threshold(threshold)
    records = [r for store in stores_under(folder) for r in store.records]
    histories = cell_histories(records, limit)
    chosen = select(histories, cell, model)
    if (cell or model) and not chosen:
        option, value = ("--cell", cell) if cell else ("--model", model)
        names = ", ".join(dict.fromkeys(h.label for h in histories))
        raise UsageError(f"{option} {value!r}: no such cell under {folder} (cells: {names})")
    if not chosen:
        typer.echo(f"every cell under {folder} was measured once: no history to show")
        return
    typer.echo(render_history(chosen, limit), nl=False)
    if fail_on_regression and any(step.regressions for h in chosen for step in h.steps):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `plot`, `table`, `compare` and `history` to the mtbench Typer app."""
    app.command("plot")(plot)
    app.command("table")(table)
    app.command("compare")(compare)
    app.command("history")(history)
