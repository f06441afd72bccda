"""CPU latency of MTNet-32 and -64 beside torchvision's R3D-18, in the same run.

The branching, laterals and recurrent cells of an MTNet cost time that FLOPs do not show;
achieved GFLOP/s (2 x multiply-adds per second, the hardware convention) says how much.
Forward runs in eval mode under `torch.inference_mode()`; forward+backward is a training
step without optimizer (train-mode BN, loss = sum of logits), whose work is taken as three
forwards. Models are timed in turn inside each repeat, so that load from other processes on
a shared machine falls on all of them alike; medians with p10 / p90 over the repeats.

`--models LABEL[,LABEL]` times only those (default: r3d-18 and MTNet-32/64, g = 1 and 8).
`--compile LABEL[,LABEL]` adds `torch.compile` (default mode) of those models as rows of
their own, timed in turn with the eager ones (compilation happens in the warm-up), so that
"compiled is not slower than eager" is judged within one run on a shared machine.
`--size N` sets H = W (default 112); the authors' networks (`mtnet-s/m/l`, variant
"authors-2021") beside the paper-default ones at their clip size:
`--size 256 --models "mtnet-48 g=1,mtnet-s,mtnet-64 g=1,mtnet-m"`.
`--convs` adds, per model, a forward row that runs only its convolutions, on the inputs
they saw in a forward pass: the model's speed if everything else (norms, activations,
pooling, recurrent cells, Python) cost nothing.

Run: python benchmarks/mtnet_latency.py [--threads N] [--repeats N] [--size N] [--profile MODEL]
         [--models "r3d-18,mtnet-48 g=1"] [--compile "mtnet-32 g=1"] [--convs]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from mtbench.measure.flops import count_flops
from mtbench.registry import create_model

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


def forward_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.inference_mode():
            model.eval()(x)

    return step


def train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def convs_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """The model's convolutions alone, each on a copy of the input it saw in a forward."""
    calls: list[tuple[nn.Module, torch.Tensor]] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], _: object) -> None:
        calls.append((module, inputs[0].clone()))

    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d | nn.Conv2d)]
    hooks = [m.register_forward_hook(record) for m in convs]
    with torch.inference_mode():
        model.eval()(x)
    for hook in hooks:
        hook.remove()

    def step() -> None:
        with torch.inference_mode():
            for module, inputs in calls:
                module(inputs)

    return step


def seconds(step: Callable[[], None]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    at = lambda q: ordered[round(q * (len(ordered) - 1))]  # noqa: E731
    return statistics.median(ordered), at(0.1), at(0.9)


def profile(model: nn.Module, x: torch.Tensor, rows: int) -> None:
    from torch.profiler import profile as torch_profile

    step = forward_step(model, x)
    step()
    with torch_profile(record_shapes=True) as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile", metavar="LABEL", help="profile one model's forward")
    parser.add_argument("--models", metavar="LABELS", default=DEFAULT_MODELS, help="time these")
    parser.add_argument("--compile", metavar="LABELS", default="", help="also time these compiled")
    parser.add_argument("--convs", action="store_true", help="also time each model's convs alone")
    parser.add_argument("--size", type=int, default=112, help="input height and width")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (1, 3, FRAMES, args.size, args.size)
    x = torch.randn(shape)
    labels = [args.profile] if args.profile else args.models.split(",")
    compiled = list(filter(None, args.compile.split(",")))
    unknown = sorted(set(labels) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if not set(compiled) <= set(labels):
        parser.error(f"--compile {args.compile!r}: each must also be in --models {args.models!r}")
    models = {label: create_model(MODELS[label][0], **MODELS[label][1]) for label in labels}
    if args.profile:
        profile(models[args.profile], x, 30)
        return

    gmacs = {label: count_flops(m, shape).gflops for label, m in models.items()}
    for label in compiled:
        models[f"{label} compiled"] = torch.compile(models[label])
        gmacs[f"{label} compiled"] = gmacs[label]
    convs: dict[str, Callable[[], None]] = {}
    for label in labels if args.convs else []:
        convs[f"{label} convs"] = convs_step(models[label], x)
        gmacs[f"{label} convs"] = gmacs[label]
    times: dict[tuple[str, str], list[float]] = {}
    for mode, make in (("forward", forward_step), ("fwd+bwd", train_step)):
        steps = {label: make(m, x) for label, m in models.items()}
        if mode == "forward":
            steps.update(convs)
        for _ in range(args.warmup):
            for step in steps.values():
                step()
        for _ in range(args.repeats):
            for label, step in steps.items():
                times.setdefault((label, mode), []).append(seconds(step))

    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {args.threads}, torch {torch.__version__}, input {shape} float32, "
        f"{args.repeats} repeats after {args.warmup} warm-up, load average "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| model | GFLOPs (1 MAC = 1 FLOP) | forward ms, median (p10-p90) | "
        "achieved GFLOP/s | fwd+bwd ms, median (p10-p90) | achieved GFLOP/s |"
    )
    print("|---|---|---|---|---|---|")
    achieved: dict[str, float] = {}
    for label in [*models, *convs]:
        cells = []
        for mode, work in (("forward", 1), ("fwd+bwd", 3)):
            if (label, mode) not in times:
                cells.append("- | -")
                continue
            med, p10, p90 = quantiles(times[(label, mode)])
            rate = 2 * work * gmacs[label] / med
            achieved.setdefault(label, rate)
            cells.append(f"{med * 1e3:.0f} ({p10 * 1e3:.0f}-{p90 * 1e3:.0f}) | {rate:.1f}")
        print(f"| {label} | {gmacs[label]:.2f} | {' | '.join(cells)} |")
    if "r3d-18" in achieved:
        print()
        for label in achieved:
            if label.startswith("mtnet-32 g=1"):
                ratio = achieved[label] / achieved["r3d-18"]
                print(f"{label} forward achieved GFLOP/s / R3D-18's: {ratio:.0%} (target >= 60%)")


if __name__ == "__main__":
    main()
