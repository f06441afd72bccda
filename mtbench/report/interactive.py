"""Interactive figures for index.html: hover names a cell and its conditions, a legend click
hides a family, a box brushed in one figure selects the same cells in the others and filters
the table.

Built with Bokeh, whose JavaScript ships inside its Python package (`Resources(mode="inline")`),
so the page carries it and opens with no network at all. Bokeh rather than Vega-Altair:
Altair's inline bundle needs a second package (vl-convert) and renders through Vega's
runtime, while Bokeh links figures by sharing one data source (selecting in one selects in
all) and takes only its core script (~1.3 MB, once per page).

One source per suite, one row per cell in the table's order; a figure draws one scatter per
family (the report's colour and marker) over the cells that have both of its figures. Each
mark's fill is the source's `fill` column, in figures with a latency axis `latency_fill`: a
disturbed latency (mtbench.measure.contention) is a hollow marker there, only there.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from bokeh.embed import components
from bokeh.layouts import gridplot
from bokeh.models import BooleanFilter, CDSView, ColumnDataSource, CustomJS, HoverTool, Legend
from bokeh.plotting import figure
from bokeh.resources import Resources

from mtbench import numbers
from mtbench.report.style import Styles, style_of

# matplotlib marker -> the nearest Bokeh marker, so a family keeps its shape on the page.
MARKERS = {
    "o": "circle",
    "s": "square",
    "^": "triangle",
    "D": "diamond",
    "v": "inverted_triangle",
    "P": "plus",
    "X": "star",
}
# (x column, y column, x title, y title) of each figure; a figure no cell has both for is left out.
VIEWS = (
    ("gflops", "top1", "GFLOPs per clip (1 MAC = 1 FLOP)", "Top-1 accuracy (%)"),
    ("latency_fwd_ms", "top1", "Forward latency per clip (ms)", "Top-1 accuracy (%)"),
    ("params_m", "gflops", "Parameters (M)", "GFLOPs per clip (1 MAC = 1 FLOP)"),
    (
        "gflops",
        "latency_fwd_ms",
        "GFLOPs per clip (1 MAC = 1 FLOP)",
        "Forward latency per clip (ms)",
    ),
)
FIGURE_COLUMNS = ("params_m", "gflops", "latency_fwd_ms", "top1")
HOLLOW = "white"  # the fill of a disturbed latency's marker
TOOLTIPS = [
    ("cell", "@label"),
    ("model", "@model @kwargs"),
    ("input", "@input, @dtype, @mode"),
    ("machine", "@machine"),
    ("params", "@params_text"),
    ("GFLOPs", "@gflops_text"),
    ("latency F", "@latency_text"),
    ("top-1", "@top1_text"),
]


def page_script() -> str:
    """Bokeh's core JavaScript, inline: once per page, before any figure."""
    return Resources(mode="inline", components=["bokeh"]).render_js()


def _latency_text(row: pd.Series) -> str:
    """'35.50 ms † (p10 34.10, p90 36.20)': the median, marked where disturbed, its spread."""
    return numbers.latency(
        None if pd.isna(row["latency_fwd_ms"]) else row["latency_fwd_ms"],
        row["latency_fwd_verdict"] == "disturbed",
        spread=(row["latency_fwd_p10"], row["latency_fwd_p90"]),
    )


def _top1_text(row: pd.Series) -> str:
    """'75.50% ± 1.20 (3)': the mean over seeds ± 1 std (n), as every table shows it."""
    text = numbers.over_seeds(row["top1"], row["top1_std"], row["n_seeds"])
    if text == numbers.MISSING:
        return text
    mean, _, spread = text.partition(" ")
    return f"{mean}% {spread}".rstrip()


def cell_source(cells: pd.DataFrame, styles: Styles) -> ColumnDataSource:
    """One row per cell, in `cells`' order: the figures, their texts for hover, the look."""
    looks = [style_of(styles, f) for f in cells["family"]]
    data: dict[str, Any] = {
        "row": list(range(len(cells))),
        **{
            c: cells[c].astype(str).tolist()
            for c in ("label", "model", "family", "input", "dtype", "mode", "machine")
        },
        "kwargs": [", ".join(f"{k}={v}" for k, v in kw.items()) for kw in cells["kwargs"]],
        **{c: cells[c].astype(float).tolist() for c in FIGURE_COLUMNS},
        "params_text": [numbers.params(None if pd.isna(v) else v * 1e6) for v in cells["params_m"]],
        "gflops_text": [numbers.gflops(None if pd.isna(v) else v) for v in cells["gflops"]],
        "latency_text": [_latency_text(row) for _, row in cells.iterrows()],
        "top1_text": [_top1_text(row) for _, row in cells.iterrows()],
        "colour": [colour for colour, _ in looks],
        "fill": [colour for colour, _ in looks],
        "latency_fill": [
            HOLLOW if verdict == "disturbed" else colour
            for (colour, _), verdict in zip(looks, cells["latency_fwd_verdict"], strict=True)
        ],
        "marker": [MARKERS.get(marker, "circle") for _, marker in looks],
    }
    return ColumnDataSource({k: [None if _nan(v) else v for v in vs] for k, vs in data.items()})


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _view_figure(cells: pd.DataFrame, source: ColumnDataSource, view: tuple) -> figure:
    """One figure: a scatter per family over the cells that have both figures, a legend
    whose click hides a family, hover, box select."""
    x, y, x_title, y_title = view
    plot = figure(
        width=460,
        height=340,
        tools="pan,wheel_zoom,box_select,tap,reset",
        active_drag="box_select",
        x_axis_label=x_title,
        y_axis_label=y_title,
        name=f"{x}-vs-{y}",
    )
    measured = cells[x].notna() & cells[y].notna()
    fill = "latency_fill" if "latency_fwd_ms" in (x, y) else "fill"
    items = []
    for family in dict.fromkeys(cells.loc[measured, "family"]):
        mask = (measured & (cells["family"] == family)).tolist()
        glyph = plot.scatter(
            x,
            y,
            source=source,
            view=CDSView(filter=BooleanFilter(mask)),
            size=9,
            marker="marker",
            fill_color=fill,
            line_color="colour",
            fill_alpha=0.85,
            nonselection_fill_alpha=0.15,
            nonselection_line_alpha=0.25,
            name=family,
        )
        items.append((family, [glyph]))
    plot.add_tools(HoverTool(tooltips=TOOLTIPS))
    legend = Legend(items=items, click_policy="hide", location="top_left")
    plot.add_layout(legend, "right")
    return plot


def interactive_figures(cells: pd.DataFrame, styles: Styles, table_id: str) -> str:
    """The figures of one suite as HTML (a div and its script), linked through one source;
    a selection filters the table whose search box is `table_id`. '' when no figure has data."""
    views = [v for v in VIEWS if (cells[v[0]].notna() & cells[v[1]].notna()).any()]
    if not views or cells.empty:
        return ""
    source = cell_source(cells, styles)
    plots = [_view_figure(cells, source, view) for view in views]
    source.selected.js_on_change(
        "indices",
        CustomJS(
            args={"source": source},
            code=f"window.mtbenchSelect({json.dumps(table_id)}, source.selected.indices);",
        ),
    )
    script, div = components(gridplot(plots, ncols=2, merge_tools=False))
    return f'<div class="interactive" data-find="{table_id}">{div}</div>{script}'
