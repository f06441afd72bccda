"""The one way a cell's network is run and timed.

`executor_for` is the one factory: a PyTorch module prepared as the cell runs it (device,
dtype, memory format, compiled, replayed from a CUDA graph, under autocast), or a runtime's
session over the cell's export. `time_alone` times its steps back to back and `Rounds` in
interleaved rounds, both with the one timer (`latency.time_one`) and the one statistics
(`latency.summarize`, `latency.judged`); `peak_memory` measures it in a pass of its own,
untimed, so that no sampling thread runs while a step is timed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mtbench.deploy.quantize import Calibration, quantized_executor
from mtbench.deploy.runtime import runtime_executor
from mtbench.errors import one_line
from mtbench.executor import FORWARD, MEMORY_PASSES, TRAINING_STEP, Executor, Step, batched
from mtbench.measure.contention import ContentionMeter
from mtbench.measure.latency import (
    LatencyStats,
    back_to_back,
    cuda_graph_replay,
    forward_backward_step,
    forward_step,
    judged,
    summarize,
    time_one,
    time_runs,
    timer_for,
    warm_for,
)
from mtbench.measure.memory import PeakMemory
from mtbench.options import ProfileOptions

# int8: a quantized network (mtbench.deploy.quantize), never a cast; its breakdown is refused.
DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "int8": torch.int8,
}
STEPS = (FORWARD, TRAINING_STEP)
# In a round, the untimed runs before each timed one last this long together (one at least).
ROUND_WARMUP_MS = 100.0
# In a round, a timed repeat runs its step back to back as often as its warm-up runs fit in
# this (one at least), as pyperf and torch.utils.benchmark time a fast call in blocks: a single
# run of a few milliseconds is within a scheduler tick's noise and /proc/stat's 10 ms.
ROUND_BLOCK_MS = 100.0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available here")
    return torch.device(name)


def cell_device(options: ProfileOptions) -> torch.device:
    """The device the cell runs on: ONNX Runtime, OpenVINO and PyTorch's INT8 network run on
    the CPU whatever `auto` finds; the option's device otherwise."""
    quantized = options.dtype == "int8" and options.runtime == "pytorch"
    on_cpu = options.runtime in ("onnxruntime", "openvino") or quantized
    return resolve_device("cpu" if on_cpu else options.device)


def cudnn_benchmark(options: ProfileOptions, device: torch.device) -> bool:
    """cuDNN autotuning as the cell runs: on for CUDA unless the option says otherwise."""
    return device.type == "cuda" if options.cudnn_benchmark is None else options.cudnn_benchmark


def executor_for(
    model: nn.Module,
    shape: list[int],
    options: ProfileOptions,
    keys: Sequence[str] = STEPS,
    folder: Path | None = None,
    on_phase: Callable[[str], None] = lambda phase: None,
    calibration: Calibration | None = None,
) -> Executor:
    """The cell's network as it runs, with the steps `keys` asks for (those it has: a
    runtime has no training step). A runtime caches its export in `folder` (the cell's); an
    INT8 cell is quantized on `calibration` (random clips when None), cached there too."""
    if options.dtype == "int8":
        return quantized_executor(model, shape, options, folder, calibration, on_phase)
    if options.runtime != "pytorch":
        return runtime_executor(model, shape, options, folder, on_phase)
    return pytorch_executor(model, shape, options, keys)


def prepared(
    model: nn.Module, shape: list[int], options: ProfileOptions, device: torch.device
) -> tuple[nn.Module, torch.Tensor, torch.dtype | None]:
    """The model and a clip as the cell runs them, and the dtype to autocast to (or None)."""
    dtype = DTYPES[options.dtype]
    memory_format = torch.channels_last_3d if options.channels_last else torch.preserve_format
    # Autocast keeps weights and input in float32 and runs eligible ops in `dtype`; without
    # it the whole model is cast.
    stored = torch.float32 if options.amp else dtype
    model = model.to(device=device, dtype=stored, memory_format=memory_format)
    x = torch.randn(shape, device=device, dtype=stored).to(memory_format=memory_format)
    return model, x, dtype if options.amp else None


def pytorch_executor(
    model: nn.Module,
    shape: list[int],
    options: ProfileOptions,
    keys: Sequence[str] = STEPS,
    eager: bool = False,
) -> Executor:
    """PyTorch's steps as the cell runs them (compiled, replayed as a CUDA graph), or with
    `eager` the plain module whatever the options say (what a breakdown profiles)."""
    device = cell_device(options)
    model, x, autocast = prepared(model, shape, options, device)
    compiled = options.compile and not eager
    mode = None if options.compile_mode == "default" else options.compile_mode
    runner = torch.compile(model, mode=mode) if compiled else model
    makers = {
        FORWARD: (model.eval, forward_step),
        TRAINING_STEP: (model.train, forward_backward_step),
    }
    steps = {}
    for key in (k for k in STEPS if k in keys):
        enter, make = makers[key]
        enter()
        run = make(runner, x, autocast)
        if options.cuda_graphs and not eager:
            try:
                run = cuda_graph_replay(run)
            except Exception as exc:  # the cell fails with the reason, in one line
                raise RuntimeError(f"CUDA graph capture of {key}: {one_line(exc)}") from exc
        steps[key] = Step(enter, run)
    memory_format = torch.channels_last_3d if options.channels_last else torch.preserve_format

    def logits(clips: torch.Tensor) -> torch.Tensor:
        """The network as the forward step runs it, on other clips of the cell's shape."""
        model.eval()
        batch = clips.to(device=x.device, dtype=x.dtype, memory_format=memory_format)
        return forward_step(runner, batch, autocast)().float().cpu()

    return Executor(
        runtime="pytorch",
        device=device,
        clips_per_run=shape[0],
        steps=steps,
        threads=options.threads,
        cudnn_benchmark=cudnn_benchmark(options, device),
        forward=batched(logits, shape[0]),
    )


