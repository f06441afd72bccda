"""What runs a cell's network, whatever runs it: the one shape every timing, memory pass,
interleaved round and breakdown calls.

An executor holds the network ready to run (a prepared PyTorch module, compiled or replayed
from a CUDA graph; an ONNX Runtime or OpenVINO session over the exported file) as steps keyed
by what they measure: `latency_fwd`, the forward, and `latency_fwdbwd`, a training step
without the optimizer, where the executor has one. `mtbench.measure.execution.executor_for`
is the one factory; this module only declares the shape, so that the runtimes' package below
`measure` can build one without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import torch

from mtbench.record import Deploy, Quantization

FORWARD = "latency_fwd"
TRAINING_STEP = "latency_fwdbwd"
# What the memory pass runs, by the step it ran: the record's `peak_mem_pass`.
MEMORY_PASSES = {TRAINING_STEP: "fwdbwd", FORWARD: "fwd"}


@dataclass(frozen=True)
class Step:
    """One way of running the network: `enter` puts it in the state the run needs (eval or
    train mode; nothing for a runtime) and stays outside the timed region; `run` is timed."""

    enter: Callable[[], object]
    run: Callable[[], object]


def _nothing() -> None:
    return None


def step(run: Callable[[], object], enter: Callable[[], object] = _nothing) -> Step:
    return Step(enter, run)


@dataclass
class Executor:
    """A cell's network ready to run, its steps and the conditions they run under.

    `threads` and `cudnn_benchmark` are the cell's process settings (`settings()` applies and
    restores them, so interleaved cells of different threads each time under their own);
    `clips_per_run` divides a run's time into per-clip figures; `deploy` is what a runtime
    records of its export and its proof of equality (None for PyTorch); `quantization` what
    a quantized network records, and `forward` the network as a function of a batch of clips
    of the cell's shape (what the accuracy gate evaluates; None where not offered).
    """

    runtime: str
    device: torch.device
    clips_per_run: int
    steps: dict[str, Step]
    threads: int | None = None
    cudnn_benchmark: bool = False
    deploy: Deploy | None = field(default=None)
    quantization: Quantization | None = field(default=None)
    forward: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None)

    def settings(self) -> AbstractContextManager[None]:
        return process_settings(self.threads, self.cudnn_benchmark)

    def memory_step(self) -> str:
        """The step the memory pass runs: the training step where the executor has one (the
        larger footprint, what training needs), else the forward."""
        return TRAINING_STEP if TRAINING_STEP in self.steps else FORWARD


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


def batched(
    run: Callable[[torch.Tensor], torch.Tensor], batch: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The network on any number of clips, `batch` at a time (the shape it was prepared,
    exported or quantized at): the last batch padded with its last clip, whose logits are
    dropped. What an executor's `forward` is (the accuracy gate evaluates it)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, len(x), batch):
            part = x[i : i + batch]
            n = len(part)
            if n < batch:
                part = torch.cat([part, part[-1:].expand(batch - n, *part.shape[1:])])
            out.append(run(part.float().contiguous())[:n])
        return torch.cat(out)

    return forward
