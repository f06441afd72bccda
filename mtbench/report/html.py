"""index.html: one self-contained page for a whole results folder.

Everything is inline (CSS, the PNGs as base64 data URIs): the page opens from disk or as an
e-mail attachment, with no server and nothing fetched from the network.
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from mtbench.report.breakdown_tables import breakdown_html
from mtbench.report.frame import Store, measured_on
from mtbench.report.paper import PaperCounts
from mtbench.report.tables import failed_lines, formatted, summary_table

if TYPE_CHECKING:
    from mtbench.report.build import PlotOutcome

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
# the rows that contain the text typed in the box above it: a store of thousands of cells,
# whose plots label only a few points, still lets a reader find any cell by name.
SCRIPT = """
document.querySelectorAll("table.cells").forEach((table) => {
  const body = table.tBodies[0];
  table.querySelectorAll("thead th").forEach((th, col) => th.addEventListener("click", () => {
    const dir = th.dataset.dir === "asc" ? "desc" : "asc";
    table.querySelectorAll("thead th").forEach((h) => delete h.dataset.dir);
    th.dataset.dir = dir;
    const key = (row) => row.cells[col].textContent.trim();
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
    const text = box.value.toLowerCase();
    [...body.rows].forEach((row) => {
      row.hidden = !row.textContent.toLowerCase().includes(text);
    });
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
    rows = []
    for env in store.envs:
        cells = "".join(f"<td>{escape(str(env.get(k, '')))}</td>" for k in ENV_KEYS)
        rows.append(f"<tr>{cells}</tr>")
    if not rows:
        return '<p class="note">Environment not recorded.</p>'
    head = "".join(f"<th>{escape(k)}</th>" for k in ENV_KEYS)
    return f'<table class="env"><tr>{head}</tr>{"".join(rows)}</table>'


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f'<h3 class="warn">{escape(title)}</h3><ul>{lis}</ul>'


def _notes(notes: list[str]) -> str:
    """What each paper column was matched on, under the table."""
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


def _section(store: Store, outcomes: list[PlotOutcome], compare: bool) -> str:
    table = summary_table(store.frame, compare, counts=PaperCounts(store.folder))
    find = f"find-{_anchor(store.suite)}"
    cells = formatted(table).to_html(index=False, border=0, classes="cells")
    cells = cells.replace(
        '<table class="dataframe cells">', f'<table class="cells" data-find="{find}">', 1
    )
    table_html = (
        f'<p><input class="find" id="{find}" type="search" placeholder="find a cell: '
        f'model, input, any figure" aria-label="find a cell"> {len(table)} cells; click a '
        f'column header to sort.</p><div class="scroll">{cells}</div>'
        if len(table)
        else '<p class="note">No successful cells.</p>'
    )
    mine = [o for o in outcomes if o.suite == store.suite]
    skipped = [f"{o.kind}: {o.skipped}" for o in mine if o.skipped]
    unreadable = (
        [f"{store.unreadable_lines} unreadable line(s) in the store (torn or corrupt)"]
        if store.unreadable_lines
        else []
    )
    figures = "".join(_figure(o) for o in mine if o.png)
    return f"""
<h2 id="{_anchor(store.suite)}">{escape(store.suite)}</h2>
<p class="note">{escape(str(store.folder))}: {len(store.ok)} ok, {len(store.failed)} failed.
Measured on {escape(measured_on(store))}.</p>
{table_html}
{_notes(table.attrs.get("notes", []))}
{_list("Failed cells", failed_lines(store))}
{_list("Skipped plots", skipped)}
{_list("Store problems", unreadable)}
<div class="figures">{figures}</div>
{breakdown_html(store.ok)}
<h3>Environment</h3>
{_env_table(store)}
"""


def write_index(
    path: Path, stores: list[Store], outcomes: list[PlotOutcome], compare: bool
) -> Path:
    """Write the page and return its path."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = " · ".join(f'<a href="#{_anchor(s.suite)}">{escape(s.suite)}</a>' for s in stores)
    paper = (
        " Paper columns: Stergiou &amp; Poppe, MTNet paper, Tables 2-4, with a delta only"
        " where the conditions match (input, class count, device kind, dataset): the notes"
        " under each table say what was matched."
        if compare
        else ""
    )
    body = "".join(_section(s, outcomes, compare) for s in stores)
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mtbench report</title>
<style>{CSS}</style></head><body>
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
