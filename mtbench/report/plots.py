"""The paper's figures, drawn from a store's successful cells.

Each function takes the frame of successful cells (see `frame.py`) and returns a matplotlib
Figure, or raises `PlotSkipped` with the reason when the store lacks what the plot needs, so no
chart is ever empty. With `compare`, the paper's numbers for the same configurations are drawn
as hollow markers beside the measured (filled) ones.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mtbench.report.breakdown_plots import BREAKDOWN_PLOTS
from mtbench.report.compare import median_interval, seed_interval
from mtbench.report.frame import DURATION_BUCKETS, DURATION_COLUMNS, workload
from mtbench.report.paper import matched_paper, paper_dataset
from mtbench.report.style import (
    COLUMN_WIDTH,
    LINESTYLES,
    MARKERS,
    MAX_LABELS,
    PALETTE,
    family_styles,
    figure,
    labels_to_draw,
    place_labels,
    styled,
)

GFLOPS_LABEL = "GFLOPs per clip (1 MAC = 1 FLOP)"
PARAMS_LABEL = "Parameters (M)"
LATENCY_LABEL = "Forward latency per clip (ms)"
MAX_AREA = 320.0  # pt², the marker area of the largest model in a plot


class PlotSkipped(Exception):
    """The store lacks what a plot needs; the message says what."""


def _paper_handle() -> Line2D:
    """Legend entry for the paper's points: hollow markers beside the measured (filled) ones."""
    return Line2D(
        [], [], ls="", marker="o", markerfacecolor="none", color="#555555", label="paper",
        markersize=5,
    )  # fmt: skip


def _rows_with(frame: pd.DataFrame, columns: list[str], reason: str) -> pd.DataFrame:
    rows = frame.dropna(subset=columns)
    if rows.empty:
        raise PlotSkipped(reason)
    return rows


def _prepared(frame: pd.DataFrame, compare: bool) -> pd.DataFrame:
    return matched_paper(frame) if compare else frame


def _areas(params: pd.Series, largest: float) -> np.ndarray:
    """Marker area proportional to params; a cell without a count gets a small fixed marker."""
    return np.where(params.notna(), MAX_AREA * params / largest, 12.0)


def _size_handles(largest: float) -> list[Line2D]:
    """Legend entries for two reference sizes (a round number near the largest and a quarter
    of it), so the area encoding can be read."""
    top = float(f"{largest:.1g}")
    return [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            color="#999999",
            label=f"{v:g} M params",
            markersize=np.sqrt(MAX_AREA * v / largest),
        )
        for v in (top / 4, top)
    ]


def _family_scatter(
    ax: Axes, rows: pd.DataFrame, x: str, y: str, styles: dict, sizes: np.ndarray | None = None
) -> None:
    """Filled markers per family; hollow paper markers and a dotted link where `paper_<x>` and
    `paper_<y>` exist."""
    for family, (colour, marker) in styles.items():
        mask = (rows["family"] == family).to_numpy()
        if not mask.any():
            continue
        part = rows[mask]
        size = sizes[mask] if sizes is not None else 22.0
        ax.scatter(
            part[x],
            part[y],
            s=size,
            color=colour,
            marker=marker,
            alpha=0.85,
            edgecolors="white",
            linewidths=0.5,
            label=family,
            zorder=3,
        )
        spread = part.get(f"{y}_std")
        if spread is not None and spread.notna().any():
            # mean over training seeds, with its 95% Student-t interval (as `mtbench compare`)
            half = [seed_interval(sd, n) for sd, n in zip(spread, part["n_seeds"], strict=True)]
            ax.errorbar(part[x], part[y], yerr=half, fmt="none", ecolor=colour,
                        elinewidth=0.8, capsize=2, zorder=2)  # fmt: skip
        paired = (
            part.dropna(subset=[f"paper_{x}", f"paper_{y}"])
            if f"paper_{x}" in part and f"paper_{y}" in part
            else part.iloc[:0]
        )
        if len(paired):
            psize = size[paired.index.map(part.index.get_loc)] if sizes is not None else 22.0
            ax.scatter(
                paired[f"paper_{x}"],
                paired[f"paper_{y}"],
                s=psize,
                facecolors="none",
                edgecolors=colour,
                marker=marker,
                linewidths=0.9,
                zorder=3,
            )
            for row in paired.itertuples():
                ax.plot(
                    [getattr(row, x), getattr(row, f"paper_{x}")],
                    [getattr(row, y), getattr(row, f"paper_{y}")],
                    color=colour,
                    lw=0.6,
                    ls=":",
                    zorder=2,
                )


