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
"""


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
    table_html = (
        f'<div class="scroll">{formatted(table).to_html(index=False, border=0)}</div>'
        if len(table)
        else '<p class="note">No successful cells.</p>'
    )
    mine = [o for o in outcomes if o.suite == store.suite]
    skipped = [f"{o.kind}: {o.skipped}" for o in mine if o.skipped]
    unreadable = (
        [f"{store.unreadable_lines} unreadable line(s) in results.jsonl (torn or corrupt)"]
        if store.unreadable_lines
        else []
    )
    figures = "".join(_figure(o) for o in mine if o.png)
    return f"""
<h2 id="{escape(store.suite)}">{escape(store.suite)}</h2>
<p class="note">{escape(str(store.folder))}: {len(store.ok)} ok, {len(store.failed)} failed.
Measured on {escape(measured_on(store))}.</p>
{table_html}
{_notes(table.attrs.get("notes", []))}
{_list("Failed cells", failed_lines(store))}
{_list("Skipped plots", skipped)}
{_list("Store problems", unreadable)}
<div class="figures">{figures}</div>
<h3>Environment</h3>
{_env_table(store)}
"""


def write_index(
    path: Path, stores: list[Store], outcomes: list[PlotOutcome], compare: bool
) -> Path:
    """Write the page and return its path."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = " · ".join(f'<a href="#{escape(s.suite)}">{escape(s.suite)}</a>' for s in stores)
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
</body></html>
""",
        encoding="utf-8",
    )
    return path
