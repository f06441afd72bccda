"""The server's curve: p99 latency against the rate served, one line per server search cell
(each step a LoadGen run), the latency bound drawn across; a step over the bound hollow.
A family keeps the report's colour; the runtime sets the line's dash and a family's cells
(g = 1 and 8, say) their own markers, so every cell's curve can be told apart."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mtbench.report.style import PAGE_WIDTH, PlotSkipped, Styles, figure, style_of, styled

DASHES = {"pytorch": "-"}  # any other runtime: dashed
CELL_MARKERS = "osD^vP"  # a family's cells in order


@styled
def server_curve(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Each server search cell's steps: completed samples/s (x) against p99 latency (y)."""
    cells = frame[(frame["scenario"] == "server") & frame["scenario_run"].notna()]
    cells = cells[[bool((p or {}).get("search")) for p in cells["scenario_run"]]]
    if cells.empty:
        raise PlotSkipped("no server cell with search = true")
    fig, axes = figure(width=PAGE_WIDTH)
    ax = axes[0][0]
    bounds = set()
    kinds: dict[str, list[str]] = {}  # family -> its cells' labels without the runtime
    handles: list[Line2D] = []
    for _, cell in cells.iterrows():
        part = cell["scenario_run"]
        points = sorted(
            (p for p in part["search"]["curve"] if p["throughput"] and p["p99_ms"]),
            key=lambda p: p["throughput"],
        )
        colour, _ = style_of(styles or {}, cell["family"])
        kind = " ".join(cell["label"].replace(cell["runtime"], "").split())
        family = kinds.setdefault(cell["family"], [])
        if kind not in family:
            family.append(kind)
        marker = CELL_MARKERS[family.index(kind) % len(CELL_MARKERS)]
        dash = DASHES.get(cell["runtime"], "--")
        label = cell["label"]
        label += "" if cell["runtime"] in label else f" ({cell['runtime']})"
        xs, ys = [p["throughput"] for p in points], [p["p99_ms"] for p in points]
        ax.plot(xs, ys, color=colour, lw=1, ls=dash, label=label)
        handles.append(Line2D([], [], color=colour, ls=dash, marker=marker, ms=4, label=label))
        for p in points:
            face = colour if p["passed"] else "none"
            ax.scatter(p["throughput"], p["p99_ms"], marker=marker, s=18, c=face, edgecolors=colour)
        bounds.add(part["settings"]["target_latency_ms"])
    for bound in sorted(bounds):
        handles.append(
            ax.axhline(bound, color="black", lw=0.8, ls=":", label=f"p99 bound {bound:g} ms")
        )
    ax.set_xscale("log")
    ax.set_xlabel("completed queries per second (LoadGen server), log scale")
    ax.set_ylabel("p99 latency per query (ms)")
    ax.set_title("Server: p99 latency against throughput")
    hollow = Line2D(
        [], [], ls="", marker="o", ms=4, mfc="none", mec="grey", label="step over the bound"
    )
    ax.legend(handles=[*handles, hollow], fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


SCENARIO_PLOTS: dict[str, Callable[..., Figure]] = {"server-curve": server_curve}
