"""The one measurement entry point: a model configuration in, one result record out.

Every number in a record comes from here, whether `mtbench profile` or a suite cell asked
for it, so the CLI, the suites, plots and tables all agree on what a figure means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from mtbench.deploy import runtime_problems
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
from mtbench.registry import create_model, model_entry

MEASURES = ("params", "flops", "latency_fwd", "latency_fwdbwd", "memory")
RUNTIME_MEASURES = ("latency_fwd", "latency_fwdbwd", "memory")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# Execution options added after suites had stores: left out of a cell's key while they hold
# their default, so that those stores still resume.
EXECUTION_OPTIONS = ("cudnn_benchmark", "compile_mode", "cuda_graphs", "amp", "runtime", "exporter")
FLOPS_WARN_REL_DIFF = 0.05
SEED = 0


@dataclass(frozen=True)
class ProfileOptions:
    """How to measure; the defaults are `mtbench profile`'s and a suite's `[defaults]`."""

    device: str = "auto"
    dtype: str = "float32"
    warmup: int = 3
    repeats: int = 10
    measure: tuple[str, ...] = MEASURES
    threads: int | None = None
    channels_last: bool = False
    compile: bool = False
    count_norm: bool = True
    cudnn_benchmark: bool | None = None  # None: on for CUDA, as timm's benchmark does
    compile_mode: str = "default"
    cuda_graphs: bool = False
    amp: bool = False
    runtime: str = "pytorch"  # or a runtime that runs the exported graph (mtbench.deploy)
    exporter: str = "auto"

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for every invalid option; empty when all are valid."""
        out = []
        if self.device not in DEVICES:
            out.append(("device", f"{self.device!r} is not one of {', '.join(DEVICES)}"))
        if self.dtype not in DTYPES:
            out.append(("dtype", f"{self.dtype!r} is not one of {', '.join(DTYPES)}"))
        if self.warmup < 0:
            out.append(("warmup", f"must be >= 0, got {self.warmup}"))
        if self.repeats < 1:
            out.append(("repeats", f"must be >= 1, got {self.repeats}"))
        unknown = [m for m in self.measure if m not in MEASURES]
        if unknown or not self.measure:
            out.append(("measure", f"{unknown or '[]'}: choose any of {', '.join(MEASURES)}"))
        if self.threads is not None and self.threads < 1:
            out.append(("threads", f"must be >= 1, got {self.threads}"))
        if self.compile_mode not in COMPILE_MODES:
            out.append(
                ("compile_mode", f"{self.compile_mode!r} is not one of {', '.join(COMPILE_MODES)}")
            )
        elif self.compile_mode != "default" and not self.compile:
            out.append(("compile_mode", f"{self.compile_mode!r} needs compile = true"))
        if self.amp and self.dtype == "float32":
            out.append(("amp", "needs dtype bfloat16 or float16 (autocast's low precision)"))
        if self.cuda_graphs and self.device == "cpu":
            out.append(("cuda_graphs", "needs device cuda: CUDA graphs replay GPU kernels"))
        if self.cuda_graphs and self.compile and self.compile_mode == "reduce-overhead":
            out.append(("cuda_graphs", "compile_mode 'reduce-overhead' already replays graphs"))
        return out + self.runtime_problems()

    def runtime_problems(self) -> list[tuple[str, str]]:
        """The options the runtime cannot run with: a suite refuses these before any cell."""
        pytorch_only = {
            "compile": self.compile,
            "cuda_graphs": self.cuda_graphs,
            "amp": self.amp,
            "channels_last": self.channels_last,
        }
        return runtime_problems(
            self.runtime, self.exporter, self.dtype, self.device, self.measure, pytorch_only,
            torch.cuda.is_available(),
        )  # fmt: skip

    def key_options(self) -> dict[str, Any]:
        """The options as a cell key hashes them: an execution option only when it is set."""
        defaults = {f.name: f.default for f in fields(self) if f.name in EXECUTION_OPTIONS}
        return {k: v for k, v in self.__dict__.items() if k not in defaults or v != defaults[k]}

    def precision(self) -> str:
        """What ran in low precision: `autocast` (float32 weights), `cast` (the whole model
        in `dtype`) or `float32`."""
        return "autocast" if self.amp else ("cast" if self.dtype != "float32" else "float32")


def execution_summary(record: dict[str, Any]) -> str:
    """How a record's model ran, in words: 'compiled (max-autotune), CUDA graph replay,
    autocast bfloat16, cudnn benchmark'."""
    parts = [
        f"compiled ({record['compile_mode']})" if record["compile"] else "eager",
        *(["CUDA graph replay"] if record["cuda_graphs"] else []),
        {
            "autocast": f"autocast {record['dtype']} (float32 weights)",
            "cast": f"model cast to {record['dtype']}",
            "float32": "float32",
        }[record["precision"]],
        *(["cudnn benchmark"] if record["cudnn_benchmark"] else []),
    ]
    return ", ".join(parts)


