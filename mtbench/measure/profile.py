"""The one measurement entry point: a model configuration in, one result record out.

Every number in a record comes from here, whether `mtbench profile` or a suite cell asked
for it, so the CLI, the suites, plots and tables all agree on what a figure means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from mtbench.errors import one_line
from mtbench.measure.breakdown import BreakdownRun
from mtbench.measure.ceilings import machine_ceilings
from mtbench.measure.contention import flag_fwdbwd
from mtbench.measure.environment import environment
from mtbench.measure.flops import count_flops
from mtbench.measure.latency import (
    cuda_graph_replay,
    forward_backward_step,
    forward_step,
    time_runs,
    timer_for,
)
from mtbench.measure.memory import PeakMemory
from mtbench.measure.params import count_params
from mtbench.options import (
    MEASURE_CHOICES,
    MEASURES,
    RUNNING_MEASURES,
    ProfileOptions,
    parse_input_shape,
)
from mtbench.record import Record, new_record
from mtbench.registry import create_model, model_entry

__all__ = ["MEASURES", "MEASURE_CHOICES", "ProfileOptions", "profile", "unmeasured_record"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
FLOPS_WARN_REL_DIFF = 0.05
SEED = 0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available here")
    return torch.device(name)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def unmeasured_record(
    name: str, kwargs: dict[str, Any], input_shape: Sequence[int], options: ProfileOptions
) -> Record:
    """The record's every key, figures unset: what a failed cell stores."""
    try:
        entry = model_entry(name)
        family, provenance = entry.family, entry.provenance()
    except ValueError:
        family = provenance = None
    identity = {
        "model": name,
        "family": family,
        "provenance": provenance,
        "model_kwargs": dict(kwargs),
        "input_shape": list(input_shape),
    }
    conditions = {**options.conditions(), "threads": options.threads or torch.get_num_threads()}
    return new_record(identity, conditions, now_iso())


def profile(
    name: str,
    kwargs: dict[str, Any],
    input_shape: Sequence[int],
    options: ProfileOptions,
    on_phase: Callable[[str], None] = lambda phase: None,
    model: torch.nn.Module | None = None,
    cache_dir: Path | None = None,
    time_latency: bool = True,
) -> Record:
    """Measure one configuration; raises on failure (callers record it as they see fit).

    `model`, when given, is the cell's one build (a training cell's trained network); else
    the model is built here, once, for every measurement the options ask for. A runtime other
    than PyTorch caches its exported file in `cache_dir` (the cell's folder). Without
    `time_latency` the latencies are left to the caller (the suite's interleaved rounds).
    """
    shape = parse_input_shape(input_shape)
    problems = options.problems()
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    record = unmeasured_record(name, kwargs, shape, options)
    # ONNX Runtime and OpenVINO run on the CPU whatever `auto` finds.
    on_cpu = options.runtime in ("onnxruntime", "openvino")
    device = resolve_device("cpu" if on_cpu else options.device)
    dtype = DTYPES[options.dtype]
    if dtype is torch.float16 and device.type == "cpu":
        raise ValueError("dtype float16 is not supported on cpu; use float32 or bfloat16")
    if options.cuda_graphs and device.type != "cuda":
        raise ValueError(f"cuda_graphs needs a CUDA device; device {options.device!r} is cpu")
    benchmark = cudnn_benchmark(options, device)
    record["cudnn_benchmark"] = benchmark
    with process_settings(options.threads, benchmark):
        record.update(device=device.type, threads=torch.get_num_threads(), env=environment(device))
        on_phase("build")
        # A trained network may sit on its training device; counting runs on the CPU.
        model = model.cpu() if model is not None else build_for(name, kwargs, options)
        breakdown = None
        if "breakdown" in options.measure:
            breakdown = BreakdownRun(model, options.breakdown_depth, shape, dtype)
        _count(model, shape, options, record, on_phase, breakdown)
        runtime = [
            m for m in options.measure if m in RUNNING_MEASURES and (time_latency or m == "memory")
        ]
        if runtime and options.runtime != "pytorch":
            from mtbench.deploy.cell import export_folder, measure_deployed

            with export_folder(cache_dir) as folder:
                measure_deployed(model, shape, options, record, folder, on_phase)
        elif runtime:
            timed = [m for m in runtime if m != "memory"]
            _measure_runtime(model, shape, device, options, timed, record, on_phase)
        if breakdown is not None:
            on_phase("breakdown profile")
            prepared = _prepared(model, shape, device, dtype, options)
            _measure_breakdown(breakdown, *prepared, options, record, on_phase)
    record.update(status="ok", finished_at=now_iso())
    return record


def cudnn_benchmark(options: ProfileOptions, device: torch.device) -> bool:
    """cuDNN autotuning as the cell runs: on for CUDA unless the option says otherwise."""
    return device.type == "cuda" if options.cudnn_benchmark is None else options.cudnn_benchmark


def build_for(name: str, kwargs: dict[str, Any], options: ProfileOptions) -> torch.nn.Module:
    """The model built for what `options` measure: on real memory (seeded) when anything
    computes with it, on the meta device when only parameters are counted. Counts do not
    depend on weight values, but a forward reads buffers (position tables, index maps) that
    only a real build fills."""
    torch.manual_seed(SEED)
    params_only = set(options.measure) <= {"params"}  # a breakdown times the model too
    with torch.device("meta" if params_only else "cpu"):
        return create_model(name, **kwargs)


