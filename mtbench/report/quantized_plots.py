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


def accuracy_vs_latency_int8(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Top-1 against latency, an arrow from each float32 point to its INT8 or bfloat16 point,
    one panel per runtime; the label says which toolchain made an INT8 network."""
    pairs = _pairs(frame)
    if not pairs:
        raise PlotSkipped("no INT8 or bfloat16 cell with a gate ([data]) and its float32 cell")
    runtimes = list(dict.fromkeys(q["runtime"] for _, q in pairs))
    fig, axes = figure(ncols=len(runtimes))
    styles = styles or family_styles(frame["family"])
    for ax, runtime in zip(axes[0], runtimes, strict=True):
        for f32, q in (p for p in pairs if p[1]["runtime"] == runtime):
            colour, marker = styles.get(q["family"], ("grey", "o"))
            start = (f32["latency_fwd_ms"], f32["top1"])
            end = (q["latency_fwd_ms"], q["top1_as_run"])
            ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "color": colour})
            ax.scatter(*start, color=colour, marker=marker, facecolors="none")
            ax.scatter(*end, color=colour, marker=marker)
            ax.annotate(f"{q['label']} ({q['quantized_by'] or q['dtype']})", end, fontsize=5)
        ax.set_title(runtime, fontsize=8)
        ax.set_xlabel(LATENCY_LABEL)
        ax.set_ylabel("Top-1 (%): hollow float32, filled INT8 or bfloat16")
        ax.margins(0.15)
    return fig


QUANTIZED_PLOTS: dict[str, Callable[..., Figure]] = {
    "accuracy-latency-int8": accuracy_vs_latency_int8
}
