"""Figures of where the cost goes, from the breakdowns a suite stored (`measure = [...,
"breakdown"]`): the share of FLOPs against the share of time per module, and rooflines of
modules and of kinds of operator under the machine's measured ceilings.

Each function takes the frame of successful cells and returns a Figure, or raises
PlotSkipped when no cell has a breakdown with times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mtbench import numbers
from mtbench.measure.breakdown_rows import (
    CEILING_LABELS,
    ceiling_verdict,
    derived_rows,
    peak_names,
    peaks,
)
from mtbench.report.style import PlotSkipped, Styles, style_of


def _with_breakdown(frame: pd.DataFrame) -> list[tuple[str, dict[str, Any], dict | None, str]]:
    """(label, breakdown, ceilings, family) of each cell whose breakdown has forward times; a
    label is marked when the machine was busy while they were taken."""
    out = []
    for _, row in frame.iterrows():
        b = row.get("breakdown")
        if isinstance(b, dict) and b.get("modules") and b.get("fwd_ms"):
            label = numbers.marked(row["label"], b.get("verdict") == "disturbed")
            ceilings = row.get("ceilings") if isinstance(row.get("ceilings"), dict) else None
            out.append((label, b, ceilings, row.get("family") or ""))
    if not out:
        raise PlotSkipped('no cell with a breakdown (measure = [..., "breakdown"])')
    return out


def _mark_note(cells: list[tuple]) -> str:
    """The disturbed mark's one wording, under a title where a label carries the mark."""
    if not any(b.get("verdict") == "disturbed" for _, b, _, _ in cells):
        return ""
    return f"\n{numbers.DISTURBED_MARK} {numbers.DISTURBED_WORDS}"


def flop_time_shares(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Per model, each module's share of the FLOPs beside its share of the forward time:
    where the two bars differ, the FLOPs do not say where the time goes."""
    cells = _with_breakdown(frame)
    fig = Figure(figsize=(9, 1.2 + 2.6 * len(cells)), layout="constrained")
    axes = fig.subplots(len(cells), 1, squeeze=False)[:, 0]
    for ax, (label, b, _, _) in zip(axes, cells, strict=True):
        rows = [r for r in derived_rows(b, "module", None) if r["gflops"] or r["fwd_ms"]]
        total = sum(r["gflops"] or 0 for r in rows) or 1.0
        y = np.arange(len(rows))
        ax.barh(y - 0.2, [100 * (r["gflops"] or 0) / total for r in rows], 0.4, label="FLOPs")
        ax.barh(y + 0.2, [100 * (r["share"] or 0) for r in rows], 0.4, label="forward time")
        ax.set_yticks(y, [r["module"] for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share (%)")
        ax.set_title(f"{label}: {numbers.latency(b['fwd_ms'])} profiled forward", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Share of FLOPs (fvcore) vs share of forward time, by module" + _mark_note(cells))
    return fig


def _ceilings_label(ceilings: dict[str, Any]) -> str:
    """The roof's legend: which ceilings drew it, and the verdict on each."""
    compute, memory = peak_names(ceilings)
    return (
        f"ceilings: {ceilings[compute]:.0f} GFLOP/s ({CEILING_LABELS[compute]},"
        f" {ceiling_verdict(ceilings, compute)}), {ceilings[memory]:.1f} GB/s"
        f" ({CEILING_LABELS[memory]}, {ceiling_verdict(ceilings, memory)})"
    )


def _roofline(frame: pd.DataFrame, by: str, title: str, styles: Styles | None) -> Figure:
    """Rows as points, each model in its family's colour and marker (the report's)."""
    cells = _with_breakdown(frame)
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    ceilings = next((c for _, _, c, _ in cells if c and "error" not in c), None)
    xs: list[float] = []
    for label, b, _, family in cells:
        colour, marker = style_of(styles or {}, family)
        rows = [r for r in derived_rows(b, by, ceilings) if r["intensity"] and r["gflop_s"]]
        name = "module" if by == "module" else "kind"
        x = [r["intensity"] for r in rows]
        xs += x
        points = ax.scatter(
            x,
            [r["gflop_s"] for r in rows],
            s=22,
            label=label,
            alpha=0.8,
            color=colour,
            marker=marker,
        )
        if by == "op" or len(cells) == 1:
            for r in rows:
                ax.annotate(
                    r[name],
                    (r["intensity"], r["gflop_s"]),
                    fontsize=6,
                    color=points.get_facecolor()[0],
                    xytext=(3, 2),
                    textcoords="offset points",
                )
    if not xs:
        raise PlotSkipped("no row with both FLOPs and time")
    ax.set_xscale("log")
    ax.set_yscale("log")
    peak = peaks(ceilings)
    if peak is not None:
        grid = np.geomspace(min(xs) / 2, max(xs) * 2, 200)
        ax.plot(
            grid,
            np.minimum(peak[0], peak[1] * grid),
            color="black",
            lw=1.2,
            label=_ceilings_label(ceilings),
        )
    ax.set_xlabel("arithmetic intensity (FLOPs per byte read and written; 1 MAC = 1 FLOP)")
    ax.set_ylabel("achieved GFLOP/s (profiled forward)")
    ax.set_title(title + _mark_note(cells))
    ax.legend(fontsize=7)
    return fig


def roofline_modules(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Each module at the breakdown's depth as a point under the measured ceilings."""
    return _roofline(frame, "module", "Roofline of modules under this machine's ceilings", styles)


def roofline_ops(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Each kind of operator as a point under the measured ceilings."""
    title = "Roofline of kinds of operator under this machine's ceilings"
    return _roofline(frame, "op", title, styles)


BREAKDOWN_PLOTS: dict[str, Callable[..., Figure]] = {
    "breakdown-shares": flop_time_shares,
    "breakdown-roofline": roofline_modules,
    "breakdown-ops": roofline_ops,
}
