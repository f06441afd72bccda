"""The one measurement entry point: a model configuration in, one result record out.

Every number in a record comes from here, whether `mtbench profile` or a suite cell asked
for it, so the CLI, the suites, plots and tables all agree on what a figure means.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mtbench.deploy.quantize import Calibration
from mtbench.errors import one_line
from mtbench.executor import FORWARD, TRAINING_STEP, Executor, process_settings
from mtbench.measure.breakdown import BreakdownRun
from mtbench.measure.ceilings import machine_ceilings
from mtbench.measure.contention import ContentionMeter, flag_fwdbwd, verdict
from mtbench.measure.environment import environment
from mtbench.measure.execution import (
    DTYPES,
    STEPS,
    cell_device,
    cudnn_benchmark,
    executor_for,
    peak_memory,
    pytorch_executor,
    resolve_device,
    time_alone,
)
from mtbench.measure.flops import count_flops
from mtbench.measure.int8_flops import with_flop_shares
from mtbench.measure.memory import frozen_heap
from mtbench.measure.params import count_params
from mtbench.measure.scenarios import SCENARIO_FOLDER, run_scenario
from mtbench.measure.stream import speed_drift
from mtbench.options import (
    MEASURE_CHOICES,
    MEASURES,
    ProfileOptions,
    parse_input_shape,
)
from mtbench.record import Record, Scenario, new_record
from mtbench.registry import create_model, model_entry

__all__ = [
    "DTYPES",
    "MEASURES",
    "MEASURE_CHOICES",
    "ProfileOptions",
    "profile",
    "resolve_device",
    "unmeasured_record",
]

FLOPS_WARN_REL_DIFF = 0.05
SEED = 0


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


@dataclass
class Measuring:
    """One configuration being measured: its record so far, the network it was built as
    (once), its clip shape and its options; the breakdown when the options ask for one."""

    record: Record
    model: torch.nn.Module
    shape: list[int]
    options: ProfileOptions
    breakdown: BreakdownRun | None
    # An INT8 cell's calibration clips (random ones when None), and the accuracy gate a suite
    # runs on a reduced-precision cell's executor before it is timed (mtbench.suite.quantized).
    calibration: Calibration | None = None
    gate: Callable[[Executor, Record], None] | None = None


@frozen_heap()  # its memory reading collects what this run made, not the whole process
def profile(
    name: str,
    kwargs: dict[str, Any],
    input_shape: Sequence[int],
    options: ProfileOptions,
    on_phase: Callable[[str], None] = lambda phase: None,
    model: torch.nn.Module | None = None,
    cache_dir: Path | None = None,
    calibration: Calibration | None = None,
    gate: Callable[[Executor, Record], None] | None = None,
) -> Record:
    """Measure one configuration; raises on failure (callers record it as they see fit).

    `model`, when given, is the cell's one build (a training cell's trained network); else
    the model is built here, once, for every measurement the options ask for. A runtime other
    than PyTorch caches its exported file in `cache_dir` (the cell's folder); an INT8 cell
    its quantized file too, calibrated on `calibration`. `gate` checks a reduced-precision
    cell's executor (its accuracy against float32) before it is timed.
    """
    measuring = counted(name, kwargs, input_shape, options, on_phase, model)
    measuring.calibration, measuring.gate = calibration, gate
    keys = timed_keys(options)
    driven = options.scenario != "repeat"
    if keys or "memory" in options.measure or driven:
        executor = network_executor(measuring, cache_dir, on_phase)
        record_timings(
            measuring.record, time_alone(executor, keys, options.warmup, options.repeats, on_phase)
        )
        if "memory" in options.measure:
            record_memory(measuring.record, executor, on_phase)
        if driven:
            on_phase(f"scenario {options.scenario}")
            measuring.record["scenario_run"] = scenario_of(measuring, executor, cache_dir)
    if measuring.breakdown is not None:
        _measure_breakdown(measuring, on_phase)
    return finished(measuring.record)


def counted(
    name: str,
    kwargs: dict[str, Any],
    input_shape: Sequence[int],
    options: ProfileOptions,
    on_phase: Callable[[str], None] = lambda phase: None,
    model: torch.nn.Module | None = None,
) -> Measuring:
    """The configuration validated, built once (or `model`, moved to the CPU) and counted:
    every figure but those that run the network."""
    shape = parse_input_shape(input_shape)
    problems = options.problems()
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    record = unmeasured_record(name, kwargs, shape, options)
    device = cell_device(options)
    if DTYPES[options.dtype] is torch.float16 and device.type == "cpu":
        raise ValueError("dtype float16 is not supported on cpu; use float32 or bfloat16")
    if options.cuda_graphs and device.type != "cuda":
        raise ValueError(f"cuda_graphs needs a CUDA device; device {options.device!r} is cpu")
    record["cudnn_benchmark"] = cudnn_benchmark(options, device)
    with process_settings(options.threads, record["cudnn_benchmark"]):
        record.update(device=device.type, threads=torch.get_num_threads(), env=environment(device))
        on_phase("build")
        # A trained network may sit on its training device; counting runs on the CPU.
        model = model.cpu() if model is not None else build_for(name, kwargs, options)
        breakdown = None
        if "breakdown" in options.measure:
            breakdown = BreakdownRun(model, options.breakdown_depth, shape, DTYPES[options.dtype])
        _count(model, shape, options, record, on_phase, breakdown)
    return Measuring(record, model, shape, options, breakdown)


def timed_keys(options: ProfileOptions) -> list[str]:
    """The steps the options time, in the record's order."""
    return [key for key in STEPS if key in options.measure]


def network_executor(
    measuring: Measuring, cache_dir: Path | None, on_phase: Callable[[str], None]
) -> Executor:
    """The cell's executor, with the steps its timings and its memory pass run; a runtime's
    export and proof of equality go into the record's `deploy`."""
    options = measuring.options
    memory = [TRAINING_STEP] if "memory" in options.measure else []
    driven = [FORWARD] if options.scenario != "repeat" else []
    keys = [key for key in STEPS if key in [*timed_keys(options), *memory, *driven]]
    executor = executor_for(
        measuring.model, measuring.shape, options, keys, cache_dir, on_phase, measuring.calibration
    )
    measuring.record["deploy"] = executor.deploy
    if executor.quantization is not None:
        on_phase("int8 flop share")
        part = executor.quantization
        part["audit"] = with_flop_shares(
            part["audit"], measuring.model, measuring.shape, options.count_norm
        )
        measuring.record["quantization"] = part
    if measuring.gate is not None:
        on_phase("accuracy gate")
        measuring.gate(executor, measuring.record)
    return executor


def scenario_of(measuring: Measuring, executor: Executor, cache_dir: Path | None) -> Scenario:
    """The cell's scenario (mtbench.measure.scenarios) on its executor, or on executors at
    another batch built by the same factory; logs in the cell's folder (a temporary one for
    `mtbench profile`, which has none)."""
    shape, options = measuring.shape, measuring.options

    def at_batch(folder: Path) -> Callable[[int], Executor]:
        def make(batch: int) -> Executor:
            where = folder / SCENARIO_FOLDER / f"batch-{batch}"
            return executor_for(measuring.model, [batch, *shape[1:]], options, [FORWARD], where)

        return make

    meter = ContentionMeter(executor.threads or 1)
    meter.start()
    if cache_dir is not None:
        part = run_scenario(options, executor, at_batch(cache_dir), shape, cache_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="mtbench-scenario-") as tmp:
            part = run_scenario(options, executor, at_batch(Path(tmp)), shape, Path(tmp))
        if part["loadgen"] is not None:
            part["loadgen"]["logs"] = []  # they went with the temporary folder
    meter.stop()
    part["contention"] = meter.as_dict()
    part["verdict"], part["reasons"] = verdict(part["contention"], [])
    if part["stream"] is not None:
        repeats = measuring.record.get("latency_fwd_ms") or {}
        if drift := speed_drift(part["stream"], repeats.get("median")):
            part["verdict"], part["reasons"] = "disturbed", [*part["reasons"], *drift]
    return part


def record_timings(record: Record, timings: dict[str, Any]) -> None:
    """The timings' statistics into the record, then the check that a forward+backward is
    not faster than its forward (both disturbed if so), whether timed alone or in rounds."""
    for key, stats in timings.items():
        record[f"{key}_ms"] = stats.as_dict()
    flag_fwdbwd(record)


def record_memory(record: Record, executor: Executor, on_phase: Callable[[str], None]) -> None:
    on_phase("memory")
    record["peak_mem_mb"], record["peak_mem_pass"] = peak_memory(executor)


def finished(record: Record) -> Record:
    record.update(status="ok", finished_at=now_iso())
    return record


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
    if breakdown is not None:
        on_phase("breakdown counts")
        breakdown.count(model, options.count_norm)
    if "flops" in options.measure:
        # One trace per counter: a breakdown's counts carry the totals of the same traces.
        flops = breakdown.flops if breakdown is not None else None
        if flops is None:
            on_phase("flops")
            # Counted in fp32 on the CPU at batch 1: a per-clip count depends on neither.
            flops = count_flops(model, [1, *shape[1:]], count_norm=options.count_norm)
        record.update(
            gflops=flops.gflops,
            gflops_ptflops=flops.gflops_ptflops,
            flops_rel_diff=flops.rel_diff,
            flops_skipped_ops=flops.skipped_ops,
        )


def _measure_breakdown(measuring: Measuring, on_phase: Callable[[str], None]) -> None:
    """The breakdown's profiled steps on the eager model, and the machine's ceilings in
    `env`; a failure of either is recorded, the cell's other figures stand."""
    breakdown, options, record = measuring.breakdown, measuring.options, measuring.record
    assert breakdown is not None
    on_phase("breakdown profile")
    keys = ["latency_fwd", *(["latency_fwdbwd"] if "latency_fwdbwd" in options.measure else [])]
    eager = pytorch_executor(measuring.model, measuring.shape, options, keys, eager=True)
    with eager.settings():
        breakdown.time(measuring.model, eager, record, options.warmup, options.repeats)
    if breakdown.error is None:
        on_phase("ceilings")
        try:
            dtype = DTYPES[options.dtype]
            record["env"]["ceilings"] = machine_ceilings(record["env"], eager.device, dtype)
        except Exception as exc:  # the breakdown stands without its ceilings
            record["env"]["ceilings"] = {"error": one_line(exc)}
    record["breakdown"] = breakdown.as_record(record)
