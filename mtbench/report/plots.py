"""The paper's figures, drawn from a store's successful cells.

Each function takes the frame of successful cells (see `frame.py`) and returns a matplotlib
Figure, or raises `PlotSkipped` with the reason when the store lacks what the plot needs, so no
chart is ever empty. With `compare`, the paper's numbers for the same configurations are drawn
as hollow markers beside the measured (filled) ones.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mtbench.numbers import DISTURBED_WORDS, SEED_SPREAD
from mtbench.report.breakdown_plots import BREAKDOWN_PLOTS
from mtbench.report.compare import median_interval
from mtbench.report.frame import DURATION_COLUMNS, TOP1_BY_DURATION_KEYS, workload
from mtbench.report.paper import matched_paper, paper_dataset
from mtbench.report.quantized_plots import QUANTIZED_PLOTS
from mtbench.report.scenario_plots import SCENARIO_PLOTS
from mtbench.report.style import (
    COLUMN_WIDTH,
    LINESTYLES,
    MARKERS,
    MAX_LABELS,
    PlotSkipped,
    Styles,
    family_styles,
    figure,
    labels_to_draw,
    place_labels,
    shades,
    style_of,
    styled,
)

GFLOPS_LABEL = "GFLOPs per clip (1 MAC = 1 FLOP)"
PARAMS_LABEL = "Parameters (M)"
LATENCY_LABEL = "Forward latency per clip (ms)"
MAX_AREA = 320.0  # pt², the marker area of the largest model in a plot


@dataclass
class PlotOutcome:
    """One plot kind for one suite: the files written, or why it was skipped. Here, below
    both the builder that makes it and the page that shows it."""

    suite: str
    kind: str
    paths: list[Path]
    png: bytes | None = None
    skipped: str | None = None


def _paper_handle() -> Line2D:
    """Legend entry for the paper's points: hollow markers beside the measured (filled) ones."""
    return Line2D(
        [],
        [],
        ls="",
        marker="o",
        markerfacecolor="none",
        color="#555555",
        label="paper",
        markersize=5,
    )


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
    """Filled markers per family (hollow with a thick edge where a latency axis shows a
    disturbed timing); hollow paper markers and a dotted link where `paper_<x>` and
    `paper_<y>` exist."""
    for family, (colour, marker) in styles.items():
        mask = (rows["family"] == family).to_numpy()
        if not mask.any():
            continue
        part = rows[mask]
        size = sizes[mask] if sizes is not None else 22.0
        busy = _disturbed(part, x, y)
        ax.scatter(
            part[x],
            part[y],
            s=size,
            facecolors=["white" if b else colour for b in busy],  # alpha would blacken "none"
            marker=marker,
            alpha=0.85,
            edgecolors=[colour if b else "white" for b in busy],
            linewidths=[DISTURBED_EDGE if b else 0.5 for b in busy],
            label=family,
            zorder=3,
        )
        spread = part.get(f"{y}_std")
        if spread is not None and spread.notna().any():
            # mean over training seeds ± 1 std, as every table prints it (mtbench.numbers)
            seeds = zip(spread, part["n_seeds"], strict=True)
            half = [sd if n > 1 and pd.notna(sd) else 0.0 for sd, n in seeds]
            ax.errorbar(
                part[x],
                part[y],
                yerr=half,
                fmt="none",
                ecolor=colour,
                elinewidth=0.8,
                capsize=2,
                zorder=2,
            )
        _paper_points(ax, part, x, y, colour, marker, size, sizes is not None)


def _paper_points(
    ax: Axes,
    part: pd.DataFrame,
    x: str,
    y: str,
    colour: str,
    marker: str,
    size: np.ndarray | float,
    sized: bool,
) -> None:
    """The paper's figures of a family's cells, hollow, each linked to ours by a dotted line."""
    paired = (
        part.dropna(subset=[f"paper_{x}", f"paper_{y}"])
        if f"paper_{x}" in part and f"paper_{y}" in part
        else part.iloc[:0]
    )
    if not len(paired):
        return
    psize = size[paired.index.map(part.index.get_loc)] if sized else 22.0
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


DISTURBED_EDGE = 1.4  # a disturbed latency's hollow marker: its edge, thick enough to see
DISTURBED_HATCH = "xxxx"  # and its bar's hatching


