"""One way to show a number (issue 35): the formatter against hand-written values, and the one
table model rendered to every format, user text escaped in each."""

import csv
import io
from html.parser import HTMLParser

import pytest

from mtbench import numbers
from mtbench.table_model import (
    Column,
    Figure,
    TextTable,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
    to_rich,
)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (343, "343"),
        (12_345, "12.3 k"),
        (999, "999"),
        (33_371_472, "33.37 M"),
        (1_500_000_000, "1.50 G"),
        (None, "–"),
    ],
)
def test_params_take_the_unit_that_fits(count, text):
    assert numbers.params(count) == text


@pytest.mark.parametrize(
    ("gflops", "text"),
    [
        (40.7, "40.70"),
        (0.881, "0.881"),
        (0.000412, "0.000412"),
        (0.0123, "0.0123"),
        (0.0, "0.00"),
        (float("nan"), "–"),
    ],
)
def test_a_small_model_never_reads_zero_gflops(gflops, text):
    assert numbers.gflops(gflops) == text


def test_the_disturbed_mark_goes_after_the_unit():
    assert numbers.latency(264.1, disturbed=True) == "264.10 ms †"
    assert numbers.latency(264.1) == "264.10 ms"
    assert numbers.latency(264.1, disturbed=True, unit=False) == "264.10 †"
    assert numbers.latency(None, disturbed=True) == "–"  # nothing to mark
    stats = {"median": 35.5, "p10": 34.1, "p90": 36.2, "cv": 0.0123, "repeats": 20}
    assert numbers.latency_stats(stats | {"verdict": "disturbed"}, detail=True) == (
        "35.50 ms † (p10 34.10, p90 36.20, cv 0.012, n=20)"
    )
    assert numbers.latency_stats(stats | {"runs_per_repeat": 32}, detail=True) == (
        "35.50 ms (p10 34.10, p90 36.20, cv 0.012, n=20 × 32 runs)"  # repeats timed as blocks
    )
    assert numbers.latency(0.05) == "0.050 ms"  # a fast model keeps two significant digits
    assert numbers.DISTURBED_NOTE.startswith(numbers.DISTURBED_MARK + " ")


def test_percentages_intervals_seeds_and_counts():
    assert numbers.percent(45.0) == "45.0%"
    assert numbers.percent(0.0123, 2, fraction=True) == "1.23%"
    assert numbers.percent(4.5e-7, 2, fraction=True) == "0.00%"  # a share is read to its place
    assert numbers.interval(0.981, 1.043) == "[0.98, 1.04]"
    assert numbers.interval(-1.5, 2.25, sign=True) == "[-1.50, +2.25]"
    assert numbers.over_seeds(60.0, 10.0, 3) == "60.00 ± 10.00 (3)"
    assert numbers.over_seeds(60.0, float("nan"), 1) == "60.00"
    assert numbers.verdict({"verdict": "disturbed", "reasons": ["busy"]}) == "disturbed (busy)"
    assert (numbers.count(1, "thread"), numbers.count(2, "thread")) == ("1 thread", "2 threads")


def _table() -> TextTable:
    """A label a user wrote with every character some format reads as markup."""
    rows = [
        ["r3d", "<b>a&b</b> 50%_x", Figure(33_371_472, "33.37 M"), numbers.latency(94.6, True)],
        ["x3d", "plain", Figure(343, "343"), None],
    ]
    columns = [
        Column("Family", "left"),
        Column("Model", "left"),
        Column("Params"),
        Column("Latency"),
    ]
    return TextTable(columns, rows, "t", [numbers.DISTURBED_NOTE], group=0)


def test_markdown_shows_texts_and_footnotes():
    lines = to_markdown(_table()).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[:4]]
    assert cells[0] == ["Family", "Model", "Params", "Latency"]
    assert cells[2][2:] == ["33.37 M", "94.60 ms †"] and cells[3][2:] == ["343", "–"]
    assert lines[1].endswith("-:|")  # numbers right-aligned
    assert lines[-1] == f"- {numbers.DISTURBED_NOTE}"


def test_csv_keeps_the_numbers_at_full_precision():
    rows = list(csv.reader(io.StringIO(to_csv(_table()))))
    assert rows[0] == ["Family", "Model", "Params", "Latency"]
    assert rows[1][1:3] == ["<b>a&b</b> 50%_x", "33371472"] and rows[2][2:] == ["343", ""]


def test_latex_escapes_user_text_and_rules_between_groups():
    text = to_latex(_table())
    assert r"<b>a\&b</b> 50\%\_x" in text and r"94.60 ms \dag{}" in text
    body = text.split(r"\midrule", 1)[1]
    assert body.count(r"\midrule") == 1  # between the two families
    assert text.splitlines()[-1] == f"% {numbers.DISTURBED_NOTE}"


def test_html_escapes_user_text_and_carries_numbers_for_sorting():
    html = to_html(_table(), 'class="cells"')
    assert "<b>" not in html and "&lt;b&gt;a&amp;b&lt;/b&gt;" in html

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells: list[tuple[dict, str]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "td":
                self.cells.append((dict(attrs), ""))

        def handle_data(self, data):
            if self.cells and not self.cells[-1][1]:
                self.cells[-1] = (self.cells[-1][0], data)

    parser = Cells()
    parser.feed(html)
    assert parser.cells[2] == ({"data-value": "33371472"}, "33.37 M")
    assert parser.cells[1][0] == {}  # text cells carry no number


def test_rich_reads_no_markup_in_cells():
    table = _table()
    table.rows[1][1] = "[red]x[/red]"
    rendered = to_rich(table)
    assert str(rendered.columns[1]._cells[1]) == "[red]x[/red]"
    assert rendered.caption == numbers.DISTURBED_NOTE


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, numbers.MISSING), (26.4, "26 s"), (508.2, "8 min 28 s"), (3725, "1 h 02 min")],
)
def test_a_duration_reads_in_the_units_a_person_says(seconds, text):
    assert numbers.duration(seconds) == text
