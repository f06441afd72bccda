"""The `mtbench` command line: models, profile, and the commands each area registers."""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, get_type_hints

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mtbench.checks import parse_value
from mtbench.cli_options import Imports, import_cli_models
from mtbench.console import LogConsole
from mtbench.errors import UsageError, one_line
from mtbench.options import (
    Declared,
    ProfileOptions,
    declared_options,
    flag_of,
    options_from,
    parse_input_shape,
)
from mtbench.record import ceilings_of, execution_summary, read_record
from mtbench.registry import (
    ModelConfigError,
    check_input,
    check_model_kwargs,
    list_models,
    model_entry,
)

# Deprecation notices from torch's JIT, which fvcore's tracer uses, are not the user's concern.
warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help is plain text: rich markup would swallow "[data]" and "[suite]" in docstrings.
    rich_markup_mode=None,
    help="Benchmark and ablate video action-recognition networks. "
    "GFLOPs count one multiply-add as one FLOP.",
)
console = LogConsole()
err_console = LogConsole(stderr=True)


def parse_kwargs(items: list[str]) -> dict[str, Any]:
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--kw {item!r}: expected KEY=VALUE, e.g. --kw r=0.75")
        kwargs[key.strip()] = parse_value(value.strip())
    return kwargs


@app.command()
def models(
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    imports: Imports = None,
) -> None:
    """List every registered model, its family, origin and keyword arguments."""
    import_cli_models(imports)
    names = sorted(list_models(family), key=natural_key)
    if not names:
        raise UsageError(f"no models in family {family!r}")
    entries = [model_entry(n) for n in names]
    if as_json:
        rows = [
            {
                "name": e.name,
                "family": e.family,
                "origin": e.origin,
                "source": e.source,
                "kwargs": e.kwargs,
            }
            for e in entries
        ]
        print(json.dumps(rows, indent=2, default=str))
        return
    if console.width < WIDE_MODELS:
        console.print(_model_blocks(entries, console.width), markup=False, highlight=False)
        return
    table = Table(title=f"{len(entries)} registered models")
    for col in ("name", "family", "origin", "keyword arguments (defaults)", "about"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(e.name, e.family, e.origin, escape(_kwargs_text(e)), escape(e.doc))
    console.print(table)


WIDE_MODELS = 140  # columns below which `models` prints a block per model instead of a table


def natural_key(name: str) -> list:
    """'mtnet-32' before 'mtnet-132': digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _kwargs_text(entry: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in entry.kwargs.items())


def _model_blocks(entries: list, width: int) -> str:
    """Per model: name, family and origin on one line, then its keyword arguments and its
    description, indented and wrapped between words (a table this narrow broke them
    mid-token)."""
    wrap = functools.partial(
        textwrap.fill, width=max(width, 40), initial_indent="    ", subsequent_indent="    ",
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip
    blocks = [f"{len(entries)} registered models"]
    for e in entries:
        lines = [f"{e.name}  ({e.family}, {e.origin})"]
        lines += [wrap(text) for text in (_kwargs_text(e), e.doc) if text]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _fmt_latency(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "not measured"
    return (
        f"{stats['median']:.2f} ms (p10 {stats['p10']:.2f}, p90 {stats['p90']:.2f},"
        f" cv {stats['cv']:.3f}, n={stats['repeats']})"
    )


def _deploy_rows(table: Table, record: dict[str, Any]) -> None:
    """What ran the exported graph, how it was exported, and its proof of equality."""
    d = record["deploy"]
    opset = f" (opset {d['opset']})" if d["opset"] else ""
    cached = ", read from the cell's cache" if d["cached"] else ""
    top = sorted(d["operators"].items(), key=lambda item: -item[1])[:8]
    table.add_row("runtime", f"{record['runtime']} {d['runtime_version']}, {d['precision']}")
    table.add_row(
        "export",
        f"{d['exporter']}{opset}: {d['nodes']} nodes, {d['file_bytes'] / 1e6:.1f} MB,"
        f" {d['export_s']:.1f} s{cached}",
    )
    table.add_row("operators (top 8)", ", ".join(f"{op} {n}" for op, n in top))
    table.add_row(
        "equal to PyTorch eager float32",
        f"max |diff| / max |logit| = {d['max_rel_diff']:.2g} (threshold {d['threshold']:g})",
    )


def print_record(stored: dict[str, Any]) -> None:
    """A profile record as a two-column table, with the FLOP disagreement flagged."""
    from mtbench.measure.profile import FLOPS_WARN_REL_DIFF

    record = read_record(stored)
    shape = "x".join(map(str, record["input_shape"]))
    table = Table(title=f"{record['model']} {record['model_kwargs'] or ''} @ {shape}")
    table.add_column("measure")
    table.add_column("value", overflow="fold")
    if record["params_total"] is not None:
        table.add_row("params (total)", f"{record['params_total']:,}")
        table.add_row("params (trainable)", f"{record['params_trainable']:,}")
    if record["gflops"] is not None:
        norm = "" if record["count_norm"] else ", norm layers not counted"
        table.add_row("GFLOPs/clip (fvcore; 1 MAC = 1 FLOP)", f"{record['gflops']:.3f}")
        table.add_row(f"GFLOPs/clip (ptflops aten{norm})", f"{record['gflops_ptflops']:.3f}")
        table.add_row("FLOP counters disagree by", f"{100 * record['flops_rel_diff']:.2f}%")
        table.add_row("operators not counted", ", ".join(record["flops_skipped_ops"]) or "none")
    table.add_row("latency fwd / clip", _fmt_latency(record["latency_fwd_ms"]))
    table.add_row("latency fwd+bwd / clip", _fmt_latency(record["latency_fwdbwd_ms"]))
    if record["peak_mem_mb"] is not None:
        table.add_row("peak memory growth", f"{record['peak_mem_mb']:.1f} MiB")
    if record.get("deploy"):
        _deploy_rows(table, record)
    else:
        table.add_row("execution", execution_summary(record))
    env = record["env"]
    table.add_row(
        "environment",
        f"{record['device']} ({env['device_name']}), {record['dtype']}, batch"
        f" {record['batch_size']}, {record['threads']} threads, torch {env['torch']},"
        f" torchvision {env['torchvision']}, mtbench {env['mtbench']}"
        f" @ {(env['git_commit'] or 'no git')[:10]}",
    )
    console.print(table)
    if record["flops_rel_diff"] is not None and record["flops_rel_diff"] > FLOPS_WARN_REL_DIFF:
        err_console.print(
            f"[bold yellow]warning:[/] fvcore and ptflops disagree by"
            f" {100 * record['flops_rel_diff']:.1f}% (> {100 * FLOPS_WARN_REL_DIFF:.0f}%)"
        )
    if record["flops_skipped_ops"]:
        err_console.print(
            "[bold yellow]warning:[/] operators not counted: "
            + ", ".join(record["flops_skipped_ops"])
        )


def profile(
    name: Annotated[
        str,
        typer.Argument(
            help="Registered model name (see `mtbench models`), module:callable or hub:DIR:ENTRY."
        ),
    ],
    input: Annotated[str, typer.Option("--input", "-i", help="BxCxTxHxW clip.")] = "1x3x16x112x112",
    kw: Annotated[
        list[str] | None, typer.Option("--kw", "-k", help="Model keyword argument KEY=VALUE.")
    ] = None,
    breakdown: Annotated[
        bool, typer.Option("--breakdown", help="Also break the cost down by module or operator.")
    ] = False,
    by: Annotated[str, typer.Option(help="Breakdown rows: module | op (kind of operator).")] = (
        "module"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result record as JSON.")
    ] = False,
    imports: Imports = None,
    **settings: Any,
) -> None:
    """Measure params, GFLOPs (two counters), latency and memory of one model."""
    from mtbench.measure.profile import profile as measure

    import_cli_models(imports)
    try:
        shape = parse_input_shape(input)
    except ValueError as exc:
        raise UsageError(f"--input {input!r}: {exc}") from exc
    kwargs = parse_kwargs(kw or [])
    options = _cli_options(settings, breakdown)
    check_model_kwargs(name, kwargs)
    if (why := check_input(name, kwargs, shape)) is not None:
        raise UsageError(why)
    if "breakdown" in options.measure:
        _check_breakdown(name, kwargs, options.breakdown_depth, by)
    try:
        with err_console.status(f"profiling {name}") as status:
            record = measure(
                name, kwargs, shape, options, on_phase=lambda p: status.update(f"{name}: {p}")
            )
    except ModelConfigError:
        raise
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"{name}: {one_line(exc)}") from exc
    if as_json:
        print(json.dumps(record, indent=2))
    else:
        print_record(record)
        if record["breakdown"] is not None:
            print_breakdown(record, by)


def _cli_options(settings: dict[str, Any], breakdown: bool) -> ProfileOptions:
    """The run options the flags give (`--breakdown` adds the breakdown to `--measure`);
    a problem names its flag."""
    options = options_from(settings)
    if breakdown and "breakdown" not in (options.measure or ()):
        options = replace(options, measure=(*options.measure, "breakdown"))
    if options.interleave:
        raise UsageError(
            "--interleave: times a suite's cells in rounds (`mtbench run`), not one model"
        )
    if problems := options.problems():
        raise UsageError("; ".join(f"{flag_of(key)}: {message}" for key, message in problems))
    return options


def _check_breakdown(name: str, kwargs: dict[str, Any], depth: int | None, by: str) -> None:
    """A breakdown that cannot be met is one line before anything is measured."""
    from mtbench.measure.breakdown_count import depth_problem
    from mtbench.registry import validate_model
    from mtbench.report.breakdown_tables import BY_CHOICES

    if by not in BY_CHOICES:
        raise UsageError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    if depth is not None and (why := depth_problem(validate_model(name, **kwargs), depth)):
        raise UsageError(f"--depth {depth}: {name} has {why}")


def print_breakdown(record: dict[str, Any], by: str) -> None:
    """The breakdown table under the record's, with what its times and ceilings are."""
    from mtbench.report.breakdown_tables import breakdown_notes, breakdown_rows

    ceilings = ceilings_of(record)
    header, rows = breakdown_rows(record["breakdown"], ceilings, by)
    table = Table(
        title=f"where the cost goes, by {by} (depth {record['breakdown']['depth']})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*map(escape, row))
    # Twelve numeric columns: wider than the 80 columns rich assumes for a pipe.
    wide = Console(width=max(console.width, 124))
    wide.print(table)
    for note in breakdown_notes(record["breakdown"], ceilings):
        wide.print(escape(note), highlight=False)


@app.command()
def ceilings(
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    dtype: Annotated[str, typer.Option(help="float32 | bfloat16 | float16")] = "float32",
    threads: Annotated[int | None, typer.Option(help="CPU threads (torch).")] = None,
    remeasure: Annotated[
        bool, typer.Option("--remeasure", help="Measure again and replace the cached figures.")
    ] = False,
) -> None:
    """This machine's peak compute and memory bandwidth, as breakdowns place rows under them."""
    import torch

    from mtbench.measure.ceilings import cache_dir, machine_ceilings
    from mtbench.measure.environment import environment
    from mtbench.measure.profile import DTYPES, resolve_device

    problems = ProfileOptions(device=device, dtype=dtype, threads=threads).problems()
    if problems:
        raise UsageError("; ".join(f"--{k}: {msg}" for k, msg in problems))
    try:
        where = resolve_device(device)
    except RuntimeError as exc:
        raise UsageError(str(exc)) from exc
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        env = environment(where)
        found = machine_ceilings(env, where, DTYPES[dtype], remeasure=remeasure)
    finally:
        torch.set_num_threads(before)
    console.print(
        f"{found['entry']} on {env['device_name']}: GEMM {found['gemm_gflops']:.1f}, conv3d"
        f" {found['conv3d_gflops']:.1f} GFLOP/s (1 multiply-add = 1 FLOP); copy"
        f" {found['copy_gbs']:.1f}, add {found['add_gbs']:.1f} GB/s; measured"
        f" {found['measured_at']}, cached in {cache_dir()}",
        highlight=False,
    )


# Typer reads a command's parameters from its signature: the run options' flags are added
# to `profile` from their one declaration (mtbench.options), with its help and default.
_CLI_TYPES = {"str": str, "int": int, "bool": bool, "int | None": int | None}


def _option_flag(declared: Declared) -> inspect.Parameter:
    if declared.type.startswith("tuple[str, ...]"):  # a list on the command line: a,b,c
        kind, default = str | None, None
    else:
        kind, default = _CLI_TYPES.get(declared.type, declared.type), declared.default
    if declared.type == "bool | None":
        kind = bool | None
    # Typer names a flag after its parameter (a bool gets its --no- twin); a declared flag
    # that differs is named explicitly.
    own = "--" + declared.name.replace("_", "-")
    names = () if declared.flag == own else (declared.flag,)
    return inspect.Parameter(
        declared.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*names, help=declared.help)],
    )


def _with_option_flags(command: Callable[..., None]) -> Callable[..., None]:
    """`command`, its `**settings` replaced by one flag per declared option."""
    hints = get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    own = [
        p.replace(annotation=hints[p.name])
        for p in signature.parameters.values()
        if p.kind != p.VAR_KEYWORD
    ]
    flags = [_option_flag(d) for d in declared_options()]
    command.__signature__ = signature.replace(parameters=[*own, *flags])  # type: ignore[attr-defined]
    return command


app.command()(_with_option_flags(profile))


def _register_area_commands() -> None:
    """Each area (suites, reports, training) adds its own commands to the one app."""
    import importlib

    for module in ("mtbench.suite.commands", "mtbench.report.commands", "mtbench.data.commands"):
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_area_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point; `argv` lets tests run the CLI in-process exactly as the shell does."""
    try:
        app(args=argv, prog_name="mtbench")
    except (UsageError, ModelConfigError) as exc:
        # escape: messages name TOML sections ("[data]"), which rich would read as markup
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
