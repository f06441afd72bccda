"""Per-clip latency: warm-up runs, then repeated timed runs summarised as median and spread.

On CPU the wall clock is read around each run; on CUDA a pair of device events brackets
each run and the elapsed time is read after a synchronize, so queued kernels are counted
and host overhead outside the region is not.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from mtbench.measure.contention import ContentionMeter, verdict
from mtbench.record import Contention, Latency


@dataclass(frozen=True)
class LatencyStats:
    """Per-clip milliseconds over `repeats` timed runs, the fields of `record.Latency` (a test
    holds them equal). `samples` keeps every run's per-clip time in the order it was timed, so
    a report can put a bootstrap interval on a median or on a ratio of two medians instead of
    trusting p10/p90 alone."""

    median: float
    p10: float
    p90: float
    cv: float
    repeats: int
    samples: tuple[float, ...] = ()
    # How busy the machine was over the timed repeats, and the verdict it gives
    # (mtbench.measure.contention); None / "unknown" where nothing was measured.
    contention: Contention | None = None
    verdict: Literal["clean", "disturbed", "unknown"] = "unknown"
    reasons: tuple[str, ...] = field(default=())
    # Runs of the step each repeat timed back to back, its per-clip time their mean: more than
    # one for a fast step in interleaved rounds (execution.ROUND_BLOCK_MS), 1 elsewhere.
    runs_per_repeat: int = 1

    def as_dict(self) -> Latency:
        """The record's `Latency`: the same fields, sequences as lists."""
        out = asdict(self)
        out["samples"] = list(self.samples)
        out["reasons"] = list(self.reasons)
        return out  # type: ignore[return-value]


def judged(stats: LatencyStats, meter: ContentionMeter) -> LatencyStats:
    """`stats` with the machine's contention over its repeats and the verdict on them."""
    contention = meter.as_dict()
    said, reasons = verdict(contention, stats.samples)
    return replace(stats, contention=contention, verdict=said, reasons=tuple(reasons))


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(
    samples_ms: Sequence[float], clips_per_run: int = 1, runs_per_repeat: int = 1
) -> LatencyStats:
    """Median, p10, p90 and coefficient of variation (population std / mean), per clip; each
    sample the time of `runs_per_repeat` runs back to back."""
    if not samples_ms:
        raise ValueError("no timed runs to summarise")
    in_order = tuple(s / (clips_per_run * runs_per_repeat) for s in samples_ms)
    per_clip = sorted(in_order)
    mean = statistics.fmean(per_clip)
    cv = statistics.pstdev(per_clip) / mean if mean > 0 else 0.0
    return LatencyStats(
        median=statistics.median(per_clip),
        p10=_percentile(per_clip, 0.10),
        p90=_percentile(per_clip, 0.90),
        cv=cv,
        repeats=len(per_clip),
        samples=in_order,
        runs_per_repeat=runs_per_repeat,
    )


class CpuTimer:
    """Wall-clock timing; `clock` is injectable so the statistics can be tested exactly."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock

    def time_ms(self, run: Callable[[], object]) -> float:
        start = self.clock()
        run()
        return (self.clock() - start) * 1000.0


class CudaTimer:
    """Device-event timing: the elapsed time of the kernels the run queued."""

    def time_ms(self, run: Callable[[], object]) -> float:
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)


SCENARIO_SAMPLES_KEPT = 4096  # a scenario's latencies a record keeps for compare's intervals


def kept_samples(values_ms: Sequence[float]) -> list[float]:
    """A scenario's per-query or per-window latencies as the record keeps them: all of them,
    or a seeded uniform subsample of `SCENARIO_SAMPLES_KEPT` (in their order) for a long run,
    enough for a bootstrap interval of a percentile without a record of MLPerf's 24,576."""
    values = [round(v, 4) for v in values_ms]
    if len(values) <= SCENARIO_SAMPLES_KEPT:
        return values
    picked = np.random.default_rng(0).choice(len(values), SCENARIO_SAMPLES_KEPT, replace=False)
    return [values[i] for i in sorted(picked)]


def timer_for(device: torch.device) -> CpuTimer | CudaTimer:
    return CudaTimer() if device.type == "cuda" else CpuTimer()


def time_runs(
    run: Callable[[], object],
    *,
    warmup: int,
    repeats: int,
    timer: CpuTimer | CudaTimer,
    clips_per_run: int = 1,
) -> LatencyStats:
    """Run `warmup` untimed then `repeats` timed calls of `run`, each timed call bracketed by
    snapshots of the machine (outside the timed region) for the verdict."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        run()
    meter = ContentionMeter(torch.get_num_threads())
    samples = [time_one(run, timer, meter) for _ in range(repeats)]
    return judged(summarize(samples, clips_per_run), meter)


def warm_for(run: Callable[[], object], timer: CpuTimer | CudaTimer, ms: float) -> float:
    """Untimed calls of `run` until they add up to `ms` (one at least), and their mean in ms:
    after another network's forward, one call does not bring a fast one back to its steady
    speed (an INT8 r3d-18 under OpenVINO, 3 ms a clip, ran a third slower after one call than
    back to back, and as fast after five)."""
    spent, calls = 0.0, 0
    while True:
        spent += timer.time_ms(run)
        calls += 1
        if spent >= ms:
            return spent / calls


def back_to_back(run: Callable[[], object], runs: int) -> Callable[[], object]:
    """`run` called `runs` times in a row, as one call (`run` itself when once)."""
    if runs == 1:
        return run

    def block() -> object:
        for _ in range(runs - 1):
            run()
        return run()

    return block


def time_one(
    run: Callable[[], object], timer: CpuTimer | CudaTimer, meter: ContentionMeter
) -> float:
    """One timed call, with the machine measured around it."""
    meter.start()
    try:
        return timer.time_ms(run)
    finally:
        meter.stop()


def autocast_to(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Autocast to `dtype` on `device`; no autocast when `dtype` is None. Timing and training
    enter mixed precision the same way."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def forward_step(
    model: nn.Module, x: torch.Tensor, autocast: torch.dtype | None = None
) -> Callable[[], object]:
    """Inference: eval mode under torch.inference_mode, under autocast to `autocast` if set."""

    def run() -> object:
        with torch.inference_mode(), autocast_to(x.device, autocast):
            return model(x)

    return run


def forward_backward_step(
    model: nn.Module, x: torch.Tensor, autocast: torch.dtype | None = None
) -> Callable[[], object]:
    """A training step without the optimizer: forward, a loss on the logits, backward; the
    forward under autocast to `autocast` if set (the loss in float32, as AMP training does)."""
    target = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)

    def run() -> object:
        model.zero_grad(set_to_none=True)
        with autocast_to(x.device, autocast):
            logits = model(x)
        loss = nn.functional.cross_entropy(logits.float(), target)
        loss.backward()
        return loss

    return run


def cuda_graph_replay(run: Callable[[], object], warmup: int = 3) -> Callable[[], None]:
    """Capture one call of `run` in a CUDA graph and return the graph's replay.

    PyTorch's recipe: warm-up calls on a side stream first, so that lazy initialisation,
    cuDNN autotuning and the allocator's growth happen outside the capture; then one call
    captured under `torch.cuda.graph`. Each replay reruns the captured kernels on the same
    memory: the step's input tensor is the static input, and a training step's `.grad`
    tensors, set to None before its captured backward, are allocated from the graph's pool
    and refilled by every replay. Host work (Python, dispatch, launches) is not replayed,
    which is what graph timings leave out.
    """
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    return graph.replay
