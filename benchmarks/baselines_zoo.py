"""The baseline zoo table: params and GFLOPs of every baseline against its published size.

Run: python benchmarks/baselines_zoo.py [--skip-224] [--train] [--only NAME ...]

For each registered baseline (default keyword arguments) and each extra configuration in the
reference table: params, GFLOPs at 16x224x224, GFLOPs at the reference input (counted with or
without normalisation layers as the source counted), the reference value and the relative
difference. `--train` also times one training step (forward, cross-entropy, backward) at the
canonical input, through the cell's executor. GFLOPs: one fused multiply-add = one FLOP, per
clip (batch 1). Slow: every count is a real forward pass on CPU.
"""

from __future__ import annotations

import argparse

from baselines.reference import BASELINE_FAMILIES, canonical_input, load_reference
from mtbench.executor import TRAINING_STEP
from mtbench.measure.execution import executor_for, time_alone
from mtbench.measure.flops import count_flops
from mtbench.options import ProfileOptions
from mtbench.registry import check_input, create_model, list_models, model_entry

COMMON = (1, 3, 16, 224, 224)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-224", action="store_true", help="skip the 16x224x224 column")
    parser.add_argument("--train", action="store_true", help="forward+backward at canonical input")
    parser.add_argument("--only", nargs="*", help="model names to include")
    args = parser.parse_args()

    references = {}
    for ref in load_reference():
        references.setdefault((ref.model, tuple(sorted(ref.kwargs.items()))), ref)
    configs = [(name, ()) for family in BASELINE_FAMILIES for name in list_models(family)]
    configs += [key for key in references if key not in configs]
    if args.only:
        configs = [c for c in configs if c[0] in args.only]

    header = (
        "| model | kwargs | family | params (M) | ref params (M) | GFLOPs 16x224² | input "
        "| norm | GFLOPs | ref GFLOPs | rel diff | train step (s) |"
    )
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for name, kwarg_items in configs:
        kwargs = dict(kwarg_items)
        family = model_entry(name).family
        ref = references.get((name, kwarg_items))
        num_classes = ref.num_classes if ref else 400
        model = create_model(name, num_classes=num_classes, **kwargs).eval()
        params = sum(p.numel() for p in model.parameters())
        # A fixed-clip model (MViT, Hugging Face's) is counted at 16x224x224 only if it fits.
        fits = check_input(name, kwargs, list(COMMON)) is None
        g224 = None if args.skip_224 or not fits else count_flops(model, COMMON).gflops
        g_ref = rel = None
        shape, norm = None, ""
        if ref is not None and ref.gflops is not None:
            count = count_flops(model, ref.input_shape, count_norm=ref.count_norm)
            g_ref, shape, norm = count.gflops, ref.input, "yes" if ref.count_norm else "no"
            rel = (g_ref - ref.gflops) / ref.gflops
            if count.skipped_ops:
                print(f"<!-- {name}: skipped {count.skipped_ops} -->")
        step = None
        if args.train:  # one training step, untimed warm-up excluded: the first step's cost
            shape = [1, 3, *canonical_input(name, family)]
            executor = executor_for(model, shape, ProfileOptions(), [TRAINING_STEP])
            timed = time_alone(executor, [TRAINING_STEP], warmup=0, repeats=1)
            step = timed[TRAINING_STEP].median / 1e3
        cells = [
            name,
            ",".join(f"{k}={v}" for k, v in kwargs.items()),
            family,
            _fmt(params / 1e6),
            _fmt(ref.params / 1e6 if ref else None),
            _fmt(g224),
            "x".join(map(str, shape)) if shape else "",
            norm,
            _fmt(g_ref),
            _fmt(ref.gflops if ref else None),
            _fmt(rel, "+.2%"),
            _fmt(step, ".1f"),
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
