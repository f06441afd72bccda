"""The baseline zoo table: params and GFLOPs of every baseline against its published size.

Run: python benchmarks/baselines_zoo.py [--skip-224] [--train] [--only NAME ...] [--output FILE]

For each registered baseline (default keyword arguments) and each extra configuration in the
reference table: params, GFLOPs at 16x224x224, GFLOPs at the reference input (counted with or
without normalisation layers as the source counted), the reference value and the relative
difference. `--train` also times one training step (forward, cross-entropy, backward) at the
canonical input, through the cell's executor. GFLOPs: one fused multiply-add = one FLOP, per
clip (batch 1). Slow: every count is a real forward pass on CPU.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch
from publish import write_table  # benchmarks/, this script's folder

from baselines.reference import BASELINE_FAMILIES, canonical_input, load_reference
from mtbench.executor import TRAINING_STEP
from mtbench.measure.execution import executor_for, time_alone
from mtbench.measure.flops import count_flops
from mtbench.numbers import decimal, percent
from mtbench.options import ProfileOptions
from mtbench.registry import check_input, create_model, list_models, model_entry
from mtbench.table_model import Column, TextTable, to_markdown

COMMON = (1, 3, 16, 224, 224)
HEADERS = (
    "model",
    "kwargs",
    "family",
    "params (M)",
    "ref params (M)",
    "GFLOPs 16x224²",
    "ref input",
    "norm counted",
    "GFLOPs at ref input",
    "ref GFLOPs",
    "rel diff",
    "train step (s)",
)
LEFT = {"model", "kwargs", "family", "ref input", "norm counted"}


def _configs(only: list[str] | None) -> tuple[list[tuple[str, tuple]], dict]:
    """Every registered baseline at its defaults, then every other configuration the reference
    table names, and the reference row of each."""
    references = {}
    for ref in load_reference():
        references.setdefault((ref.model, tuple(sorted(ref.kwargs.items()))), ref)
    configs = [(name, ()) for family in BASELINE_FAMILIES for name in list_models(family)]
    configs += [key for key in references if key not in configs]
    if only:
        configs = [c for c in configs if c[0] in only]
    return configs, references


def _row(
    name: str, kwarg_items: tuple, ref: Any, args: argparse.Namespace
) -> tuple[list, str, Any]:
    """One configuration's cells, a note on the operators fvcore skipped ('' for none) and
    the training step's timing (None without `--train`)."""
    kwargs = dict(kwarg_items)
    family = model_entry(name).family
    model = create_model(name, num_classes=ref.num_classes if ref else 400, **kwargs).eval()
    params = sum(p.numel() for p in model.parameters())
    # A fixed-clip model (MViT, Hugging Face's) is counted at 16x224x224 only if it fits.
    fits = check_input(name, kwargs, list(COMMON)) is None
    g224 = None if args.skip_224 or not fits else count_flops(model, COMMON).gflops
    g_ref = rel = None
    shape, norm, note = None, None, ""
    if ref is not None and ref.gflops is not None:
        count = count_flops(model, ref.input_shape, count_norm=ref.count_norm)
        g_ref, shape, norm = count.gflops, ref.input, "yes" if ref.count_norm else "no"
        rel = (g_ref - ref.gflops) / ref.gflops
        if count.skipped_ops:
            note = f"{name}: fvcore skipped {count.skipped_ops}"
    step = timed = None
    if args.train:  # one training step, untimed warm-up excluded: the first step's cost
        shape = [1, 3, *canonical_input(name, family)]
        executor = executor_for(model, shape, ProfileOptions(), [TRAINING_STEP])
        timed = time_alone(executor, [TRAINING_STEP], warmup=0, repeats=1)
        timed = timed[TRAINING_STEP]
        step = timed.median / 1e3
    cells = [
        name,
        ",".join(f"{k}={v}" for k, v in kwargs.items()) or None,
        family,
        decimal(params / 1e6),
        decimal(ref.params / 1e6) if ref and ref.params else None,
        decimal(g224, significant=0) if g224 is not None else None,
        "x".join(map(str, shape)) if shape else None,
        norm,
        decimal(g_ref, significant=0) if g_ref is not None else None,
        decimal(ref.gflops, significant=0) if ref and ref.gflops else None,
        percent(rel, 2, fraction=True, sign=True) if rel is not None else None,
        decimal(step, 1) if step is not None else None,
    ]
    return cells, note, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-224", action="store_true", help="skip the 16x224x224 column")
    parser.add_argument("--train", action="store_true", help="forward+backward at canonical input")
    parser.add_argument("--only", nargs="*", help="model names to include")
    parser.add_argument("--output", help="also write the table here (benchmarks/publish.py)")
    args = parser.parse_args()

    configs, references = _configs(args.only)
    table = TextTable([Column(h, "left" if h in LEFT else "right") for h in HEADERS])
    timings = []
    for name, kwarg_items in configs:
        cells, note, timed = _row(name, kwarg_items, references.get((name, kwarg_items)), args)
        table.rows.append(cells)
        if timed is not None:
            timings.append((timed.verdict, list(timed.reasons)))
        if note:
            table.footnotes.append(note)
        print(f"{name} {dict(kwarg_items) or ''}: done", file=sys.stderr, flush=True)
    table = table.drop_empty()
    print(to_markdown(table))
    if args.output:
        write_table(args.output, table, torch.get_num_threads() if args.train else None, timings)


if __name__ == "__main__":
    main()
