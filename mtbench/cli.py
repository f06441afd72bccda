"""The `mtbench` command line: models, profile, and the commands each area registers."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sys
import textwrap
import traceback
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mtbench import numbers
from mtbench.checks import parse_value
from mtbench.cli_options import Imports, import_cli_models
from mtbench.console import LogConsole
from mtbench.errors import UsageError, one_line
from mtbench.model_sources import resolving_from
from mtbench.options import (
    Declared,
    ProfileOptions,
    declared_options,
    flag_of,
    options_from,
    parse_input_shape,
)
from mtbench.record import ceilings_of, execution_summary, read_record, verdict_of
from mtbench.registry import (
    ModelConfigError,
    check_input,
    check_model_kwargs,
    list_models,
    model_entry,
)
from mtbench.table_model import Column, TextTable, to_rich, to_rich_plain

# Deprecation notices from torch's JIT, which fvcore's tracer uses, are not the user's concern.
warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
# Nor torchao's registration of its enums with torch's pytree, logged as a warning on every
# import of torchao (which transformers imports when it is installed).
logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)

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
DEBUG_ENV = "MTBENCH_DEBUG"  # set to 1: every error prints its traceback, as --debug does
_debug = {"on": False}  # set by the app's callback for this invocation; read by main()


def _print_version(value: bool) -> None:
    """`--version`: which mtbench (release and commit, as records give it) and torch run."""
    if not value:
        return
    import torch

    from mtbench import __version__
    from mtbench.measure.environment import git_commit

    commit = git_commit() or "unknown (not a git checkout)"
    print(f"mtbench {__version__} (commit {commit}, torch {torch.__version__})")
    raise typer.Exit()


@app.callback()
def global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar=DEBUG_ENV,
            help="On an error, print the full traceback, with its causes (a model's builder"
            " or forward included), instead of one line.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print mtbench's version, its git commit and torch's version, and exit.",
        ),
    ] = False,
) -> None:
    """Options of every command: given before the command's name (mtbench --debug run ...)."""
    _debug["on"] = debug


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
        textwrap.fill,
        width=max(width, 40),
        initial_indent="    ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    blocks = [f"{len(entries)} registered models"]
    for e in entries:
        lines = [f"{e.name}  ({e.family}, {e.origin})"]
        lines += [wrap(text) for text in (_kwargs_text(e), e.doc) if text]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _deploy_rows(record: dict[str, Any]) -> list[list[str]]:
    """What ran the exported graph, how it was exported, and its proof of equality."""
    d = record["deploy"]
    opset = f" (opset {d['opset']})" if d["opset"] else ""
    cached = ", read from the cell's cache" if d["cached"] else ""
    top = sorted(d["operators"].items(), key=lambda item: -item[1])[:8]
    return [
        ["runtime", f"{record['runtime']} {d['runtime_version']}, {d['precision']}"],
        [
            "export",
            f"{d['exporter']}{opset}: {d['nodes']} nodes, {d['file_bytes'] / 1e6:.1f} MB,"
            f" {d['export_s']:.1f} s{cached}",
        ],
        ["operators (top 8)", ", ".join(f"{op} {n}" for op, n in top)],
        [
            "equal to PyTorch eager float32",
            f"max |diff| / max |logit| = {d['max_rel_diff']:.2g} (threshold {d['threshold']:g})",
        ],
    ]


def _quantization_rows(record: dict[str, Any]) -> list[list[str]]:
    """The INT8 network: its toolchain and calibration, what ran in INT8 and how far its logits
    moved (not an accuracy)."""
    q = record["quantization"]
    a, f, s = q["audit"], q["fidelity"], q["settings"]
    cached = ", read from the cell's cache" if q["cached"] else ""
    ops = a["int8_ops"] + a["float_ops"]
    share = numbers.percent(a["int8_flops_share"], 1, True)
    matched = numbers.percent(a["matched_flops_share"], 1, True)
    rows = [
        ["runtime", f"{record['runtime']}, int8 by {q['toolchain']} {q['version']}{cached}"],
        ["calibration", f"{s['calibration_clips']} clips, {s['calibration']}"],
        [
            "operators in INT8",
            f"{a['int8_ops']} of {ops} ({share} of GFLOPs; modules matched: {matched})",
        ],
        ["left in float", ", ".join(a["float_modules"][:8]) or "none"],
        [
            "logits moved (not an accuracy)",
            f"max |diff| / max |logit| = {f['max_rel_diff']:.2g}, top-1 agreement"
            f" {numbers.percent(f['top1_agreement'], 1, True)} of {f['clips']} random clips",
        ],
    ]
    return rows