def time_alone(
    executor: Executor,
    keys: Sequence[str],
    warmup: int,
    repeats: int,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> dict[str, LatencyStats]:
    """Each of `keys` timed back to back: `warmup` untimed runs, then `repeats` timed ones."""
    out = {}
    with executor.settings():
        for key in keys:
            on_phase(key)
            executor.steps[key].enter()
            out[key] = time_runs(
                executor.steps[key].run,
                warmup=warmup,
                repeats=repeats,
                timer=timer_for(executor.device),
                clips_per_run=executor.clips_per_run,
            )
    return out


def peak_memory(executor: Executor) -> tuple[float, str]:
    """Peak memory growth over one run of the executor's memory step, after one untimed
    run of it (so lazily built caches are not counted), and the pass it ran (`fwdbwd` or
    `fwd`). Never inside a timed region: on the CPU a sampling thread runs during it."""
    key = executor.memory_step()
    with executor.settings():
        executor.steps[key].enter()
        executor.steps[key].run()
        with PeakMemory(executor.device) as memory:
            executor.steps[key].run()
    assert memory.peak_mb is not None
    return memory.peak_mb, MEMORY_PASSES[key]


@dataclass
class Timed:
    """One executor in interleaved rounds: the steps it times, its repeats, what it measured
    so far, and the reason it stopped (one line) if it failed."""

    executor: Executor
    keys: list[str]
    repeats: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    meters: dict[str, ContentionMeter] = field(default_factory=dict)
    # Each step's runs per timed repeat, and the block that runs them: fixed in the first round.
    runs: dict[str, int] = field(default_factory=dict)
    blocks: dict[str, Callable[[], object]] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        threads = self.executor.threads or torch.get_num_threads()
        for key in self.keys:
            self.samples[key] = []
            self.meters[key] = ContentionMeter(threads)

    def complete(self) -> bool:
        return all(len(s) >= self.repeats for s in self.samples.values())

    def stats(self) -> dict[str, LatencyStats]:
        """The repeats of each step summarised, with their verdicts."""
        per_clip = self.executor.clips_per_run
        return {
            k: judged(summarize(s, per_clip, self.runs.get(k, 1)), self.meters[k])
            for k, s in self.samples.items()
        }

    def block(self, key: str, run_ms: float) -> Callable[[], object]:
        """The step `key` as one timed repeat runs it: as often back to back as runs of
        `run_ms` fit in `ROUND_BLOCK_MS` (one at least), fixed the first time it is asked."""
        if key not in self.blocks:
            self.runs[key] = max(1, int(ROUND_BLOCK_MS // run_ms)) if run_ms > 0 else 1
            self.blocks[key] = back_to_back(self.executor.steps[key].run, self.runs[key])
        return self.blocks[key]


def warm(timed: Timed, warmup: int) -> None:
    """`warmup` untimed runs of each step, under the executor's settings; a failure is the
    executor's."""
    try:
        with timed.executor.settings():
            for key in timed.keys:
                timed.executor.steps[key].enter()
                for _ in range(warmup):
                    timed.executor.steps[key].run()
    except Exception as exc:  # one executor's failure is its own
        timed.error = one_line(exc)


def time_in_rounds(
    timed: list[Timed],
    on_round: Callable[[int, int], None] = lambda k, n: None,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Round k times repeat k of every step of every executor that still has repeats, in an
    order shuffled (seeded) each round, so that drift and a passing load fall on all alike
    (asv's `--interleave-rounds`). Each timed run follows untimed runs of the same step that
    last `ROUND_WARMUP_MS` together, as in a cell timed alone (asv warms each round up too):
    otherwise it would start cold, after another network's forward; a fast step's repeat is a
    block of runs lasting about `ROUND_BLOCK_MS` (`Timed.block`). `stop` is asked before
    each timed run: an executor whose repeats are not all timed when it says so is left
    incomplete (`complete()` is False)."""
    rounds = max((t.repeats for t in timed), default=0)
    for k in range(rounds):
        on_round(k + 1, rounds)
        order = [(t, key) for t in timed for key in t.keys if k < t.repeats]
        random.Random(k).shuffle(order)  # seeded: the same executors run the same order
        for t, key in order:
            if stop():
                return
            if t.error is not None:
                continue
            try:
                with t.executor.settings():
                    t.executor.steps[key].enter()
                    timer = timer_for(t.executor.device)
                    run_ms = warm_for(t.executor.steps[key].run, timer, ROUND_WARMUP_MS)
                    t.samples[key].append(time_one(t.block(key, run_ms), timer, t.meters[key]))
            except Exception as exc:  # one executor's failure is its own
                t.error = one_line(exc)