def _disturbed(rows: pd.DataFrame, x: str, y: str) -> list[bool]:
    """Per row, whether a forward-latency axis among `x`, `y` shows a disturbed timing."""
    if "latency_fwd_ms" not in (x, y):
        return [False] * len(rows)
    return list(rows["latency_fwd_verdict"] == "disturbed")


def _disturbed_handle(rows: pd.DataFrame) -> list[Line2D]:
    if not (rows["latency_fwd_verdict"] == "disturbed").any():
        return []
    return [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            markerfacecolor="none",
            color="#555555",
            markeredgewidth=DISTURBED_EDGE,
            markersize=5,
            label=f"hollow: latency {DISTURBED_WORDS}",
        )
    ]


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
    if fig.get_figwidth() <= COLUMN_WIDTH:  # a label as long as a column's half gets a row
        ncols = 1 if longest > 30 else (2 if longest > 14 else 3)
    else:
        ncols = 2 if longest > 40 else 5
    fig.legend(
        handles=handles, loc="outside lower center", ncols=min(len(handles), ncols), frameon=False
    )


def _family_handles(styles: Styles, families: pd.Series) -> list[Line2D]:
    """One legend entry per family drawn in the figure, none for the report's other ones."""
    present = set(families)
    return [
        Line2D([], [], ls="", marker=m, color=c, label=f, markersize=5)
        for f, (c, m) in styles.items()
        if f in present
    ]


def _legend(
    fig: Figure, styles: Styles, families: pd.Series, extra: list[Line2D], paper_shown: bool
) -> None:
    handles = _family_handles(styles, families)
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


def _text_handle(text: str, **line: object) -> Line2D:
    """A legend entry that is a sentence (with a line sample when `line` styles one)."""
    return Line2D([], [], ls=line.pop("ls", ""), marker="", label=text, **line)


def _seed_bars_handle(rows: pd.DataFrame) -> list[Line2D]:
    """What the accuracy error bars are, when any are drawn: mean ± 1 std over seeds, as the
    tables print it (mtbench.numbers.SEED_SPREAD)."""
    seeds = rows.loc[rows["n_seeds"] > 1, "n_seeds"]
    if seeds.empty:
        return []
    counts = "-".join(f"{n:g}" for n in sorted({seeds.min(), seeds.max()}))
    return [_text_handle(f"bars: {SEED_SPREAD} ({counts} seeds)", ls="-", color="#555555", lw=0.8)]


def _chance(ax: Axes, panel: pd.DataFrame) -> list[Line2D]:
    """Chance level (100 / classes) as a dashed line on an accuracy axis where the records
    name one class count; the legend says it, and says so when it lies far below the data."""
    classes = panel["num_classes"].dropna().unique()
    if len(classes) != 1:
        return []
    level = 100.0 / classes[0]
    text = f"chance: 1/{classes[0]:g} = {level:.3g}%"
    low, high = panel["top1"].min(), panel["top1"].max()
    if level < low - max(2 * (high - low), 25.0):  # far below: a line would squash the data
        return [_text_handle(f"{text} (below the axis)")]
    ax.axhline(level, color="#777777", lw=0.7, ls="--", zorder=1)
    return [_text_handle(text, ls="--", color="#777777", lw=0.7)]


