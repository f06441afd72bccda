"""How close mtbench's MTNets land to the paper: Table 3 and the efficiency claims of the text.

Prints markdown tables:
1. params (exact, meta device) and GFLOPs at 16x224x224, 16x256x256, 16x320x320 for the seven
   rows of Table 3, beside the paper's numbers with the relative difference;
2. GFLOPs at r in {0.5, 0.625, 0.75, 0.875} relative to r = 1 (the text: about -20% at
   0.875, -35% at 0.75, averaged over MTNet-32/48/64/132);
3. params and GFLOPs of g = 8 relative to g = 1 for MTNet-64 and -132, from our models, from
   the text's claims and from Table 3's own numbers.

GFLOPs: one fused multiply-add = one FLOP, per clip (batch 1), fvcore with mtbench's
handlers, cross-checked by ptflops. Run: python benchmarks/mtnet_fidelity.py [--quick]
[--only table3|ratios|substreams [--output FILE]] (`--output`: the table as publish.py reads it,
for docs/mtnet.md).
"""

from __future__ import annotations

import argparse
import warnings

import torch
from publish import write_table

from mtbench import numbers
from mtbench.measure.flops import count_flops
from mtbench.models.mtnet import PAPER_TABLE3
from mtbench.registry import create_model
from mtbench.table_model import Column, TextTable, to_markdown

NUM_CLASSES = 700  # Table 3 reports Kinetics-700 (and MiT) accuracies beside its counts.
SIZES = (224, 256, 320)
RATIOS = (0.5, 0.625, 0.75, 0.875)
# The text's sub-stream claims (Sub-stream evaluation): reductions of g = 8 against g = 1.
TEXT_G8 = {64: (58.67, 71.82), 132: (59.98, 76.14)}
# The text's ratio claims (Ratio selection), averaged over the four tested depths.
TEXT_R = {0.875: 20.52, 0.75: 35.06}
ONLY = ("table3", "ratios", "substreams")


def params(depth: int, **kwargs: object) -> int:
    with torch.device("meta"):
        model = create_model(f"mtnet-{depth}", num_classes=NUM_CLASSES, **kwargs)
    return sum(p.numel() for p in model.parameters())


def gflops(depth: int, size: int, frames: int = 16, **kwargs: object) -> tuple[float, float, list]:
    torch.manual_seed(0)
    model = create_model(f"mtnet-{depth}", num_classes=NUM_CLASSES, **kwargs)
    count = count_flops(model, (1, 3, frames, size, size))
    return count.gflops, count.rel_diff, count.skipped_ops


def rel(ours: float, paper: float) -> str:
    return numbers.percent((ours - paper) / paper, fraction=True, sign=True)


def cut(part: float, whole: float) -> str:
    """A reduction as the paper writes it: '-20.1%' for part = 0.799 x whole."""
    return numbers.percent(part / whole - 1, fraction=True)


def _table(heads: list[str]) -> TextTable:
    return TextTable([Column(h, "left" if i == 0 else "right") for i, h in enumerate(heads)])


def fidelity_table(sizes: tuple[int, ...]) -> TextTable:
    heads = ["model", "g", "params", "Table 3", "diff"]
    table = _table([*heads, *(f"GFLOPs 16x{s}² (diff)" for s in sizes), "Table 3 GFLOPs"])
    skipped: set[str] = set()
    worst = 0.0
    for (depth, g), (paper_params, paper_gflops) in PAPER_TABLE3.items():
        n = params(depth, g=g)
        cells = []
        for size in sizes:
            value, disagreement, skip = gflops(depth, size, g=g)
            skipped.update(skip)
            worst = max(worst, disagreement)
            cells.append(f"{numbers.gflops(value)} ({rel(value, paper_gflops)})")
        row = [f"MTNet-{depth}", str(g), f"{n:,}", f"{paper_params:.2f} M"]
        table.rows.append([*row, rel(n / 1e6, paper_params), *cells, f"{paper_gflops:.2f}"])
    table.footnotes += [
        f"params at num_classes = {NUM_CLASSES}; GFLOPs per clip by fvcore, 1 multiply-add ="
        " 1 FLOP; the Table 3 columns are the paper's",
        f"fvcore against ptflops: largest relative disagreement {worst:.1e};"
        f" operators not counted: {', '.join(sorted(skipped)) or 'none'}",
    ]
    return table


def ratio_table(size: int, depths: tuple[int, ...]) -> TextTable:
    table = _table(["r", *(f"MTNet-{d}" for d in depths), "mean", "text"])
    base = {d: gflops(d, size, r=1.0)[0] for d in depths}
    for r in RATIOS:
        parts = [gflops(d, size, r=r)[0] / base[d] for d in depths]
        claim = f"-{TEXT_R[r]:.2f}%" if r in TEXT_R else ""
        mean = sum(parts) / len(parts)
        table.rows.append([str(r), *(cut(p, 1) for p in parts), cut(mean, 1), claim])
    table.rows.append(["r = 1 GFLOPs", *(numbers.gflops(base[d]) for d in depths), "", ""])
    table.footnotes.append(
        f"GFLOPs at 16x{size}x{size}, g = 1, relative to r = 1 (vanilla 3D); the text column is"
        " the paper's"
    )
    return table


def substream_table(size: int) -> TextTable:
    heads = ["model", "params ours", "params text", "params Table 3"]
    table = _table([*heads, "GFLOPs ours", "GFLOPs text", "GFLOPs Table 3"])
    for depth in (64, 132):
        p1, p8 = params(depth, g=1), params(depth, g=8)
        f1, f8 = gflops(depth, size, g=1)[0], gflops(depth, size, g=8)[0]
        (tp1, tf1), (tp8, tf8) = PAPER_TABLE3[(depth, 1)], PAPER_TABLE3[(depth, 8)]
        text_p, text_f = TEXT_G8[depth]
        table.rows.append(
            [
                f"MTNet-{depth}",
                *(cut(p8, p1), f"-{text_p:.2f}%", cut(tp8, tp1)),
                *(cut(f8, f1), f"-{text_f:.2f}%", cut(tf8, tf1)),
            ]
        )
    table.footnotes.append(
        f"g = 8 relative to g = 1 (r = 0.875), GFLOPs at 16x{size}x{size}; the text and Table 3"
        " columns are the paper's"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one input size (16x112x112)")
    parser.add_argument("--ratio-size", type=int, default=256, help="H = W for tables 2 and 3")
    parser.add_argument("--only", choices=ONLY, help="count and print this table alone")
    parser.add_argument("--output", help="with --only: also write the table (publish.py)")
    args = parser.parse_args()
    if args.output and not args.only:
        parser.error("--output writes one table: name it with --only")
    warnings.filterwarnings("ignore")
    torch.set_grad_enabled(False)
    sizes = (112,) if args.quick else SIZES
    ratio_size = 112 if args.quick else args.ratio_size
    build = {
        "table3": lambda: fidelity_table(sizes),
        "ratios": lambda: ratio_table(ratio_size, (32, 48, 64, 132)),
        "substreams": lambda: substream_table(ratio_size),
    }
    for name in [args.only] if args.only else ONLY:
        table = build[name]()
        print(to_markdown(table) + "\n")
        if args.output:
            write_table(args.output, table, None)


if __name__ == "__main__":
    main()
