"""A model under PyTorch eager, ONNX Runtime and OpenVINO timed in interleaved rounds.

A suite times its cells one after another; on a shared machine the load can change between
them, and a wall-clock ratio of two cells then measures the load too. Here the model's cells
of a `suites/deploy.toml` store run through their executors (`executor_for`, reading the
files the store already exported: nothing is exported again) in interleaved rounds
(`time_in_rounds`, as `mtbench run --interleave` times a suite), with the store's options;
each timing's wall median, verdict and the process's CPU time per run (its contention meter's
`own_cpu_s`, all threads) are printed, so that a machine whose cores are taken by others still
gives the work each runtime does.

Run: python benchmarks/deploy_interleaved.py reports/deploy x3d-xs [--repeats 7]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mtbench.executor import FORWARD
from mtbench.measure.execution import Timed, executor_for, time_in_rounds, warm
from mtbench.measure.profile import SEED
from mtbench.registry import create_model
from mtbench.store_layout import cell_folder
from mtbench.suite.grid import load_suite
from mtbench.suite.runner import SUITE_COPY
from mtbench.suite.store import ok_records


def executors(store: Path, model: str, repeats: int) -> dict[str, Timed]:
    """The model's ok cells of the store, one executor per runtime, ready for the rounds."""
    _, cells = load_suite(store / SUITE_COPY)
    done = ok_records(store)
    mine = [c for c in cells if c.model == model and c.key in done]
    if not mine:
        raise SystemExit(f"error: {store} has no ok cell of {model}")
    out = {}
    for cell in mine:
        torch.manual_seed(SEED)
        network = create_model(cell.model, **cell.kwargs).eval()
        folder = cell_folder(store, cell.key)
        executor = executor_for(network, cell.input_shape, cell.options, [FORWARD], folder)
        out[f"{cell.options.runtime} ({cell.label})"] = Timed(executor, [FORWARD], repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    timed = executors(args.store, args.model, args.repeats)
    for t in timed.values():
        warm(t, args.warmup)
    time_in_rounds(list(timed.values()))
    print(f"{args.model}, {args.repeats} interleaved rounds after {args.warmup} warm-up")
    cpu = {}
    for name, t in timed.items():
        if t.error is None:
            stats = t.stats()[FORWARD]
            cpu[name] = stats.contention["own_cpu_s"] * 1e3 / stats.repeats
    eager = next((v for k, v in cpu.items() if k.startswith("pytorch")), None)
    for name, t in timed.items():
        if t.error is not None:
            print(f"  {name:28s} failed: {t.error}")
            continue
        stats = t.stats()[FORWARD]
        ratio = f"   CPU / eager {cpu[name] / eager:.2f}" if eager else ""
        print(
            f"  {name:28s} wall {stats.median:8.1f} ms ({stats.verdict})"
            f"   CPU {cpu[name]:8.1f} ms{ratio}"
        )


if __name__ == "__main__":
    main()