@styled
def accuracy_vs_gflops(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Figure 5 of the paper: top-1 against GFLOPs, marker area proportional to params, one
    panel per sub-stream setting g (baselines appear in every panel) and one row per dataset."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["top1", "gflops"], "no cell has both top-1 accuracy and GFLOPs")
    datasets = list(dict.fromkeys(rows["dataset"]))
    gs = sorted(rows["g"].dropna().unique())
    panels = gs if len(gs) > 1 else [None]
    fig, axes = figure(ncols=len(panels), nrows=len(datasets), sharey=True)
    styles = styles or family_styles(frame["family"])
    chance: dict[str, Line2D] = {}
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
            chance |= {h.get_label(): h for h in _chance(ax, panel)}
            ax.set_xlabel(GFLOPS_LABEL)
            if j == 0:
                ax.set_ylabel(_accuracy_label(dataset))
            ax.margins(0.15)
    shown = bool(_paper_obstacles(rows, "gflops", "top1"))
    extra = _size_handles(largest) + _seed_bars_handle(rows) + list(chance.values())
    extra += _few_labels_handle(len(rows) / len(datasets) / len(panels))
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
def accuracy_vs_latency(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """Figure 6 of the paper: top-1 against per-clip forward latency; the title names the
    device and input, since latency means nothing without them."""
    frame = _prepared(frame, compare)
    rows = _rows_with(
        frame, ["top1", "latency_fwd_ms"], "no cell has both top-1 accuracy and forward latency"
    )
    datasets = list(dict.fromkeys(rows["dataset"]))
    fig, axes = figure(ncols=len(datasets))
    styles = styles or family_styles(frame["family"])
    extra = _seed_bars_handle(rows) + _disturbed_handle(rows)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        panel = rows[rows["dataset"] == dataset]
        _family_scatter(ax, panel, "latency_fwd_ms", "top1", styles)
        extra += _chance(ax, panel)
        ax.set_xlabel(LATENCY_LABEL)
        ax.set_ylabel(_accuracy_label(dataset))
        ax.margins(0.15)
    shown = bool(_paper_obstacles(rows, "latency_fwd_ms", "top1"))
    note = "; paper: Table 3 on a GPU, input not stated" if shown else ""
    fig.suptitle(_workload_title(rows, note), fontsize=7.5)
    extra += _few_labels_handle(len(rows) / len(datasets))
    _legend(fig, styles, rows["family"], extra, shown)
    fig.canvas.draw()  # final layout before labels are placed
    for ax, dataset in zip(axes[0], datasets, strict=True):
        _label(ax, rows[rows["dataset"] == dataset], "latency_fwd_ms", "top1", True)
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


# The two timed passes: (column stem, legend name, paper column, hatch of its bars).
LATENCY_SERIES = (
    ("latency_fwd", "forward (F)", "paper_latency_fwd_ms", ""),
    ("latency_fwdbwd", "forward + backward (B)", "paper_latency_fwdbwd_ms", "////"),
)
PAPER_LATENCY = "paper (Table 3, GPU)"


def _latency_axis_label(rows: pd.DataFrame) -> str:
    """What the bars and their error bars are, on lines short enough for a column-wide figure
    (one long line was cut at the figure's edge)."""
    unknown = int((rows["latency_fwd_samples"].map(len) < 2).sum())
    lines = ["Latency per clip (ms): median over repeats;", "bars: its 95% bootstrap interval"]
    if unknown:
        lines.append(f"(none for {unknown} without raw repeats)")
    return "\n".join(lines)


def _latency_series(
    ax: Axes, rows: pd.DataFrame, y: np.ndarray, height: float, series: tuple, styles: Styles
) -> None:
    """One pass's bars in each model's family colour (F filled, F+B hatched) with the 95%
    bootstrap interval of each median; the paper's value as a hollow diamond where known."""
    stem, name, paper, hatch = series
    colours = [style_of(styles, f)[0] for f in rows["family"]]
    bars = ax.barh(
        y,
        rows[f"{stem}_ms"].fillna(0),
        height,
        xerr=_spread(rows, stem),
        color="white" if hatch else colours,
        edgecolor=colours,
        hatch=hatch,
        linewidth=0.6,
        label=name,
        error_kw={"lw": 0.7, "capsize": 1.5},
    )
    for bar, verdict in zip(bars.patches, rows[f"{stem}_verdict"], strict=True):
        if verdict == "disturbed":  # hollow, so that the hatch (in the edge colour) shows
            bar.set_facecolor("white")
            bar.set_hatch(DISTURBED_HATCH)
    if paper in rows and rows[paper].notna().any():
        ax.scatter(
            rows[paper],
            y,
            marker="D",
            s=14,
            facecolors="none",
            edgecolors="black",
            linewidths=0.8,
            zorder=3,
            label=PAPER_LATENCY,
        )


def _latency_handles(drawn: list[tuple], styles: Styles, rows: pd.DataFrame) -> list:
    """The passes drawn (grey, filled or hatched), the families' colours, and the paper."""
    handles: list = [
        Patch(
            facecolor="white" if hatch else "#777777", edgecolor="#777777", hatch=hatch, label=name
        )
        for _, name, _, hatch in drawn
    ]
    if len(set(rows["family"])) > 1:
        handles += [
            Patch(color=c, label=f) for f, (c, _) in styles.items() if f in set(rows["family"])
        ]
    if any((rows[f"{stem}_verdict"] == "disturbed").any() for stem, *_ in drawn):
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="#777777",
                hatch=DISTURBED_HATCH,
                label=f"hatched: {DISTURBED_WORDS}",
            )
        )
    if any(paper in rows and rows[paper].notna().any() for _, _, paper, _ in drawn):
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="D",
                markerfacecolor="none",
                color="black",
                label=PAPER_LATENCY,
                markersize=4,
            )
        )
    return handles


