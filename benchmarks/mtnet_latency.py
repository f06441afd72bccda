"""CPU latency of MTNet-32 and -64 beside torchvision's R3D-18, in the same run.

The branching, laterals and recurrent cells of an MTNet cost time that FLOPs do not show;
achieved GFLOP/s (2 x multiply-adds per second, the hardware convention) says how much.
Every model runs through the cell's executor (`mtbench.measure.execution.executor_for`), as
`mtbench profile` runs it: the forward in eval mode under `torch.inference_mode()`, the
forward+backward a training step without optimizer (train-mode BN, cross-entropy on the
logits), whose work is taken as three forwards. The models are timed in interleaved rounds
(`time_in_rounds`, as `mtbench run --interleave` times a suite), so that load from other
processes falls on all of them alike; medians with p10 / p90 and each timing's verdict.

`--models LABEL[,LABEL]` times only those (default: r3d-18 and MTNet-32/64, g = 1 and 8).
`--compile LABEL[,LABEL]` adds `torch.compile` (default mode) of those models as rows of
their own, timed in the same rounds (compilation happens in the warm-up), so that "compiled
is not slower than eager" is judged within one run. `--size N` sets H = W (default 112); the
authors' networks (`mtnet-s/m/l`, variant "authors-2021") beside the paper-default ones at
their clip size: `--size 256 --models "mtnet-48 g=1,mtnet-s,mtnet-64 g=1,mtnet-m"`.
`--convs` adds, per model, a forward row that runs only its convolutions, on the inputs they
saw in a forward pass: the model's speed if everything else (norms, activations, pooling,
recurrent cells, Python) cost nothing. Where the rest of the time goes, operator by operator:
`mtbench profile MODEL --breakdown --by op`.

Run: python benchmarks/mtnet_latency.py [--threads N] [--repeats N] [--size N]
         [--models "r3d-18,mtnet-48 g=1"] [--compile "mtnet-32 g=1"] [--convs] [--output FILE]
(`--output`: the table with each timing's verdict, as benchmarks/publish.py renders it.)
"""

from __future__ import annotations

import argparse
import os
import platform
import warnings

import torch
from publish import write_table
from torch import nn

from mtbench import numbers
from mtbench.executor import FORWARD, TRAINING_STEP
from mtbench.measure.execution import Timed, executor_for, time_in_rounds, warm
from mtbench.measure.flops import count_flops
from mtbench.options import ProfileOptions
from mtbench.registry import create_model
from mtbench.table_model import Column, TextTable, to_markdown

FRAMES = 16
MODELS: dict[str, tuple[str, dict[str, object]]] = {
    "r3d-18": ("r3d-18", {}),
    "mtnet-32 g=1": ("mtnet-32", {"r": 0.875, "g": 1}),
    "mtnet-32 g=8": ("mtnet-32", {"r": 0.875, "g": 8}),
    "mtnet-64 g=1": ("mtnet-64", {"r": 0.875, "g": 1}),
    "mtnet-64 g=8": ("mtnet-64", {"r": 0.875, "g": 8}),
    "mtnet-48 g=1": ("mtnet-48", {"r": 0.875, "g": 1}),
    "mtnet-132 g=1": ("mtnet-132", {"r": 0.875, "g": 1}),
    "mtnet-132 g=8": ("mtnet-132", {"r": 0.875, "g": 8}),
    "mtnet-200 g=1": ("mtnet-200", {"r": 0.875, "g": 1}),
    "mtnet-32 g=1 no SR": ("mtnet-32", {"r": 0.875, "g": 1, "sr_cell": "none"}),
    # The authors' released networks (variant "authors-2021", 200 classes), at their 256 x 256.
    "mtnet-s": ("mtnet-s", {}),
    "mtnet-m": ("mtnet-m", {}),
    "mtnet-l": ("mtnet-l", {}),
}
DEFAULT_MODELS = "r3d-18,mtnet-32 g=1,mtnet-32 g=8,mtnet-64 g=1,mtnet-64 g=8"


