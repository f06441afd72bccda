"""Every registered model's breakdown rows against the totals of the same count, at a small input.

    python benchmarks/breakdown_registry.py [--family mtnet]

The test suite checks one model per family (tests/test_measure_breakdown.py); this runs the
whole registry: for each model, at the smallest clip it takes (the video transformers at
their own size), the rows of the default depth and the "outside modules" rest, for fvcore
(ptflops gives a total and no rows) and params. A row fails when a rest is negative (a count
given twice) or when the totals of the rows' count differ from an independent `count_flops`.
"""

from __future__ import annotations

import argparse
import time

import torch

from mtbench.measure.breakdown_count import count_rows, default_depth, rows_at
from mtbench.measure.flops import count_flops
from mtbench.registry import check_input, create_model, list_models

CANDIDATES = (
    [1, 3, 8, 64, 64],
    [1, 3, 16, 112, 112],
    [1, 3, 8, 224, 224],
    [1, 3, 16, 224, 224],
    [1, 3, 32, 224, 224],
)


def check(name: str) -> str:
    shape = next(s for s in CANDIDATES if check_input(name, {}, s) is None)
    torch.manual_seed(0)
    model = create_model(name)
    rows = rows_at(model, default_depth(model))
    counts = count_rows(model, shape, rows, True, 1)
    totals = count_flops(model, shape)
    rests = {
        "fvcore": counts.fvcore_total - sum(counts.fvcore.values()),
        "params": counts.params_total - sum(counts.params.values()),
    }
    same = abs(counts.flops.gflops - totals.gflops) < 1e-9
    same = same and abs(counts.flops.gflops_ptflops - totals.gflops_ptflops) < 1e-9
    ok = same and all(v >= 0 for v in rests.values())
    text = ", ".join(f"{k} rest {v:,}" for k, v in rests.items())
    clip = "x".join(map(str, shape))
    return f"{'ok  ' if ok else 'FAIL'} {name:20s} {clip} {len(rows)} rows; {text}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family")
    args = parser.parse_args()
    for name in list_models(args.family):
        start = time.perf_counter()
        try:
            line = check(name)
        except Exception as exc:  # one model's failure is its line, the others go on
            line = f"FAIL {name:20s} {type(exc).__name__}: {exc}"
        print(f"{line} ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
