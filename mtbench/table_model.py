"""One table model (columns, rows, footnotes) and its renderers: the terminal (rich), Markdown,
LaTeX, CSV and HTML. Every command and the report page build their tables as a `TextTable`
(pytest-benchmark's `TableResults` is the model), so a table says the same in every format.

A cell is text, a number, None (shown as `numbers.MISSING`), or a `Figure`: a number with the
text it is shown as ('33.37 M', '264.10 †'). Text formats show the text; CSV keeps the number
at full precision; HTML shows the text and carries the number for sorting. Everything a user
wrote (labels, suite names) is escaped for the format: never markup, LaTeX or HTML.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any, Literal

from rich import box
from rich.table import Table
from rich.text import Text
from tabulate import tabulate

from mtbench.numbers import MISSING


@dataclass(frozen=True)
class Figure:
    """A number and the text it is shown as."""

    value: float | None
    text: str


@dataclass(frozen=True)
class Column:
    header: str
    align: Literal["left", "right"] = "right"


@dataclass
class TextTable:
    """Columns, rows of cells, footnotes. `group` (a column index) draws a rule where its value
    changes (LaTeX), `row_styles` colours rows in the terminal (rich style names),
    `row_classes` names rows in HTML (the page's CSS)."""

    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    title: str = ""
    footnotes: list[str] = field(default_factory=list)
    group: int | None = None
    row_styles: list[str | None] = field(default_factory=list)
    row_classes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def texts(self) -> list[list[str]]:
        return [[text_of(cell) for cell in row] for row in self.rows]

    def drop_empty(self, keep: Sequence[str] = ()) -> TextTable:
        """The table without the columns no row has a figure in (except those in `keep`)."""
        texts = self.texts()
        kept = [
            i
            for i, c in enumerate(self.columns)
            if c.header in keep or any(row[i] != MISSING for row in texts)
        ]
        return TextTable(
            [self.columns[i] for i in kept],
            [[row[i] for i in kept] for row in self.rows],
            self.title,
            self.footnotes,
            self.group,
            self.row_styles,
            self.row_classes,
        )


def text_of(cell: Any) -> str:
    """What a cell shows: a Figure's text, a number as written, MISSING for None or NaN."""
    if isinstance(cell, Figure):
        return cell.text
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return MISSING
    return str(cell)


def value_of(cell: Any) -> Any:
    """What CSV writes: a Figure's number at full precision, '' for a missing one."""
    value = cell.value if isinstance(cell, Figure) else cell
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def to_rich(table: TextTable, **options: Any) -> Table:
    """A rich Table; cells are plain text (a '[data]' in a label stays as written)."""
    out = Table(title=table.title or None, **options)
    for column in table.columns:
        out.add_column(column.header, justify=column.align, overflow="fold")
    styles = table.row_styles or [None] * len(table.rows)
    for row, style in zip(table.texts(), styles, strict=True):
        out.add_row(*(Text(cell) for cell in row), style=style)
    if table.footnotes:
        out.caption = "\n".join(table.footnotes)
    return out


def to_rich_plain(table: TextTable) -> Table:
    """The terminal's wide tables (breakdowns): a rule under the header, no outer box."""
    return to_rich(table, box=box.SIMPLE_HEAD, pad_edge=False)


def to_markdown(table: TextTable, notes: bool = True) -> str:
    """A pipe table; its footnotes as a list under it."""
    body = tabulate(
        table.texts(),
        headers=table.headers,
        tablefmt="pipe",
        disable_numparse=True,
        colalign=[c.align for c in table.columns],
    )
    footer = "".join(f"\n- {note}" for note in table.footnotes) if notes else ""
    return body + ("\n" + footer if footer else "")


def to_csv(table: TextTable) -> str:
    """One header line, one line per row; numbers at full precision (no footnotes: CSV has no
    place for them, so what they say must be a column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows([[value_of(cell) for cell in row] for row in table.rows])
    return out.getvalue()


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "×": r"$\times$",
    "Δ": r"$\Delta$",
    "–": "--",
    "±": r"$\pm$",
    "†": r"\dag{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: TextTable) -> str:
    """A booktabs table with the title as caption, a rule between groups, footnotes as LaTeX
    comments under it."""
    spec = "".join("l" if c.align == "left" else "r" for c in table.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if table.title:
        lines.append(rf"\caption{{{latex_escape(table.title)}}}")
    lines += [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.headers) + r" \\",
        r"\midrule",
    ]
    previous = None
    for raw, row in zip(table.rows, table.texts(), strict=True):
        group = None if table.group is None else raw[table.group]
        if previous is not None and group != previous:
            lines.append(r"\midrule")
        previous = group
        lines.append(" & ".join(latex_escape(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines + [f"% {note}" for note in table.footnotes])


def to_html(table: TextTable, attributes: str = "") -> str:
    """A table (`attributes` as given, e.g. 'class="cells"'), every text escaped; a cell whose
    text is not its number carries the number in `data-value` for sorting; footnotes as a
    list under it."""
    head = "".join(f"<th>{html_escape(h)}</th>" for h in table.headers)
    body = []
    classes = table.row_classes or [""] * len(table.rows)
    for row, name in zip(table.rows, classes, strict=True):
        cells = []
        for cell in row:
            value = value_of(cell)
            sort = f' data-value="{value}"' if isinstance(cell, Figure) and value != "" else ""
            cells.append(f"<td{sort}>{html_escape(text_of(cell))}</td>")
        opening = f'<tr class="{html_escape(name)}">' if name else "<tr>"
        body.append(opening + "".join(cells) + "</tr>")
    opening = f"<table {attributes}>" if attributes else "<table>"
    html = f"{opening}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if table.footnotes:
        notes = "".join(f"<li>{html_escape(n)}</li>" for n in table.footnotes)
        html += f'<ul class="note">{notes}</ul>'
    return html


def table_to_dict(table: TextTable) -> dict[str, Any]:
    """The table as JSON-ready data (a benchmark's results file): a Figure keeps its number and
    its text, so a table read back renders exactly as it was written."""

    def cell(value: Any) -> Any:
        return {"value": value.value, "text": value.text} if isinstance(value, Figure) else value

    return {
        "title": table.title,
        "columns": [{"header": c.header, "align": c.align} for c in table.columns],
        "rows": [[cell(value) for value in row] for row in table.rows],
        "footnotes": list(table.footnotes),
    }


def table_from_dict(data: dict[str, Any]) -> TextTable:
    """A table `table_to_dict` wrote."""

    def cell(value: Any) -> Any:
        return Figure(value["value"], value["text"]) if isinstance(value, dict) else value

    return TextTable(
        [Column(c["header"], c["align"]) for c in data["columns"]],
        [[cell(value) for value in row] for row in data["rows"]],
        data.get("title", ""),
        list(data.get("footnotes", [])),
    )
