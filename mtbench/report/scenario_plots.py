"""The server's curve: p99 latency against the rate served, one line per server search cell
(each step a LoadGen run), the latency bound drawn across; a step over the bound hollow."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mtbench.report.style import PlotSkipped, Styles, figure, style_of, styled


@styled
def server_curve(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Each server search cell's steps: completed samples/s (x) against p99 latency (y)."""
    cells = frame[(frame["scenario"] == "server") & frame["scenario_run"].notna()]
    cells = cells[[bool((p or {}).get("search")) for p in cells["scenario_run"]]]
    if cells.empty:
        raise PlotSkipped("no server cell with search = true")
    fig, axes = figure()
    ax = axes[0][0]
    bounds = set()
    for _, cell in cells.iterrows():
        part = cell["scenario_run"]
        points = sorted(
            (p for p in part["search"]["curve"] if p["throughput"] and p["p99_ms"]),
            key=lambda p: p["throughput"],
        )
        colour, marker = style_of(styles or {}, cell["family"])
        label = f"{cell['label']} ({cell['runtime']})"
        xs, ys = [p["throughput"] for p in points], [p["p99_ms"] for p in points]
        ax.plot(xs, ys, color=colour, lw=1, label=label)
        for p in points:
            face = colour if p["passed"] else "none"
            ax.scatter(p["throughput"], p["p99_ms"], marker=marker, s=18, c=face, edgecolors=colour)
        bounds.add(part["settings"]["target_latency_ms"])
    for bound in sorted(bounds):
        ax.axhline(bound, color="black", lw=0.8, ls="--", label=f"p99 bound {bound:g} ms")
    ax.set_xlabel("completed queries per second (LoadGen server)")
    ax.set_ylabel("p99 latency per query (ms)")
    ax.set_title("Server: p99 latency against throughput")
    hollow = Line2D([], [], ls="", marker="o", mfc="none", mec="grey", label="step over the bound")
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], hollow], fontsize=6)
    return fig


SCENARIO_PLOTS: dict[str, Callable[..., Figure]] = {"server-curve": server_curve}