def _paper_obstacles(rows: pd.DataFrame, x: str, y: str) -> list[tuple[float, float]]:
    """Hollow paper markers and points along the dotted links to them, for `place_labels`."""
    if f"paper_{x}" not in rows or f"paper_{y}" not in rows:
        return []
    paired = rows.dropna(subset=[x, y, f"paper_{x}", f"paper_{y}"])
    return [
        (mx + t * (px - mx), my + t * (py - my))
        for mx, my, px, py in zip(
            paired[x], paired[y], paired[f"paper_{x}"], paired[f"paper_{y}"], strict=True
        )
        for t in (0.25, 0.5, 0.75, 1.0)
    ]


def _label(
    ax: Axes, panel: pd.DataFrame, x: str, y: str, maximize_y: bool, areas: np.ndarray | None = None
) -> None:
    """Text labels for the points a reader can read them on (see `labels_to_draw`); every
    marker, labelled or not, is kept clear of."""
    chosen = labels_to_draw(panel[x], panel[y], panel["family"] != "mtnet", maximize_y)
    place_labels(
        ax, panel[x], panel[y], panel["label"], areas, _paper_obstacles(panel, x, y), chosen
    )


def _few_labels_handle(points_per_panel: float) -> list[Line2D]:
    """A legend line saying which points carry labels, when not all of them do."""
    if points_per_panel <= MAX_LABELS:
        return []
    text = "labelled: Pareto front and baselines; every cell in index.html"
    return [Line2D([], [], ls="", marker="", label=text)]


def _legend_below(fig: Figure, handles: list) -> None:
    """One legend under the panels, as many columns as the figure's width allows."""
    longest = max((len(h.get_label()) for h in handles), default=0)
    ncols = (2 if longest > 14 else 3) if fig.get_figwidth() <= COLUMN_WIDTH else 5
    fig.legend(
        handles=handles, loc="outside lower center", ncols=min(len(handles), ncols), frameon=False
    )


def _legend(
    fig: Figure, styles: dict, families: pd.Series, extra: list[Line2D], paper_shown: bool
) -> None:
    present = set(families)
    handles = [
        Line2D([], [], ls="", marker=m, color=c, label=f, markersize=5)
        for f, (c, m) in styles.items()
        if f in present
    ]
    if paper_shown:
        handles += [
            Line2D([], [], ls="", marker="o", color="#555555", label="measured", markersize=5),
            _paper_handle(),
        ]
    _legend_below(fig, handles + extra)


def _workload_title(rows: pd.DataFrame, note: str = "") -> str:
    """Device, dtype, batch and input: latency means nothing without them. Wrapped to fit a
    column-wide figure."""
    inputs = ", ".join(dict.fromkeys(rows["input"]))
    return textwrap.fill(f"{workload(rows)}, input {inputs} (T×H×W){note}", 64)


def _accuracy_label(dataset: str) -> str:
    name = paper_dataset(dataset)
    return f"{name} top-1 accuracy (%)" if name else "Top-1 accuracy (%)"


