"""index.html: one self-contained page for a whole results folder.

Everything is inline (CSS, the PNGs as base64 data URIs): the page opens from disk or as an
e-mail attachment, with no server and nothing fetched from the network.
"""

from __future__ import annotations

import base64
import os
import struct
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import pandas as pd

from mtbench import numbers
from mtbench.report.breakdown_tables import breakdown_html
from mtbench.report.frame import Store, measured_on
from mtbench.report.history import CellHistory, cell_histories, steps_table
from mtbench.report.interactive import interactive_figures, page_script
from mtbench.report.paper import PaperCounts
from mtbench.report.plots import PlotOutcome
from mtbench.report.style import Styles, family_styles
from mtbench.report.tables import (
    failed_lines,
    footnotes,
    ordered_rows,
    summary_table,
    text_table,
)
from mtbench.table_model import Column, TextTable, to_html

ENV_KEYS = (
    "device_name",
    "cpu",
    "cpu_capability",
    "onednn_max_cpu_isa",
    "threads",
    "gpu",
    "cuda",
    "cudnn",
    "torch",
    "torchvision",
    "mtbench",
    "python",
    "platform",
    "git_commit",
)

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
.note { color: #555; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e3e3e3; text-align: right;
         white-space: nowrap; }
th { border-bottom: 1.5px solid #555; }
td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; }
table.env td, table.env th { text-align: left; white-space: normal; max-width: 40em;
                             overflow-wrap: anywhere; }
.figures { display: flex; flex-wrap: wrap; gap: 1.2em; }
figure { margin: 0; } figcaption { color: #555; font-size: 12px; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.warn { color: #8a4b00; }
table.cells th { cursor: pointer; user-select: none; }
table.cells th[data-dir="asc"]::after { content: " ▲"; }
table.cells th[data-dir="desc"]::after { content: " ▼"; }
input.find { font: inherit; padding: 2px 6px; width: 22em; }
"""

# Sort a cell table by any column (click its header; numbers by value, '–' last) and keep only
# the rows that contain the text typed in the box above it and, once a box is brushed in the
# suite's interactive figures, only the brushed cells: a store of thousands of cells, whose
# static plots label only a few points, still lets a reader find any cell.
SCRIPT = """
const filters = {};  // per table: the text typed and the cells brushed in its figures
function applyFilter(table) {
  const state = filters[table.dataset.find] || {};
  const text = (state.text || "").toLowerCase();
  let shown = 0;
  [...table.tBodies[0].rows].forEach((row) => {
    const brushed = !state.rows || state.rows.has(row.dataset.row);
    row.hidden = !(brushed && row.textContent.toLowerCase().includes(text));
    shown += row.hidden ? 0 : 1;
  });
  const note = document.getElementById("selected-" + table.dataset.find);
  if (note) note.textContent = state.rows ? `${shown} brushed in the figures (reset there)` : "";
}
window.mtbenchSelect = (find, indices) => {
  filters[find] = {...filters[find], rows: indices.length ? new Set(indices.map(String)) : null};
  applyFilter(document.querySelector(`table.cells[data-find="${find}"]`));
};
document.querySelectorAll("table.cells").forEach((table) => {
  const body = table.tBodies[0];
  [...body.rows].forEach((row, i) => { row.dataset.row = String(i); });
  table.querySelectorAll("thead th").forEach((th, col) => th.addEventListener("click", () => {
    const dir = th.dataset.dir === "asc" ? "desc" : "asc";
    table.querySelectorAll("thead th").forEach((h) => delete h.dataset.dir);
    th.dataset.dir = dir;
    const key = (row) => row.cells[col].dataset.value ?? row.cells[col].textContent.trim();
    const num = (text) => parseFloat(text.replace("−", "-"));
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b), nx = num(x), ny = num(y);
      if (isNaN(nx) !== isNaN(ny)) return isNaN(nx) ? 1 : -1;
      const order = isNaN(nx) ? x.localeCompare(y) : nx - ny;
      return dir === "asc" ? order : -order;
    });
    rows.forEach((row) => body.appendChild(row));
  }));
  const box = document.getElementById(table.dataset.find);
  box.addEventListener("input", () => {
    filters[table.dataset.find] = {...filters[table.dataset.find], text: box.value};
    applyFilter(table);
  });
});
"""


def _anchor(suite: str) -> str:
    """An id for a suite's section: 'substreams [machine 1/2]' -> 'substreams-machine-1-2'."""
    return "-".join("".join(c if c.isalnum() else " " for c in suite).split()) or "suite"


