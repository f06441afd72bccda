"""What reduced precision costs and buys: each INT8 and bfloat16 cell's gated top-1 against its
forward latency, with an arrow from its float32 cell of the same model, runtime and dataset
(docs/deploy.md).

The float32 point is the same runtime's float32 cell, else PyTorch eager's. Only cells with a
gate are drawn (their accuracy was measured on the cell's own data).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from mtbench.report.style import PlotSkipped, Styles, family_styles, figure

LATENCY_LABEL = "Forward latency per clip (ms)"


def _pairs(frame: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """(float32 row, reduced row) of each gated cell and its float32 cell: of the same runtime
    where the store has it, else PyTorch eager's."""
    ok = frame[frame["status"] == "ok"]
    same = ["model", "kwargs", "dataset", "input", "machine"]

    def key(row: pd.Series, runtime: str) -> tuple:
        return (runtime, *(str(row[c]) for c in same))

    floats = {key(r, r["runtime"]): r for _, r in ok[ok["dtype"] == "float32"].iterrows()}
    gated = ok[(ok["dtype"] != "float32") & ok["top1_as_run"].notna()]
    pairs = []
    for _, row in gated.iterrows():
        found = floats.get(key(row, row["runtime"]), floats.get(key(row, "pytorch")))
        if found is not None:
            pairs.append((found, row))
    return pairs


# How a point's label names what made it: the toolchain, or the dtype for bfloat16.
TAGS = {
    "nncf": "nncf",
    "onnxruntime.quantization": "ort",
    "torchao pt2e (x86 inductor)": "pt2e",
    "torch.ao fx": "fx",
}


def _tag(row: pd.Series) -> str:
    by = row["quantized_by"]
    return TAGS.get(by, by) if by else "bf16" if row["dtype"] == "bfloat16" else row["dtype"]


def accuracy_vs_latency_int8(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Top-1 against latency (log scale), an arrow from each float32 point to its INT8 or
    bfloat16 point, one panel per runtime; colour and marker the family (the legend), the
    label what made the reduced network (nncf, ort, pt2e, fx, bf16)."""
    pairs = _pairs(frame)
    if not pairs:
        raise PlotSkipped("no INT8 or bfloat16 cell with a gate ([data]) and its float32 cell")
    runtimes = list(dict.fromkeys(q["runtime"] for _, q in pairs))
    fig, axes = figure(ncols=len(runtimes), height=2.6, sharey=True)
    styles = styles or family_styles(frame["family"])
    for ax, runtime in zip(axes[0], runtimes, strict=True):
        for f32, q in (p for p in pairs if p[1]["runtime"] == runtime):
            colour, marker = styles.get(q["family"], ("grey", "o"))
            start = (f32["latency_fwd_ms"], f32["top1"])
            end = (q["latency_fwd_ms"], q["top1_as_run"])
            ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "color": colour, "lw": 0.6})
            ax.scatter(*start, color=colour, marker=marker, facecolors="none", s=14)
            ax.scatter(*end, color=colour, marker=marker, s=14, label=q["family"])
            ax.annotate(_tag(q), end, fontsize=5, xytext=(2, 2), textcoords="offset points")
        ax.set_title(runtime, fontsize=8)
        ax.set_xscale("log")
        ax.margins(0.15)
    fig.supxlabel(LATENCY_LABEL, fontsize=8)
    axes[0][0].set_ylabel("Top-1 (%)")
    fig.suptitle("hollow: float32; filled: INT8 or bfloat16", fontsize=7)
    handles = dict(zip(*reversed(axes[0][-1].get_legend_handles_labels()), strict=True))
    fig.legend(handles.values(), handles.keys(), fontsize=5, loc="outside right center")
    return fig


QUANTIZED_PLOTS: dict[str, Callable[..., Figure]] = {
    "accuracy-latency-int8": accuracy_vs_latency_int8
}
