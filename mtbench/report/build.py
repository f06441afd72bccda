"""`mtbench plot` end to end: every store's figures written to disk, then one index.html.

Plots of each suite are written to `<root>/plots/<suite>-<kind>.<format>`; the PNG bytes are
also kept in memory so the HTML page can embed them whatever formats were asked for.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

from mtbench.errors import UsageError
from mtbench.report.choices import PLOT_NAMES
from mtbench.report.frame import Store, load_stores
from mtbench.report.html import write_index
from mtbench.report.plots import PLOTS, PlotOutcome, PlotSkipped
from mtbench.report.style import Styles, family_styles

DEFAULT_FORMATS = ("png", "svg")


def stores_under(root: Path) -> list[Store]:
    stores = load_stores(root)
    if not stores:
        raise UsageError(f"no result store (results.jsonl or results.d/) under {root}")
    return stores


def _slug(name: str) -> str:
    """'substreams [machine 1/2]' -> 'substreams-machine-1-2': a file name, one dash per gap."""
    dashed = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
    return "-".join(part for part in dashed.split("-") if part) or "suite"


def report_styles(stores: list[Store]) -> Styles:
    """One colour and marker per family for the whole report, from every store's cells, so a
    family looks the same in every figure of every suite."""
    return family_styles(family for store in stores for family in store.frame["family"])


def plot_store(
    store: Store,
    out_dir: Path,
    kinds: list[str],
    formats: list[str],
    compare: bool,
    styles: Styles | None = None,
) -> list[PlotOutcome]:
    """Every plot of `kinds` for one store, each written in `formats` or skipped with why."""
    styles = styles or report_styles([store])
    outcomes = []
    ok = store.ok
    for kind in kinds:
        if ok.empty:
            outcomes.append(PlotOutcome(store.suite, kind, [], skipped="no successful cells"))
            continue
        try:
            drawn = PLOTS[kind](ok, compare, styles=styles)
        except PlotSkipped as skip:
            outcomes.append(PlotOutcome(store.suite, kind, [], skipped=str(skip)))
            continue
        pages = drawn if isinstance(drawn, list) else [("", drawn)]
        for page, fig in pages:
            name = f"{kind}-{_slug(page)}" if page else kind
            outcomes.append(_save(fig, out_dir, store.suite, name, formats))
    return outcomes


def _save(fig: Figure, out_dir: Path, suite: str, kind: str, formats: list[str]) -> PlotOutcome:
    """`<suite>-<kind>.<format>` for each format; the PNG bytes kept for index.html in any
    case."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # always: index.html embeds the PNG
    fig.set_layout_engine("none")  # laid out once by that save; the other formats reuse it
    paths = []
    for fmt in formats:
        path = out_dir / f"{_slug(suite)}-{kind}.{fmt}"
        if fmt == "png":
            path.write_bytes(buffer.getvalue())
        else:
            fig.savefig(path, format=fmt)
        paths.append(path)
    return PlotOutcome(suite, kind, paths, png=buffer.getvalue())


def build_plots(
    root: Path,
    kinds: list[str] | None = None,
    formats: list[str] | None = None,
    compare: bool = False,
) -> tuple[list[Store], list[PlotOutcome], Path]:
    """Plot every store under `root` into `root/plots/` and write `root/index.html`. A store
    made on several machines is plotted once per machine."""
    stores = stores_under(root)
    parts = [part for store in stores for part in store.by_machine()]
    out_dir = root / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    styles = report_styles(stores)
    kinds, formats = kinds or list(PLOT_NAMES), formats or list(DEFAULT_FORMATS)
    outcomes = [
        outcome
        for store in parts
        for outcome in plot_store(store, out_dir, kinds, formats, compare, styles)
    ]
    index = write_index(root / "index.html", parts, outcomes, compare, styles)
    return stores, outcomes, index
