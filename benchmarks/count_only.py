"""Params and GFLOPs of every registered model, counted alone and beside a timed forward:
a count-only cell must compute on the model exactly as a timed one does.

Run: python benchmarks/count_only.py [--only NAME ...]

Each model is built at default keyword arguments (num_classes 5) and counted at the first of
a few small clips it takes (the test suite checks one model per family; this is the whole
registry). Prints one row per model and exits 1 when any count differs.
"""

from __future__ import annotations

import argparse
import sys
import time

from mtbench.measure.profile import ProfileOptions, profile
from mtbench.registry import check_input, list_models

CLIPS = (
    [1, 3, 4, 32, 32],
    [1, 3, 16, 64, 64],
    [1, 3, 16, 112, 112],
    [1, 3, 8, 224, 224],
    [1, 3, 16, 224, 224],
    [1, 3, 32, 224, 224],
)


def counts(name: str, shape: list[int], measure: tuple[str, ...]) -> tuple:
    options = ProfileOptions(device="cpu", warmup=0, repeats=1, measure=measure, threads=1)
    record = profile(name, {"num_classes": 5}, shape, options)
    keys = ("params_total", "params_trainable", "gflops", "gflops_ptflops")
    return tuple(record[k] for k in keys)


def smallest_clip(name: str) -> tuple[list[int], tuple] | None:
    """The smallest clip the model takes and runs, with its counts alone; None if none runs
    (check_input accepts shapes that a model's pooling later refuses)."""
    for shape in CLIPS:
        if check_input(name, {"num_classes": 5}, shape) is not None:
            continue
        try:
            return shape, counts(name, shape, ("params", "flops"))
        except (ValueError, RuntimeError):
            continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="these models only")
    names = parser.parse_args().only or list_models()
    differ = []
    print("| model | input | params | GFLOPs fvcore | GFLOPs ptflops | same | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        start = time.perf_counter()
        found = smallest_clip(name)
        if found is None:
            differ.append(name)
            print(f"| {name} | - | - | - | - | NO: no clip of {len(CLIPS)} sizes runs | - |")
            continue
        shape, alone = found
        timed = counts(name, shape, ("params", "flops", "latency_fwd"))
        if alone != timed:
            differ.append(name)
        clip = "x".join(map(str, shape[2:]))
        print(
            f"| {name} | {clip} | {alone[0]:,} | {alone[2]:.4f} | {alone[3]:.4f} |"
            f" {'yes' if alone == timed else f'NO: {timed}'} | {time.perf_counter() - start:.1f} |"
        )
    print(f"{len(names) - len(differ)} of {len(names)} models count the same alone and timed")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