@styled
def latency_bars(
    frame: pd.DataFrame, compare: bool = False, part: str = "", styles: Styles | None = None
) -> Figure:
    """Table 3's F and B columns as bars per model: forward and forward+backward medians, with
    the 95% bootstrap interval of each median as error bars; a pass no cell measured has no
    bars and no legend entry. `part` names the page of a split chart in its title."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["latency_fwd_ms"], "no cell has a forward latency")
    styles = styles or family_styles(frame["family"])
    drawn = [s for s in LATENCY_SERIES if rows[f"{s[0]}_ms"].notna().any()]
    # 0.28 in per model, packed closer beyond 28 models so that MAX_BARS fit on a page
    fig, axes = figure(height=max(2.0, 0.9 + min(0.28 * len(rows), PAGE_BARS_HEIGHT)))
    ax = axes[0][0]
    y = np.arange(len(rows))[::-1].astype(float)
    height = 0.76 / len(drawn)
    for k, series in enumerate(drawn):
        offset = ((len(drawn) - 1) / 2 - k) * height
        _latency_series(ax, rows, y + offset, height, series, styles)
    ax.set_yticks(y, rows["label"])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(_latency_axis_label(rows))
    title = _workload_title(rows)
    fig.suptitle(f"{part}\n{title}" if part else title, fontsize=7.5)
    _legend_below(fig, _latency_handles(drawn, styles, rows))
    return fig


MAX_BARS = 50  # models per latency page: 0.16 in each, 8.9 in in all, within a page
PAGE_BARS_HEIGHT = 8.0  # inches of bars at most


def latency_pages(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure | list[tuple[str, Figure]]:
    """`latency_bars`, split when a store has more models than a page holds: one page per
    family, execution mode, dtype and batch, each cut into pages of at most `MAX_BARS`
    models. Returns the one figure, or (name, figure) per page."""
    rows = _rows_with(frame, ["latency_fwd_ms"], "no cell has a forward latency")
    styles = styles or family_styles(frame["family"])
    if len(rows) <= MAX_BARS:
        return latency_bars(rows, compare, styles=styles)
    pages = []
    batch = rows["batch_size"].map(lambda b: f"batch {b:g}" if b == b else "batch ?")
    keys = [rows["family"], rows["mode"], rows["dtype"], batch]
    for (family, mode, dtype, size), group in rows.groupby(keys, sort=False):
        count = -(-len(group) // MAX_BARS)
        for k in range(count):
            chunk = group.iloc[k * MAX_BARS : (k + 1) * MAX_BARS]
            page = f" ({k + 1} of {count})" if count > 1 else ""
            name = f"{family}, {mode}, {dtype}, {size}{page}"
            pages.append((name, latency_bars(chunk, compare, part=name, styles=styles)))
    return pages


ABLATION_METRICS = [
    ("params_m", PARAMS_LABEL),
    ("gflops", GFLOPS_LABEL),
    ("top1", "Top-1 accuracy (%)"),
]


def _ablation_axes(mt: pd.DataFrame) -> tuple[str, str]:
    """(x axis, line parameter): r when it varies, else g."""
    if mt["r"].nunique() >= 2:
        return "r", "g"
    if mt["g"].nunique() >= 2:
        return "g", "r"
    raise PlotSkipped("no MTNet cells that vary r or g")


def _ablation_metrics(mt: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, axis label) of each panel; accuracy on different datasets does not share an
    axis, so top-1 only from a single dataset."""
    datasets = list(dict.fromkeys(mt.dropna(subset=["top1"])["dataset"]))
    return [
        (c, _accuracy_label(datasets[0]) if c == "top1" else label)
        for c, label in ABLATION_METRICS
        if mt[c].notna().any() and (c != "top1" or len(datasets) == 1)
    ]