def validate_input_shape(shape: Sequence[int]) -> list[int]:
    """A (B, 3, T, H, W) clip shape with positive sizes, or ValueError saying what is wrong."""
    shape = list(shape)
    if len(shape) != 5 or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise ValueError(f"expected 5 integers B,3,T,H,W, got {shape}")
    if any(s < 1 for s in shape) or shape[1] != 3:
        raise ValueError(f"expected positive sizes with 3 channels (B,3,T,H,W), got {shape}")
    return shape


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available here")
    return torch.device(name)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def base_record(
    name: str, kwargs: dict[str, Any], input_shape: Sequence[int], options: ProfileOptions
) -> dict[str, Any]:
    """The record's every key, figures unset: what a failed cell stores."""
    try:
        entry = model_entry(name)
        family, provenance = entry.family, entry.provenance()
    except ValueError:
        family = provenance = None
    return {
        "model": name,
        "family": family,
        "provenance": provenance,
        "model_kwargs": dict(kwargs),
        "input_shape": list(input_shape),
        "batch_size": input_shape[0] if input_shape else None,
        "dtype": options.dtype,
        "device": options.device,
        "channels_last": options.channels_last,
        "compile": options.compile,
        "compile_mode": options.compile_mode,
        "cuda_graphs": options.cuda_graphs,
        "amp": options.amp,
        "runtime": options.runtime,
        "precision": options.precision(),
        "cudnn_benchmark": options.cudnn_benchmark,
        "count_norm": options.count_norm,
        "threads": options.threads or torch.get_num_threads(),
        "warmup": options.warmup,
        "params_total": None,
        "params_trainable": None,
        "gflops": None,
        "gflops_ptflops": None,
        "flops_rel_diff": None,
        "flops_skipped_ops": None,
        "latency_fwd_ms": None,
        "latency_fwdbwd_ms": None,
        "peak_mem_mb": None,
        "deploy": None,
        "env": None,
        "status": "failed",
        "error": None,
        "started_at": now_iso(),
        "finished_at": None,
    }


def profile(
    name: str,
    kwargs: dict[str, Any],
    input_shape: Sequence[int],
    options: ProfileOptions,
    on_phase: Callable[[str], None] = lambda phase: None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Measure one configuration; raises on failure (callers record it as they see fit).
    A runtime other than PyTorch caches its exported file in `cache_dir` (the cell's folder)."""
    shape = validate_input_shape(input_shape)
    problems = options.problems()
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    record = base_record(name, kwargs, shape, options)
    # ONNX Runtime and OpenVINO run on the CPU whatever `auto` finds.
    on_cpu = options.runtime in ("onnxruntime", "openvino")
    device = resolve_device("cpu" if on_cpu else options.device)
    dtype = DTYPES[options.dtype]
    if dtype is torch.float16 and device.type == "cpu":
        raise ValueError("dtype float16 is not supported on cpu; use float32 or bfloat16")
    if options.cuda_graphs and device.type != "cuda":
        raise ValueError(f"cuda_graphs needs a CUDA device; device {options.device!r} is cpu")
    benchmark = (
        device.type == "cuda" if options.cudnn_benchmark is None else options.cudnn_benchmark
    )
    record["cudnn_benchmark"] = benchmark
    with _process_settings(options.threads, benchmark):
        return _profile(name, kwargs, shape, device, dtype, options, record, on_phase, cache_dir)


@contextmanager
def _process_settings(threads: int | None, cudnn_benchmark: bool) -> Iterator[None]:
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


def _profile(
    name: str,
    kwargs: dict[str, Any],
    shape: list[int],
    device: torch.device,
    dtype: torch.dtype,
    options: ProfileOptions,
    record: dict[str, Any],
    on_phase: Callable[[str], None],
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    record.update(device=device.type, threads=torch.get_num_threads(), env=environment(device))

    on_phase("build")
    torch.manual_seed(SEED)
    runtime = [m for m in options.measure if m in RUNTIME_MEASURES]
    # Counts do not depend on weight values: without a timed run, skip initialising them.
    with torch.device("cpu" if runtime else "meta"):
        model = create_model(name, **kwargs)
    if "params" in options.measure:
        record["params_total"], record["params_trainable"] = count_params(model)
    if not runtime and "flops" in options.measure:
        model = model.to_empty(device="cpu")
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

    if runtime and options.runtime != "pytorch":
        from mtbench.deploy.cell import export_folder, measure_deployed

        with export_folder(cache_dir) as folder:
            measure_deployed(model, shape, options, record, folder, on_phase)
    elif runtime:
        timed = [m for m in runtime if m != "memory"]
        _measure_runtime(model, shape, device, dtype, options, timed, record, on_phase)
    record.update(status="ok", finished_at=now_iso())
    return record


def _measure_runtime(
    model: torch.nn.Module,
    shape: list[int],
    device: torch.device,
    dtype: torch.dtype,
    options: ProfileOptions,
    timed: list[str],
    record: dict[str, Any],
    on_phase: Callable[[str], None],
) -> None:
    memory_format = torch.channels_last_3d if options.channels_last else torch.preserve_format
    # Autocast keeps weights and input in float32 and runs eligible ops in `dtype`; without
    # it the whole model is cast.
    stored = torch.float32 if options.amp else dtype
    model = model.to(device=device, dtype=stored, memory_format=memory_format)
    x = torch.randn(shape, device=device, dtype=stored).to(memory_format=memory_format)
    mode = None if options.compile_mode == "default" else options.compile_mode
    runner = torch.compile(model, mode=mode) if options.compile else model
    autocast = dtype if options.amp else None
    timer = timer_for(device)
    steps = {
        "latency_fwd": (model.eval, forward_step),
        "latency_fwdbwd": (model.train, forward_backward_step),
    }
    with PeakMemory(device) as memory:
        for key in timed or ["latency_fwdbwd"]:
            set_mode, make_step = steps[key]
            set_mode()
            on_phase(key)
            step = make_step(runner, x, autocast)
            if options.cuda_graphs:
                try:
                    step = cuda_graph_replay(step)
                except Exception as exc:  # the cell fails with the reason, in one line
                    raise RuntimeError(f"CUDA graph capture of {key}: {one_line(exc)}") from exc
            stats = time_runs(
                step,
                warmup=options.warmup if timed else 0,
                repeats=options.repeats if timed else 1,
                timer=timer,
                clips_per_run=shape[0],
            )
            if timed:
                record[f"{key}_ms"] = stats.as_dict()
    if "memory" in options.measure:
        record["peak_mem_mb"] = memory.peak_mb