def _gate_rows(record: dict[str, Any]) -> list[list[str]]:
    """A reduced-precision cell's accuracy gate (INT8, bfloat16 with [data]), or why it could
    not be evaluated; nothing for any other record."""
    g = record.get("gate")
    if g is None:
        error = record.get("gate_error")
        return [["accuracy gate", f"not evaluated: {error}"]] if error else []
    verdict = (
        f"{g['verdict']}: top-1 {numbers.percent(g['as_run']['top1'], 2)} against"
        f" {numbers.percent(g['float32']['top1'], 2)} float32"
        f" ({numbers.percent(g['ratio'], 2, True)}), agreement"
        f" {numbers.percent(g['top1_agreement'], 1, True)} of {g['videos']} videos"
    )
    return [["accuracy gate", verdict]]


def _count_rows(record: dict[str, Any]) -> list[list[str]]:
    """Params and the two FLOP counters' GFLOPs, where they were counted."""
    rows = []
    if record["params_total"] is not None:
        rows.append(["params (total)", f"{record['params_total']:,}"])
        rows.append(["params (trainable)", f"{record['params_trainable']:,}"])
    if record["gflops"] is not None:
        norm = "" if record["count_norm"] else ", norm layers not counted"
        rows += [
            ["GFLOPs/clip (fvcore; 1 MAC = 1 FLOP)", numbers.gflops(record["gflops"])],
            [f"GFLOPs/clip (ptflops aten{norm})", numbers.gflops(record["gflops_ptflops"])],
            ["FLOP counters disagree by", numbers.percent(record["flops_rel_diff"], 2, True)],
            ["operators not counted", ", ".join(record["flops_skipped_ops"]) or "none"],
        ]
    return rows


def record_table(stored: dict[str, Any]) -> TextTable:
    """A profile record as a two-column table: counts, latency with its spread and verdict,
    memory, how it ran."""
    record = read_record(stored)
    shape = "x".join(map(str, record["input_shape"]))
    table = TextTable(
        [Column("measure", "left"), Column("value", "left")],
        _count_rows(record),
        f"{record['model']} {record['model_kwargs'] or ''} @ {shape}",
    )
    fwd, fwdbwd = record["latency_fwd_ms"], record["latency_fwdbwd_ms"]
    table.rows += [
        ["latency fwd / clip", numbers.latency_stats(fwd, detail=True) if fwd else "not measured"],
        [
            "latency fwd+bwd / clip",
            numbers.latency_stats(fwdbwd, detail=True) if fwdbwd else "not measured",
        ],
    ]
    if fwd or fwdbwd:
        verdicts = [
            f"{name} {numbers.verdict(s)}" for name, s in (("fwd", fwd), ("fwd+bwd", fwdbwd)) if s
        ]
        table.rows.append(["timing verdict", ", ".join(verdicts)])
    if record["peak_mem_mb"] is not None:
        step = MEMORY_PASS_WORDS.get(record.get("peak_mem_pass"), "")
        memory = f"{numbers.decimal(record['peak_mem_mb'], 1)} MiB{step}"
        table.rows.append(["peak memory growth", memory])
    if record.get("scenario_run"):
        from mtbench.report.scenario_tables import scenario_rows

        table.rows += scenario_rows(record["scenario_run"])
    if record.get("deploy"):
        table.rows += _deploy_rows(record)
    elif record.get("quantization"):
        table.rows += _quantization_rows(record)
    else:
        table.rows.append(["execution", execution_summary(record)])
    table.rows += _gate_rows(record)
    env = record["env"]
    table.rows.append(
        [
            "environment",
            f"{record['device']} ({env['device_name']}), {record['dtype']}, batch"
            f" {record['batch_size']}, {numbers.count(record['threads'], 'thread')}, torch"
            f" {env['torch']}, torchvision {env['torchvision']}, mtbench {env['mtbench']}"
            f" @ {(env['git_commit'] or 'no git')[:10]}",
        ]
    )
    if verdict_of(record) == "disturbed":
        table.footnotes.append(numbers.DISTURBED_NOTE)
    return table