def _ablation_panel(
    ax: Axes, mt: pd.DataFrame, column: str, axes: tuple[str, str], colour: str, compare: bool
) -> bool:
    """One line per depth (shades of the MTNet colour, a marker each) and line style per value
    of the other parameter; the paper's values as hollow markers. True if any were drawn."""
    axis, other = axes
    models = list(dict.fromkeys(mt["model"]))
    paper_shown = False
    for k, (model, tone) in enumerate(zip(models, shades(colour, len(models)), strict=True)):
        for s, value in enumerate(sorted(mt[other].unique())):
            line = mt[(mt["model"] == model) & (mt[other] == value)]
            line = line.dropna(subset=[column]).sort_values(axis)
            if line.empty:
                continue
            marker, ls = MARKERS[k % len(MARKERS)], LINESTYLES[s % len(LINESTYLES)]
            ax.plot(
                line[axis],
                line[column],
                color=tone,
                marker=marker,
                markersize=3.5,
                ls=ls,
                lw=1.1,
                label=f"{model} {other}={value:g}",
            )
            if compare and line[f"paper_{column}"].notna().any():
                paper_shown = True
                paper = line[f"paper_{column}"]
                ax.scatter(
                    line[axis],
                    paper,
                    marker=marker,
                    s=22,
                    facecolors="none",
                    edgecolors=tone,
                    linewidths=0.9,
                    zorder=3,
                )
    return paper_shown


def _ablation_ticks(ax: Axes, mt: pd.DataFrame, axis: str) -> None:
    ax.set_xlabel("channel ratio r (short-stream share)" if axis == "r" else "sub-streams g")
    values = sorted(mt[axis].unique())
    if axis == "g":
        ax.set_xscale("log", base=2)
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


@styled
def ablation(frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None) -> Figure:
    """Params, GFLOPs and (where present) top-1 against the channel ratio r, one line per depth
    and sub-stream setting; against g instead when r does not vary."""
    frame = _prepared(frame, compare)
    mt = frame[(frame["family"] == "mtnet")].dropna(subset=["r", "g"])
    axes_of_lines = _ablation_axes(mt)
    metrics = _ablation_metrics(mt)
    colour = style_of(styles or family_styles(frame["family"]), "mtnet")[0]
    fig, axes = figure(ncols=len(metrics), width=COLUMN_WIDTH * min(len(metrics), 2))
    paper_shown = False
    for ax, (column, label) in zip(axes[0], metrics, strict=True):
        paper_shown |= _ablation_panel(ax, mt, column, axes_of_lines, colour, compare)
        ax.set_ylabel(label)
        _ablation_ticks(ax, mt, axes_of_lines[0])
    handles = axes[0][0].get_legend_handles_labels()[0]
    if paper_shown:
        handles.append(_paper_handle())
    _legend_below(fig, handles)
    return fig


@styled
def complexity(frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None) -> Figure:
    """The measure-only view: GFLOPs against params, and forward latency against GFLOPs where
    latency exists; useful before any model is trained."""
    frame = _prepared(frame, compare)
    rows = _rows_with(frame, ["params_m", "gflops"], "no cell has both params and GFLOPs")
    timed = rows.dropna(subset=["latency_fwd_ms"])
    panels = [("params_m", "gflops", PARAMS_LABEL, GFLOPS_LABEL, rows)]
    if not timed.empty:
        panels.append(("gflops", "latency_fwd_ms", GFLOPS_LABEL, LATENCY_LABEL, timed))
    fig, axes = figure(ncols=len(panels))
    styles = styles or family_styles(frame["family"])
    for ax, (x, y, xlabel, ylabel, part) in zip(axes[0], panels, strict=True):
        _family_scatter(ax, part, x, y, styles)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.margins(0.12)
    if not timed.empty:
        axes[0][-1].set_title(_workload_title(timed), fontsize=7.5)
    shown = any(_paper_obstacles(part, x, y) for x, y, _, _, part in panels)
    extra = _few_labels_handle(len(rows)) + _disturbed_handle(timed)
    _legend(fig, styles, rows["family"], extra, shown)
    fig.canvas.draw()  # final layout before labels are placed
    for ax, (x, y, _, _, part) in zip(axes[0], panels, strict=True):
        _label(ax, part, x, y, False)
    return fig


def _line_styles(families: pd.Series, styles: Styles) -> list[dict]:
    """Per row: its family's colour and marker, and a line style counting up within the
    family, so two cells of one family stay apart while each family keeps its report colour."""
    seen: dict[str, int] = {}
    out = []
    for family in families:
        k = seen[family] = seen.get(family, -1) + 1
        colour, marker = style_of(styles, family)
        out.append({"color": colour, "marker": marker, "ls": LINESTYLES[k % len(LINESTYLES)]})
    return out