def _png_width(png: bytes) -> int:
    """Pixel width from the PNG header (IHDR), to show 200-dpi figures at their print size."""
    return struct.unpack(">I", png[16:20])[0]


def _env_table(store: Store) -> str:
    """One row per environment key, one column per distinct environment: fourteen keys side by
    side ran off the page; a key never recorded is left out."""
    keys = [k for k in ENV_KEYS if any(env.get(k) not in (None, "") for env in store.envs)]
    if not keys:
        return '<p class="note">Environment not recorded.</p>'
    rows = "".join(
        f"<tr><th>{escape(k)}</th>"
        + "".join(f"<td>{escape(str(env.get(k, '')))}</td>" for env in store.envs)
        + "</tr>"
        for k in keys
    )
    return f'<div class="scroll"><table class="env">{rows}</table></div>'


def cells_and_runs(ok: pd.DataFrame) -> str:
    """'2 cells, 6 runs' where cells were trained over several seeds (one run each), so the
    count matches the run's 'ran 6'; '2 cells' otherwise."""
    cells = f"{len(ok)} cell" + ("" if len(ok) == 1 else "s")
    runs = int(ok["n_seeds"].sum()) if len(ok) else 0
    return cells if runs == len(ok) else f"{cells}, {runs} runs"


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f'<h3 class="warn">{escape(title)}</h3><ul>{lis}</ul>'


def _notes(notes: list[str]) -> str:
    """What each paper column was matched on and what the marks mean, under the table."""
    if not notes:
        return ""
    return '<ul class="note">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _figure(outcome: PlotOutcome) -> str:
    assert outcome.png is not None
    data = base64.b64encode(outcome.png).decode()
    files = ", ".join(p.name for p in outcome.paths)
    return (
        f'<figure><img width="{_png_width(outcome.png) // 2}" alt="{escape(outcome.kind)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{escape(outcome.kind)} '
        f"({escape(files)})</figcaption></figure>"
    )


def _cells_table(store: Store, table: pd.DataFrame, find: str) -> str:
    """The sortable, searchable cell table (rows in the interactive figures' order)."""
    if not len(table):
        return '<p class="note">No successful cells.</p>'
    cells = to_html(text_table(table), f'class="cells" data-find="{find}"')
    return (
        f'<p><input class="find" id="{find}" type="search" placeholder="find a cell: '
        f'model, input, any figure" aria-label="find a cell"> {cells_and_runs(store.ok)}; '
        f'click a column header to sort. <span class="note" id="selected-{find}"></span></p>'
        f'<div class="scroll">{cells}</div>'
    )


def _relative(paths: list[Path], base: Path) -> str:
    """The PNG among a figure's files (else its first), relative to the page's folder."""
    path = next((p for p in paths if p.suffix == ".png"), paths[0])
    return os.path.relpath(path, base)


def _figures(outcomes: list[PlotOutcome], base: Path) -> str:
    """Every figure inline, except the pages after the first of a latency chart split into
    pages: those are linked to their files, so a page of thousands of cells stays a few MB
    (at 2000 cells, 40 further latency pages were 14 MB of the page's 17)."""
    drawn = [o for o in outcomes if o.png]
    first_page = next((o for o in drawn if o.kind.startswith("latency-")), None)
    inline = [o for o in drawn if not o.kind.startswith("latency-") or o is first_page]
    linked = [o for o in drawn if o not in inline]
    html = '<div class="figures">' + "".join(_figure(o) for o in inline) + "</div>"
    if linked:
        links = "".join(
            f'<li><a href="{escape(_relative(o.paths, base))}">{escape(o.kind)}</a></li>'
            for o in linked
        )
        html += (
            f'<p class="note">{len(linked)} further latency pages, as files beside this '
            f'page:</p><ul class="note">{links}</ul>'
        )
    return html


def _section(
    store: Store, outcomes: list[PlotOutcome], compare: bool, styles: Styles, base: Path
) -> str:
    table = summary_table(store.frame, compare, counts=PaperCounts(store.folder))
    find = f"find-{_anchor(store.suite)}"
    mine = [o for o in outcomes if o.suite == store.suite]
    skipped = [f"{o.kind}: {o.skipped}" for o in mine if o.skipped]
    unreadable = (
        [f"{store.unreadable_lines} unreadable line(s) in the store (torn or corrupt)"]
        if store.unreadable_lines
        else []
    )
    explore = interactive_figures(ordered_rows(store.ok, None), styles, find)
    return f"""
<h2 id="{_anchor(store.suite)}">{escape(store.suite)}</h2>
<p class="note">{escape(str(store.folder))}: {cells_and_runs(store.ok)} ok,
{len(store.failed)} failed.
Measured on {escape(measured_on(store))}.</p>
{_cells_table(store, table, find)}
{_notes(footnotes(table))}
{_list("Failed cells", failed_lines(store))}
{_list("Skipped plots", skipped)}
{_list("Store problems", unreadable)}
{f'<h3>Explore</h3><p class="note">{EXPLORE_NOTE}</p>{explore}' if explore else ""}
<h3>Figures</h3>
{_figures(mine, base)}
{breakdown_html(store.ok)}
<h3>Environment</h3>
{_env_table(store)}
"""