def _count(
    model: torch.nn.Module,
    shape: list[int],
    options: ProfileOptions,
    record: Record,
    on_phase: Callable[[str], None],
    breakdown: BreakdownRun | None,
) -> None:
    if "params" in options.measure:
        record["params_total"], record["params_trainable"] = count_params(model)
    if "flops" in options.measure:
        on_phase("flops")
        # Counted in fp32 on the CPU at batch 1: a per-clip count depends on neither.
        flops = count_flops(model, [1, *shape[1:]], count_norm=options.count_norm)
        record.update(
            gflops=flops.gflops,
            gflops_ptflops=flops.gflops_ptflops,
            flops_rel_diff=flops.rel_diff,
            flops_skipped_ops=flops.skipped_ops,
        )
    if breakdown is not None:
        on_phase("breakdown counts")
        breakdown.count(model, options.count_norm)


@contextmanager
def process_settings(threads: int | None, cudnn_benchmark: bool) -> Iterator[None]:
    """Thread count and cuDNN autotuning for one measurement, restored afterwards: a cell's
    settings must not leak into the next cell of a suite."""
    threads_before = torch.get_num_threads()
    benchmark_before = torch.backends.cudnn.benchmark
    if threads is not None:
        torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = cudnn_benchmark
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = benchmark_before


def _prepared(
    model: torch.nn.Module,
    shape: list[int],
    device: torch.device,
    dtype: torch.dtype,
    options: ProfileOptions,
) -> tuple[torch.nn.Module, torch.Tensor, torch.dtype | None]:
    """The model and a clip as the cell runs them, and the dtype to autocast to (or None)."""
    memory_format = torch.channels_last_3d if options.channels_last else torch.preserve_format
    # Autocast keeps weights and input in float32 and runs eligible ops in `dtype`; without
    # it the whole model is cast.
    stored = torch.float32 if options.amp else dtype
    model = model.to(device=device, dtype=stored, memory_format=memory_format)
    x = torch.randn(shape, device=device, dtype=stored).to(memory_format=memory_format)
    return model, x, dtype if options.amp else None


def _measure_breakdown(
    breakdown: BreakdownRun,
    model: torch.nn.Module,
    x: torch.Tensor,
    autocast: torch.dtype | None,
    options: ProfileOptions,
    record: Record,
    on_phase: Callable[[str], None],
) -> None:
    """The breakdown's profiled steps on the eager model, and the machine's ceilings in
    `env`; a failure of either is recorded, the cell's other figures stand."""
    breakdown.time(model, x, autocast, options.measure, record, options.warmup, options.repeats)
    if breakdown.error is None:
        on_phase("ceilings")
        try:
            dtype = DTYPES[options.dtype]
            record["env"]["ceilings"] = machine_ceilings(record["env"], x.device, dtype)
        except Exception as exc:  # the breakdown stands without its ceilings
            record["env"]["ceilings"] = {"error": one_line(exc)}
    record["breakdown"] = breakdown.as_record(record)


def runtime_steps(
    model: torch.nn.Module,
    shape: list[int],
    device: torch.device,
    options: ProfileOptions,
    keys: list[str],
    on_phase: Callable[[str], None] = lambda phase: None,
) -> Iterator[tuple[str, Callable[[], object], Callable[[], object]]]:
    """(measure, set_mode, step) for each of `keys` (`latency_fwd`, `latency_fwdbwd`): the
    step as the cell runs it (prepared, compiled, replayed as a CUDA graph), its model already
    in the step's mode; `set_mode` puts it back there when steps of one model alternate."""
    model, x, autocast = _prepared(model, shape, device, DTYPES[options.dtype], options)
    mode = None if options.compile_mode == "default" else options.compile_mode
    runner = torch.compile(model, mode=mode) if options.compile else model
    steps = {
        "latency_fwd": (model.eval, forward_step),
        "latency_fwdbwd": (model.train, forward_backward_step),
    }
    for key in keys:
        set_mode, make_step = steps[key]
        set_mode()
        on_phase(key)
        step = make_step(runner, x, autocast)
        if options.cuda_graphs:
            try:
                step = cuda_graph_replay(step)
            except Exception as exc:  # the cell fails with the reason, in one line
                raise RuntimeError(f"CUDA graph capture of {key}: {one_line(exc)}") from exc
        yield key, set_mode, step


def _measure_runtime(
    model: torch.nn.Module,
    shape: list[int],
    device: torch.device,
    options: ProfileOptions,
    timed: list[str],
    record: Record,
    on_phase: Callable[[str], None],
) -> None:
    timer = timer_for(device)
    with PeakMemory(device) as memory:
        for key, _, step in runtime_steps(
            model, shape, device, options, timed or ["latency_fwdbwd"], on_phase
        ):
            stats = time_runs(
                step,
                warmup=options.warmup if timed else 0,
                repeats=options.repeats if timed else 1,
                timer=timer,
                clips_per_run=shape[0],
            )
            if timed:
                record[f"{key}_ms"] = stats.as_dict()
    flag_fwdbwd(record)
    if "memory" in options.measure:
        record["peak_mem_mb"] = memory.peak_mb
