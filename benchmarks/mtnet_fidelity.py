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
"""

from __future__ import annotations

import argparse
import warnings

import torch

from mtbench.measure.flops import count_flops
from mtbench.models.mtnet import PAPER_TABLE3
from mtbench.registry import create_model

NUM_CLASSES = 700  # Table 3 reports Kinetics-700 (and MiT) accuracies beside its counts.
SIZES = (224, 256, 320)
RATIOS = (0.5, 0.625, 0.75, 0.875)
# The text's sub-stream claims (Sub-stream evaluation): reductions of g = 8 against g = 1.
TEXT_G8 = {64: (58.67, 71.82), 132: (59.98, 76.14)}
# The text's ratio claims (Ratio selection), averaged over the four tested depths.
TEXT_R = {0.875: 20.52, 0.75: 35.06}


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
    return f"{(ours - paper) / paper * 100:+.1f}%"


def fidelity_table(sizes: tuple[int, ...]) -> None:
    head = " | ".join(f"GFLOPs 16x{s}² (diff)" for s in sizes)
    print(f"| model | g | params | Table 3 | diff | {head} | Table 3 GFLOPs |")
    print("|---" * (6 + len(sizes)) + "|")
    skipped: set[str] = set()
    worst = 0.0
    for (depth, g), (paper_params, paper_gflops) in PAPER_TABLE3.items():
        n = params(depth, g=g)
        cells = []
        for size in sizes:
            value, disagreement, skip = gflops(depth, size, g=g)
            skipped.update(skip)
            worst = max(worst, disagreement)
            cells.append(f"{value:.2f} ({rel(value, paper_gflops)})")
        print(
            f"| MTNet-{depth} | {g} | {n:,} | {paper_params:.2f} M | "
            f"{rel(n / 1e6, paper_params)} | {' | '.join(cells)} | {paper_gflops:.2f} |"
        )
    print(
        f"\nfvcore vs ptflops: largest relative disagreement {worst:.2e}; "
        f"skipped operators: {sorted(skipped) or 'none'}"
    )


def ratio_table(size: int, depths: tuple[int, ...]) -> None:
    print(f"\nGFLOPs at 16x{size}x{size} relative to r = 1 (vanilla 3D), g = 1")
    print("| r | " + " | ".join(f"MTNet-{d}" for d in depths) + " | mean | text |")
    print("|---" * (len(depths) + 3) + "|")
    base = {d: gflops(d, size, r=1.0)[0] for d in depths}
    for r in RATIOS:
        cuts = [(1 - gflops(d, size, r=r)[0] / base[d]) * 100 for d in depths]
        claim = f"-{TEXT_R[r]:.2f}%" if r in TEXT_R else ""
        cells = " | ".join(f"-{c:.1f}%" for c in cuts)
        print(f"| {r} | {cells} | -{sum(cuts) / len(cuts):.1f}% | {claim} |")
    print("| r = 1 GFLOPs | " + " | ".join(f"{base[d]:.2f}" for d in depths) + " | | |")


def substream_table(size: int) -> None:
    print(f"\ng = 8 relative to g = 1 (r = 0.875), GFLOPs at 16x{size}x{size}")
    print(
        "| model | params ours | params text | params Table 3 | "
        "GFLOPs ours | GFLOPs text | GFLOPs Table 3 |"
    )
    print("|---" * 7 + "|")
    for depth in (64, 132):
        p1, p8 = params(depth, g=1), params(depth, g=8)
        f1, f8 = gflops(depth, size, g=1)[0], gflops(depth, size, g=8)[0]
        (tp1, tf1), (tp8, tf8) = PAPER_TABLE3[(depth, 1)], PAPER_TABLE3[(depth, 8)]
        text_p, text_f = TEXT_G8[depth]
        print(
            f"| MTNet-{depth} | -{(1 - p8 / p1) * 100:.1f}% | -{text_p:.2f}% | "
            f"-{(1 - tp8 / tp1) * 100:.1f}% | -{(1 - f8 / f1) * 100:.1f}% | -{text_f:.2f}% | "
            f"-{(1 - tf8 / tf1) * 100:.1f}% |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one input size (16x112x112)")
    parser.add_argument("--ratio-size", type=int, default=256, help="H = W for tables 2 and 3")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_grad_enabled(False)
    sizes = (112,) if args.quick else SIZES
    ratio_size = 112 if args.quick else args.ratio_size
    print(f"Params at num_classes={NUM_CLASSES}; GFLOPs per clip, 1 multiply-add = 1 FLOP\n")
    fidelity_table(sizes)
    ratio_table(ratio_size, (32, 48, 64, 132))
    substream_table(ratio_size)


if __name__ == "__main__":
    main()