EXPLORE_NOTE = (
    "Hover a mark for its cell and conditions; click a family in a legend to hide it; drag a "
    "box in one figure to select those cells in every figure and in the table above (reset "
    "with the figure's reset tool). Latency is the median with its p10-p90 (a hollow mark: "
    f"{numbers.DISTURBED_WORDS}), top-1 the {numbers.SEED_SPREAD}."
)


def _history(stores: list[Store]) -> str:
    """A history panel per store (all its machines' records together) where any cell was
    measured more than once: each step with what changed, its estimates and the flag."""
    records: dict[Path, list] = {}
    for store in stores:
        records.setdefault(store.folder, []).extend(store.records)
    panels = []
    for folder, rows in records.items():
        changed = [h for h in cell_histories(rows) if h.steps]
        if not changed:
            continue
        suite = next(s.suite for s in stores if s.folder == folder).split(" [machine")[0]
        table = to_html(_history_table(changed), 'class="history"')
        panels.append(
            f'<h2 id="history-{_anchor(suite)}">History: {escape(suite)}</h2>'
            f'<p class="note">{len(changed)} cell(s) measured more than once. {HISTORY_NOTE}</p>'
            f'<div class="scroll">{table}</div>'
        )
    return "".join(panels)


HISTORY_NOTE = (
    "Each step compares a measurement with the one before it on the same machine (a latency "
    "with the latest earlier one whose timing was not disturbed): latency ratio with its 95% "
    "bootstrap interval, top-1 difference with its 95% t-interval over seeds; flagged when "
    "the interval excludes no change and it moved 5% or more: worse (the row marked) or "
    "better; a latency with a disturbed side is judged neither way "
    "(<code>mtbench history</code> prints the same, with every measurement)."
)


def _history_table(histories: list[CellHistory]) -> TextTable:
    """Every step of every cell in one table; a flagged step's row marked for the CSS."""
    steps = [(h, row) for h in histories for row in steps_table(h)]
    heads = ["cell", "machine", *steps[0][1]]
    table = TextTable([Column(h, "left") for h in heads])
    for history, row in steps:
        table.rows.append([history.label, history.machine, *row.values()])
        table.row_classes.append("warn" if "REGRESSION" in row["flag"] else "")
    if any(numbers.DISTURBED_MARK in str(v) for row in table.rows for v in row):
        table.footnotes.append(numbers.DISTURBED_NOTE)
    return table


def write_index(
    path: Path,
    stores: list[Store],
    outcomes: list[PlotOutcome],
    compare: bool,
    styles: Styles | None = None,
) -> Path:
    """Write the page and return its path; `styles` are the report's family looks."""
    styles = styles or family_styles(f for s in stores for f in s.frame["family"])
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = " · ".join(f'<a href="#{_anchor(s.suite)}">{escape(s.suite)}</a>' for s in stores)
    paper = (
        " Paper columns: Stergiou &amp; Poppe, MTNet paper, Tables 2-4, with a delta only"
        " where the conditions match (input, class count, device kind, dataset): the notes"
        " under each table say what was matched."
        if compare
        else ""
    )
    sections = [_section(s, outcomes, compare, styles, path.parent) for s in stores]
    body = "".join(sections) + _history(stores)
    bokeh = page_script() if "bk-root" in body or "data-root-id" in body else ""
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mtbench report</title>
<style>{CSS}</style>{bokeh}</head><body>
<h1>mtbench report</h1>
<p class="note">Generated {now} from {escape(str(path.parent))}. Params in millions; GFLOPs per
clip, one multiply-add = one FLOP; latency per clip in ms, median over repeats (plots show its
95% bootstrap interval where the records kept raw repeats).{paper}</p>
<p>{toc}</p>
{body}
<script>{SCRIPT}</script>
</body></html>
""",
        encoding="utf-8",
    )
    return path