@styled
def accuracy_vs_gflops(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """Figure 5 of the paper: top-1 against GFLOPs, marker area proportional to params, one
    panel per sub-stream setting g (baselines appear in every panel) and one row per dataset."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["top1", "gflops"], "no cell has both top-1 accuracy and GFLOPs")
    datasets = list(dict.fromkeys(rows["dataset"]))
    gs = sorted(rows["g"].dropna().unique())
    panels = gs if len(gs) > 1 else [None]
    fig, axes = figure(ncols=len(panels), nrows=len(datasets), sharey=True)
    styles = family_styles(frame["family"])
    largest = float(
        np.nanmax([rows["params_m"].max(), rows.get("paper_params_m", rows["params_m"]).max()])
    )
    for i, dataset in enumerate(datasets):
        for j, g in enumerate(panels):
            ax = axes[i][j]
            panel = rows[rows["dataset"] == dataset]
            if g is not None:
                panel = panel[(panel["g"] == g) | panel["g"].isna()]
                ax.set_title(
                    "no sub-streams (g = 1)" if g == 1 else f"{g:g} sub-streams (g = {g:g})"
                )
            _family_scatter(ax, panel, "gflops", "top1", styles, _areas(panel["params_m"], largest))
            ax.set_xlabel(GFLOPS_LABEL)
            if j == 0:
                ax.set_ylabel(_accuracy_label(dataset))
            ax.margins(0.15)
    shown = bool(_paper_obstacles(rows, "gflops", "top1"))
    extra = _size_handles(largest) + _few_labels_handle(len(rows) / len(datasets) / len(panels))
    _legend(fig, styles, rows["family"], extra, shown)
    fig.canvas.draw()  # final layout before labels are placed
    for i, dataset in enumerate(datasets):
        for j, g in enumerate(panels):
            panel = rows[rows["dataset"] == dataset]
            if g is not None:
                panel = panel[(panel["g"] == g) | panel["g"].isna()]
            areas = _areas(panel["params_m"], largest)
            _label(axes[i][j], panel, "gflops", "top1", True, areas)
    return fig


@styled
def accuracy_vs_latency(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """Figure 6 of the paper: top-1 against per-clip forward latency; the title names the
    device and input, since latency means nothing without them."""
    frame = _prepared(frame, compare)
    rows = _rows_with(
        frame, ["top1", "lat_fwd_ms"], "no cell has both top-1 accuracy and forward latency"
    )
    datasets = list(dict.fromkeys(rows["dataset"]))
    fig, axes = figure(ncols=len(datasets))
    styles = family_styles(frame["family"])
    for ax, dataset in zip(axes[0], datasets, strict=True):
        panel = rows[rows["dataset"] == dataset]
        _family_scatter(ax, panel, "lat_fwd_ms", "top1", styles)
        ax.set_xlabel(LATENCY_LABEL)
        ax.set_ylabel(_accuracy_label(dataset))
        ax.margins(0.15)
    shown = bool(_paper_obstacles(rows, "lat_fwd_ms", "top1"))
    note = "; paper: Table 3 on a GPU, input not stated" if shown else ""
    fig.suptitle(_workload_title(rows, note), fontsize=7.5)
    _legend(fig, styles, rows["family"], _few_labels_handle(len(rows) / len(datasets)), shown)
    fig.canvas.draw()  # final layout before labels are placed
    for ax, dataset in zip(axes[0], datasets, strict=True):
        _label(ax, rows[rows["dataset"] == dataset], "lat_fwd_ms", "top1", True)
    return fig


def _spread(rows: pd.DataFrame, stem: str) -> np.ndarray:
    """The 95% bootstrap interval of each median (the one `mtbench compare` puts on ratios)
    as error-bar lengths below and above it; 0 where the record kept no raw repeats."""
    bars = np.zeros((2, len(rows)))
    for i, (median, samples) in enumerate(
        zip(rows[f"{stem}_ms"], rows[f"{stem}_samples"], strict=True)
    ):
        interval = median_interval(samples) if pd.notna(median) else None
        if interval is not None:
            bars[:, i] = max(median - interval[0], 0.0), max(interval[1] - median, 0.0)
    return bars


@styled
def latency_bars(frame: pd.DataFrame, compare: bool = False, part: str = "") -> Figure:
    """Table 3's F and B columns as bars per model: forward and forward+backward medians, with
    the 95% bootstrap interval of each median as error bars. `part` names the page of a
    split chart in its title."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["lat_fwd_ms"], "no cell has a forward latency")
    n = len(rows)
    # 0.28 in per model, packed closer beyond 28 models so that MAX_BARS fit on a page
    fig, axes = figure(height=max(2.0, 0.9 + min(0.28 * n, PAGE_BARS_HEIGHT)))
    ax = axes[0][0]
    y = np.arange(n)[::-1].astype(float)
    height = 0.38
    ax.barh(
        y + height / 2,
        rows["lat_fwd_ms"],
        height,
        xerr=_spread(rows, "lat_fwd"),
        color=PALETTE[0],
        label="forward (F)",
        error_kw={"lw": 0.7, "capsize": 1.5},
    )
    ax.barh(
        y - height / 2,
        rows["lat_fwdbwd_ms"].fillna(0),
        height,
        xerr=_spread(rows, "lat_fwdbwd"),
        color=PALETTE[1],
        label="forward + backward (B)",
        error_kw={"lw": 0.7, "capsize": 1.5},
    )
    if compare and rows[["paper_lat_fwd_ms", "paper_lat_fwdbwd_ms"]].notna().any(axis=None):
        ax.scatter(
            rows["paper_lat_fwd_ms"],
            y + height / 2,
            marker="D",
            s=14,
            facecolors="none",
            edgecolors="black",
            linewidths=0.8,
            zorder=3,
            label="paper (Table 3, GPU)",
        )
        ax.scatter(
            rows["paper_lat_fwdbwd_ms"],
            y - height / 2,
            marker="D",
            s=14,
            facecolors="none",
            edgecolors="black",
            linewidths=0.8,
            zorder=3,
        )
    ax.set_yticks(y, rows["label"])
    ax.grid(axis="y", visible=False)
    unknown = int((rows["lat_fwd_samples"].map(len) < 2).sum())
    note = f"; none for {unknown} without raw repeats" if unknown else ""
    ax.set_xlabel(f"Latency per clip (ms): median, 95% bootstrap interval{note}")
    title = _workload_title(rows)
    fig.suptitle(f"{part}\n{title}" if part else title, fontsize=7.5)
    handles, labels = ax.get_legend_handles_labels()
    order = ["forward (F)", "forward + backward (B)", "paper (Table 3, GPU)"]
    _legend_below(fig, [handles[labels.index(name)] for name in order if name in labels])
    return fig


MAX_BARS = 50  # models per latency page: 0.16 in each, 8.9 in in all, within a page
PAGE_BARS_HEIGHT = 8.0  # inches of bars at most


def latency_pages(frame: pd.DataFrame, compare: bool = False) -> Figure | list[tuple[str, Figure]]:
    """`latency_bars`, split when a store has more models than a page holds: one page per
    family, execution mode, dtype and batch, each cut into pages of at most `MAX_BARS`
    models. Returns the one figure, or (name, figure) per page."""
    rows = _rows_with(frame, ["lat_fwd_ms"], "no cell has a forward latency")
    if len(rows) <= MAX_BARS:
        return latency_bars(rows, compare)
    pages = []
    batch = rows["batch_size"].map(lambda b: f"batch {b:g}" if b == b else "batch ?")
    keys = [rows["family"], rows["mode"], rows["dtype"], batch]
    for (family, mode, dtype, size), group in rows.groupby(keys, sort=False):
        count = -(-len(group) // MAX_BARS)
        for k in range(count):
            chunk = group.iloc[k * MAX_BARS : (k + 1) * MAX_BARS]
            page = f" ({k + 1} of {count})" if count > 1 else ""
            name = f"{family}, {mode}, {dtype}, {size}{page}"
            pages.append((name, latency_bars(chunk, compare, part=name)))
    return pages


ABLATION_METRICS = [
    ("params_m", PARAMS_LABEL),
    ("gflops", GFLOPS_LABEL),
    ("top1", "Top-1 accuracy (%)"),
]


@styled
def ablation(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """Params, GFLOPs and (where present) top-1 against the channel ratio r, one line per depth
    and sub-stream setting; against g instead when r does not vary."""
    frame = _prepared(frame, compare)
    mt = frame[(frame["family"] == "mtnet")].dropna(subset=["r", "g"])
    if mt["r"].nunique() >= 2:
        axis, other = "r", "g"
    elif mt["g"].nunique() >= 2:
        axis, other = "g", "r"
    else:
        raise PlotSkipped("no MTNet cells that vary r or g")
    # Accuracy on different datasets does not share an axis: top-1 only from a single dataset.
    datasets = list(dict.fromkeys(mt.dropna(subset=["top1"])["dataset"]))
    metrics = [
        (c, _accuracy_label(datasets[0]) if c == "top1" else lab)
        for c, lab in ABLATION_METRICS
        if mt[c].notna().any() and (c != "top1" or len(datasets) == 1)
    ]
    paper_shown = False
    fig, axes = figure(ncols=len(metrics), width=COLUMN_WIDTH * min(len(metrics), 2))
    models = list(dict.fromkeys(mt["model"]))
    others = sorted(mt[other].unique())
    for ax, (column, label) in zip(axes[0], metrics, strict=True):
        for k, model in enumerate(models):
            for s, value in enumerate(others):
                line = mt[(mt["model"] == model) & (mt[other] == value)]
                line = line.dropna(subset=[column]).sort_values(axis)
                if line.empty:
                    continue
                colour, marker = PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]
                name = f"{model} {other}={value:g}"
                ax.plot(
                    line[axis],
                    line[column],
                    color=colour,
                    marker=marker,
                    markersize=3.5,
                    ls=LINESTYLES[s % len(LINESTYLES)],
                    lw=1.1,
                    label=name,
                )
                if compare and line[f"paper_{column}"].notna().any():
                    paper_shown = True
                    ax.scatter(
                        line[axis],
                        line[f"paper_{column}"],
                        marker=marker,
                        s=22,
                        facecolors="none",
                        edgecolors=colour,
                        linewidths=0.9,
                        zorder=3,
                    )
        ax.set_xlabel("channel ratio r (short-stream share)" if axis == "r" else "sub-streams g")
        ax.set_ylabel(label)
        values = sorted(mt[axis].unique())
        if axis == "g":
            ax.set_xscale("log", base=2)
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    handles = axes[0][0].get_legend_handles_labels()[0]
    if paper_shown:
        handles.append(_paper_handle())
    _legend_below(fig, handles)
    return fig


@styled
def complexity(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """The measure-only view: GFLOPs against params, and forward latency against GFLOPs where
    latency exists; useful before any model is trained."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["params_m", "gflops"], "no cell has both params and GFLOPs")
    timed = rows.dropna(subset=["lat_fwd_ms"])
    panels = [("params_m", "gflops", PARAMS_LABEL, GFLOPS_LABEL, rows)]
    if not timed.empty:
        panels.append(("gflops", "lat_fwd_ms", GFLOPS_LABEL, LATENCY_LABEL, timed))
    fig, axes = figure(ncols=len(panels))
    styles = family_styles(frame["family"])
    for ax, (x, y, xlabel, ylabel, part) in zip(axes[0], panels, strict=True):
        _family_scatter(ax, part, x, y, styles)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.margins(0.12)
    if not timed.empty:
        axes[0][-1].set_title(_workload_title(timed), fontsize=7.5)
    shown = any(_paper_obstacles(part, x, y) for x, y, _, _, part in panels)
    _legend(fig, styles, rows["family"], _few_labels_handle(len(rows)), shown)
    fig.canvas.draw()  # final layout before labels are placed
    for ax, (x, y, _, _, part) in zip(axes[0], panels, strict=True):
        _label(ax, part, x, y, False)
    return fig


@styled
def training(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """Training loss and training top-1 against epoch, one line per cell (seeds averaged)."""
    rows = frame[frame["train_curve"].map(len) > 0]
    if rows.empty:
        raise PlotSkipped("no cell was trained")
    fig, axes = figure(ncols=2)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(rows))]
    for (_, row), colour, i in zip(rows.iterrows(), colours, range(len(rows)), strict=True):
        epochs = [p["epoch"] for p in row["train_curve"]]
        style = {"color": colour, "ls": LINESTYLES[i % len(LINESTYLES)], "lw": 1.0,
                 "marker": MARKERS[i % len(MARKERS)], "markersize": 3}  # fmt: skip
        axes[0][0].plot(
            epochs, [p["loss"] for p in row["train_curve"]], label=row["label"], **style
        )
        axes[0][1].plot(epochs, [p["train_top1"] for p in row["train_curve"]], **style)
    axes[0][0].set_ylabel("Training loss")
    axes[0][1].set_ylabel("Training top-1 (%)")
    for ax in axes[0]:
        ax.set_xlabel("Epoch")
    _legend_below(fig, axes[0][0].get_legend_handles_labels()[0])
    return fig


def duration_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (seeds already averaged by the store) and bucket: mean, std and n."""
    rows = frame.dropna(subset=DURATION_COLUMNS, how="all")
    if rows.empty:
        raise PlotSkipped("no cell has top-1 by duration (top1_by_duration: multiduration data)")
    return pd.DataFrame(
        [
            {
                "group": row["label"],
                "bucket": column.removeprefix("top1_"),
                "mean": row[column],
                "std": 0.0 if pd.isna(row[f"{column}_std"]) else row[f"{column}_std"],
                "count": row["n_seeds"],
            }
            for _, row in rows.iterrows()
            for column in DURATION_COLUMNS
            if pd.notna(row[column])
        ]
    )


@styled
def accuracy_by_duration(frame: pd.DataFrame, compare: bool = False) -> Figure:
    """The multiduration study's plot: top-1 per duration bucket (short, medium, long), one
    line per model configuration, mean over seeds with ±1 std error bars."""
    summary = duration_summary(frame)
    groups = list(dict.fromkeys(summary["group"]))
    fig, axes = figure(height=3.4)
    ax = axes[0][0]
    x = np.arange(len(DURATION_BUCKETS))
    offsets = np.linspace(-0.15, 0.15, len(groups)) if len(groups) > 1 else [0.0]
    for k, (group, dx) in enumerate(zip(groups, offsets, strict=True)):
        part = summary[summary["group"] == group].set_index("bucket").reindex(DURATION_BUCKETS)
        seeds = int(part["count"].max())
        ax.errorbar(
            x + dx,
            part["mean"],
            yerr=part["std"],
            color=PALETTE[k % len(PALETTE)],
            marker=MARKERS[k % len(MARKERS)],
            ls=LINESTYLES[(k // len(PALETTE)) % len(LINESTYLES)],
            markersize=3.5,
            lw=1.0,
            capsize=2,
            label=f"{group} (n={seeds})",
        )
    ax.set_xticks(x, DURATION_BUCKETS)
    ax.set_xlabel("Action duration bucket")
    ax.set_ylabel("Top-1 (%), mean ± std over seeds")
    _legend_below(fig, ax.get_legend_handles_labels()[0])
    return fig


PLOTS: dict[str, Callable[[pd.DataFrame, bool], Figure | list[tuple[str, Figure]]]] = {
    "accuracy-gflops": accuracy_vs_gflops,
    "accuracy-latency": accuracy_vs_latency,
    "accuracy-duration": accuracy_by_duration,
    "training": training,
    "latency": latency_pages,
    "ablation": ablation,
    "complexity": complexity,
    **BREAKDOWN_PLOTS,
}
