"""The `mtbench` command line: models, profile, and the commands each area registers."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mtbench.cli_options import Imports, import_cli_models
from mtbench.errors import UsageError
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
console = Console()
err_console = Console(stderr=True)


def parse_input_shape(text: str) -> list[int]:
    """'1x3x16x112x112' -> [1, 3, 16, 112, 112] (B, C, T, H, W)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        shape = [int(p) for p in parts]
    except ValueError:
        shape = []
    if len(shape) != 5 or any(s < 1 for s in shape) or shape[1] != 3:
        raise UsageError(
            f"--input {text!r}: expected BxCxTxHxW with 3 channels and positive sizes,"
            " e.g. 1x3x16x112x112"
        )
    return shape


def parse_value(text: str) -> Any:
    """A keyword argument's value as TOML reads it (0.5, 8, true, "pool"); else the string."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


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
    names = list_models(family)
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
    table = Table(title=f"{len(entries)} registered models")
    for col in ("name", "family", "origin", "keyword arguments (defaults)", "about"):
        table.add_column(col, overflow="fold")
    for e in entries:
        kwargs = ", ".join(f"{k}={v!r}" for k, v in e.kwargs.items())
        table.add_row(e.name, e.family, e.origin, escape(kwargs), escape(e.doc))
    console.print(table)


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


def print_record(record: dict[str, Any]) -> None:
    """A profile record as a two-column table, with the FLOP disagreement flagged."""
    from mtbench.measure.profile import FLOPS_WARN_REL_DIFF, execution_summary

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


@app.command()
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
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    dtype: Annotated[str, typer.Option(help="float32 | bfloat16 | float16")] = "float32",
    warmup: Annotated[int, typer.Option(help="Untimed runs before timing.")] = 3,
    repeats: Annotated[int, typer.Option(help="Timed runs.")] = 10,
    measure: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: params,flops,latency_fwd,latency_fwdbwd,memory"
            " [default: all; forward only with --runtime]"
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (torch).")] = None,
    channels_last: Annotated[bool, typer.Option(help="channels_last_3d memory format.")] = False,
    compile: Annotated[bool, typer.Option(help="torch.compile the model first.")] = False,
    compile_mode: Annotated[
        str, typer.Option(help="With --compile: default | reduce-overhead | max-autotune")
    ] = "default",
    cuda_graphs: Annotated[
        bool, typer.Option(help="CUDA only: capture each step once, time its graph replays.")
    ] = False,
    amp: Annotated[
        bool, typer.Option(help="Autocast to --dtype (bfloat16 | float16), weights in float32.")
    ] = False,
    cudnn_benchmark: Annotated[
        bool | None, typer.Option(help="cuDNN autotuning [default: on for CUDA].")
    ] = None,
    count_norm: Annotated[
        bool, typer.Option(help="Count normalisation layers in GFLOPs (fvcore's default).")
    ] = True,
    runtime: Annotated[
        str, typer.Option(help="pytorch | onnxruntime | openvino | tensorrt (docs/deploy.md)")
    ] = "pytorch",
    exporter: Annotated[
        str, typer.Option(help="auto | dynamo | torchscript | openvino (with --runtime)")
    ] = "auto",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result record as JSON.")
    ] = False,
    imports: Imports = None,
) -> None:
    """Measure params, GFLOPs (two counters), latency and memory of one model."""
    from mtbench.deploy import default_measures
    from mtbench.measure.profile import MEASURES, ProfileOptions, one_line
    from mtbench.measure.profile import profile as run_profile

    import_cli_models(imports)
    shape = parse_input_shape(input)
    kwargs = parse_kwargs(kw or [])
    options = ProfileOptions(
        device=device,
        dtype=dtype,
        warmup=warmup,
        repeats=repeats,
        measure=tuple(m.strip() for m in measure.split(",") if m.strip())
        if measure is not None
        else default_measures(runtime, MEASURES),
        threads=threads,
        channels_last=channels_last,
        compile=compile,
        count_norm=count_norm,
        cudnn_benchmark=cudnn_benchmark,
        compile_mode=compile_mode,
        cuda_graphs=cuda_graphs,
        amp=amp,
        runtime=runtime,
        exporter=exporter,
    )
    problems = options.problems()
    if problems:
        raise UsageError("; ".join(f"--{k.replace('_', '-')}: {msg}" for k, msg in problems))
    check_model_kwargs(name, kwargs)
    if (why := check_input(name, kwargs, shape)) is not None:
        raise UsageError(why)
    try:
        with err_console.status(f"profiling {name}") as status:
            record = run_profile(
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