class ConvsOnly(nn.Module):
    """A model's convolutions alone, each on a copy of the input it saw in one forward: a
    network of its own, so that it runs through the same executor as the model."""

    def __init__(self, model: nn.Module, x: torch.Tensor) -> None:
        super().__init__()
        self.calls: list[tuple[nn.Module, torch.Tensor]] = []
        convs = [m for m in model.modules() if isinstance(m, nn.Conv3d | nn.Conv2d)]
        hooks = [m.register_forward_hook(self._keep) for m in convs]
        with torch.inference_mode():
            model.eval()(x)
        for hook in hooks:
            hook.remove()
        self.convs = nn.ModuleList(convs)

    def _keep(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], _: object) -> None:
        self.calls.append((module, inputs[0].clone()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module, inputs in self.calls:
            out = module(inputs)
        return out


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--models", metavar="LABELS", default=DEFAULT_MODELS, help="time these")
    parser.add_argument("--compile", metavar="LABELS", default="", help="also time these compiled")
    parser.add_argument("--convs", action="store_true", help="also time each model's convs alone")
    parser.add_argument("--size", type=int, default=112, help="input height and width")
    parser.add_argument("--output", help="also write the table and its verdicts (publish.py)")
    args = parser.parse_args()
    args.labels = args.models.split(",")
    args.compiled = list(filter(None, args.compile.split(",")))
    unknown = sorted(set(args.labels) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if not set(args.compiled) <= set(args.labels):
        parser.error(f"--compile {args.compile!r}: each must also be in --models {args.models!r}")
    return args


def rows(args: argparse.Namespace, shape: list[int]) -> dict[str, tuple[Timed, float]]:
    """Each row's executor in the rounds (its steps, repeats) and its GFLOPs."""
    out = {}
    for label in args.labels:
        torch.manual_seed(0)
        model = create_model(MODELS[label][0], **MODELS[label][1])
        gflops = count_flops(model, shape).gflops
        eager = ProfileOptions(threads=args.threads)
        runs = {label: (model, eager, [FORWARD, TRAINING_STEP])}
        if label in args.compiled:
            compiled = ProfileOptions(threads=args.threads, compile=True)
            runs[f"{label} compiled"] = (model, compiled, [FORWARD, TRAINING_STEP])
        if args.convs:
            runs[f"{label} convs"] = (ConvsOnly(model, torch.randn(shape)), eager, [FORWARD])
        for name, (network, options, keys) in runs.items():
            executor = executor_for(network, shape, options, keys)
            out[name] = (Timed(executor, keys, args.repeats), gflops)
    return out


def main() -> None:
    args = parse()
    warnings.filterwarnings("ignore")
    shape = [1, 3, FRAMES, args.size, args.size]
    timed = rows(args, shape)
    for t, _ in timed.values():
        warm(t, args.warmup)
    time_in_rounds([t for t, _ in timed.values()])
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {args.threads}, torch {torch.__version__}, input {shape} float32, "
        f"{args.repeats} interleaved rounds after {args.warmup} warm-up, load average "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    table = latency_table(timed)
    print(to_markdown(table))
    if args.output:
        said = [t.stats() for t, _ in timed.values() if t.error is None]
        verdicts = [(s.verdict, list(s.reasons)) for stats in said for s in stats.values()]
        write_table(args.output, table, args.threads, verdicts)


def latency_table(timed: dict[str, tuple[Timed, float]]) -> TextTable:
    """One row per model: GFLOPs, then per step its median (p10-p90), marked where
    disturbed, and the achieved GFLOP/s (a training step counted as three forwards)."""
    heads = ["model", "GFLOPs (1 MAC = 1 FLOP)"]
    for step in ("forward", "fwd+bwd"):
        heads += [f"{step} ms, median (p10-p90)", f"{step} achieved GFLOP/s"]
    table = TextTable([Column(h, "left" if h == "model" else "right") for h in heads])
    for label, (t, gflops) in timed.items():
        row: list[object] = [label, numbers.gflops(gflops)]
        if t.error is not None:
            table.rows.append([*row, f"failed: {t.error}", None, None, None])
            continue
        stats = t.stats()
        for key, work in ((FORWARD, 1), (TRAINING_STEP, 3)):
            s = stats.get(key)
            if s is None:
                row += [None, None]
                continue
            rate = 2 * work * gflops / (s.median / 1e3)
            text = numbers.latency(s.median, s.verdict == "disturbed", unit=False)
            row += [f"{text} ({numbers.decimal(s.p10)}-{numbers.decimal(s.p90)})", f"{rate:.1f}"]
        table.rows.append(row)
    if any(numbers.DISTURBED_MARK in str(cell) for row in table.rows for cell in row):
        table.footnotes.append(numbers.DISTURBED_NOTE)
    return table


if __name__ == "__main__":
    main()