def _curve(ax: Axes, curve: list[dict], key: str, style: dict, label: str | None) -> bool:
    """One cell's curve of `key` against epoch; over several seeds the mean with a ±1 std
    band. True when a band was drawn."""
    epochs = [p["epoch"] for p in curve]
    mean = np.array([p[key] for p in curve], dtype=float)
    ax.plot(epochs, mean, lw=1.0, markersize=3, label=label, **style)
    std = np.array([p.get(f"{key}_std", np.nan) for p in curve], dtype=float)
    if not np.isfinite(std).any():
        return False
    ax.fill_between(epochs, mean - std, mean + std, color=style["color"], alpha=0.18, lw=0)
    return True


@styled
def training(frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None) -> Figure:
    """Training loss and training top-1 against epoch, one line per cell in its family's
    colour; a cell trained over several seeds is their mean with a ±1 std band, and the
    legend says over how many seeds."""
    rows = frame[frame["train_curve"].map(len) > 0]
    if rows.empty:
        raise PlotSkipped("no cell was trained")
    styles = styles or family_styles(frame["family"])
    fig, axes = figure(ncols=2)
    banded = False
    for (_, row), style in zip(rows.iterrows(), _line_styles(rows["family"], styles), strict=True):
        banded |= _curve(axes[0][0], row["train_curve"], "loss", style, row["label"])
        _curve(axes[0][1], row["train_curve"], "train_top1", style, None)
    axes[0][0].set_ylabel("Training loss")
    axes[0][1].set_ylabel("Training top-1 (%)")
    for ax in axes[0]:
        ax.set_xlabel("Epoch")
    handles = axes[0][0].get_legend_handles_labels()[0]
    if banded:
        seeds = "-".join(f"{n:g}" for n in sorted(set(rows.loc[rows["n_seeds"] > 1, "n_seeds"])))
        handles.append(
            Patch(color="#777777", alpha=0.25, label=f"band: {SEED_SPREAD} ({seeds} seeds)")
        )
    _legend_below(fig, handles)
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
                "family": row["family"],
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
def accuracy_by_duration(
    frame: pd.DataFrame, compare: bool = False, styles: Styles | None = None
) -> Figure:
    """The multiduration study's plot: top-1 per duration bucket (short, medium, long), one
    line per model configuration, mean over seeds with ±1 std error bars."""
    summary = duration_summary(frame)
    groups = list(dict.fromkeys(summary["group"]))
    families = summary.drop_duplicates("group")["family"]
    looks = _line_styles(families, styles or family_styles(frame["family"]))
    fig, axes = figure(height=3.4)
    ax = axes[0][0]
    x = np.arange(len(TOP1_BY_DURATION_KEYS))
    offsets = np.linspace(-0.15, 0.15, len(groups)) if len(groups) > 1 else [0.0]
    for group, dx, look in zip(groups, offsets, looks, strict=True):
        part = summary[summary["group"] == group].set_index("bucket").reindex(TOP1_BY_DURATION_KEYS)
        seeds = int(part["count"].max())
        ax.errorbar(
            x + dx,
            part["mean"],
            yerr=part["std"],
            **look,
            markersize=3.5,
            lw=1.0,
            capsize=2,
            label=f"{group} (n={seeds})",
        )
    ax.set_xticks(x, TOP1_BY_DURATION_KEYS)
    ax.set_xlabel("Action duration bucket")
    ax.set_ylabel(f"Top-1 (%), {SEED_SPREAD}")
    _legend_below(fig, ax.get_legend_handles_labels()[0])
    return fig


# Each takes the frame, `compare` and the report's family styles.
PLOTS: dict[str, Callable[..., Figure | list[tuple[str, Figure]]]] = {
    "accuracy-gflops": accuracy_vs_gflops,
    "accuracy-latency": accuracy_vs_latency,
    "accuracy-duration": accuracy_by_duration,
    "training": training,
    "latency": latency_pages,
    "ablation": ablation,
    "complexity": complexity,
    **BREAKDOWN_PLOTS,
    **SCENARIO_PLOTS,
    **QUANTIZED_PLOTS,
}