# What the record's memory pass ran (mtbench.executor.MEMORY_PASSES), in words.
MEMORY_PASS_WORDS = {"fwdbwd": " (one forward+backward)", "fwd": " (one forward)"}


def print_record(stored: dict[str, Any]) -> None:
    """A profile record as a two-column table, with the FLOP disagreement flagged."""
    from mtbench.measure.profile import FLOPS_WARN_REL_DIFF

    record = read_record(stored)
    console.print(to_rich(record_table(record)))
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
    options = _cli_options(settings, breakdown, shape)
    if options.require_accuracy is not None:
        raise UsageError(
            "--require-accuracy: a gate needs a suite cell with [data] (the INT8 network is"
            " evaluated on its test clips); profile reports the logits' difference instead"
        )
    with resolving_from(Path.cwd()):  # a place in the name is read from here
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


def _cli_options(settings: dict[str, Any], breakdown: bool, shape: list[int]) -> ProfileOptions:
    """The run options the flags give (`--breakdown` adds the breakdown to `--measure`);
    a problem names its flag (a stream's stride is checked against the clip's frames)."""
    options = options_from(settings)
    if breakdown and "breakdown" not in (options.measure or ()):
        options = replace(options, measure=(*options.measure, "breakdown"))
    if options.interleave:
        raise UsageError(
            "--interleave: times a suite's cells in rounds (`mtbench run`), not one model"
        )
    problems = options.problems()
    problems += [p for p in options.scenario_problems(window=shape[2]) if p not in problems]
    if problems:
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
    from mtbench.report.breakdown_tables import breakdown_table

    table = breakdown_table(record["breakdown"], ceilings_of(record), by)
    # Twelve numeric columns: wider than the 80 columns rich assumes for a pipe.
    wide = Console(width=max(console.width, 124))
    wide.print(to_rich_plain(replace(table, footnotes=[])))  # the notes as lines, unwrapped
    for note in table.footnotes:
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
    print_ceilings(found, env["device_name"], str(cache_dir()))


def print_ceilings(found: dict[str, Any], device_name: str, cached_in: str) -> None:
    """Each ceiling with the verdict on its window, and why one is not clean."""
    from mtbench.measure.breakdown_rows import CEILING_LABELS, ceiling_verdict

    def one(name: str) -> str:
        return f"{CEILING_LABELS[name]} {found[name]:.1f} ({ceiling_verdict(found, name)})"

    console.print(
        f"{found['entry']} on {device_name}: {one('gemm_gflops')}, {one('conv3d_gflops')}"
        f" GFLOP/s (1 multiply-add = 1 FLOP); {one('copy_gbs')}, {one('add_gbs')} GB/s;"
        f" measured {found['measured_at']}, cached in {cached_in}",
        highlight=False,
    )
    for name, label in CEILING_LABELS.items():
        judged = (found.get("verdicts") or {}).get(name, {})
        if judged.get("verdict") == "disturbed":
            console.print(
                f"{label}: disturbed in {judged['tries']} windows ({'; '.join(judged['reasons'])});"
                " measured again on the next call",
                highlight=False,
            )
        elif judged.get("verdict") == "unknown":
            console.print(f"{label}: {'; '.join(judged['reasons'])}", highlight=False)


# Typer reads a command's parameters from its signature: the run options' flags are added
# to `profile` from their one declaration (mtbench.options), with its help and default.
_CLI_TYPES = {
    "str": str,
    "int": int,
    "bool": bool,
    "int | None": int | None,
    "float": float,
    "float | None": float | None,
}


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

    for module in ("mtbench.launch.commands", "mtbench.report.commands", "mtbench.data.commands"):
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_area_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point; `argv` lets tests run the CLI in-process exactly as the shell does.

    Bad input is one line and exit code 2; with --debug (or MTBENCH_DEBUG=1) the same error
    prints its traceback and the chain of causes (a builder's own frames), still exit code 2.
    """
    _debug["on"] = False
    try:
        app(args=argv, prog_name="mtbench")
    except (UsageError, ModelConfigError) as exc:
        if _debug["on"]:
            traceback.print_exception(exc, file=sys.stderr)
        else:  # escape: messages name TOML sections ("[data]"), which rich reads as markup
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
        sys.exit(2)
