"""A disturbed timing is marked wherever latency is shown and is never called resolved; an old
store's timings read `unknown`, not `clean` (issue 27)."""

from pathlib import Path

import numpy as np
import typer
from typer.testing import CliRunner

from mtbench.numbers import DISTURBED_MARK, DISTURBED_NOTE
from mtbench.report.commands import register
from mtbench.report.compare import latency_ratio, ratio_text
from mtbench.report.frame import load_stores
from mtbench.report.tables import render
from mtbench.suite.runner import records_table
from mtbench.suite.store import read_records, write_records
from mtbench.table_model import text_of

FIXTURES = Path(__file__).parent / "fixtures" / "report"
BASE = "MTNet-32 r=0.875 g=1"
BUSY = "R3D-18"


def _store(tmp_path, disturbed: str | None = BUSY) -> Path:
    """The fixture store, every timing given ten raw repeats; `disturbed`'s forward marked."""
    rng = np.random.default_rng(0)
    records = read_records(FIXTURES / "substreams")
    for record in records:
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            if stats := record.get(key):
                samples = stats["median"] * rng.lognormal(0, 0.03, size=10)
                stats.update(median=float(np.median(samples)), samples=samples.tolist())
                stats.update(verdict="clean", reasons=[], contention=None)
        if record["label"] == disturbed:
            record["latency_fwd_ms"].update(verdict="disturbed", reasons=["busy"])
    folder = tmp_path / "reports" / "substreams"
    write_records(folder, records)
    return folder


def _compare(folder: Path) -> dict[str, list[str]]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["compare", str(folder.parent), "--baseline", BASE])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "|" in line and "---" not in line]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    return {row[0]: row for row in rows}


def test_a_ratio_with_a_disturbed_side_has_no_interval_and_is_never_resolved():
    rng = np.random.default_rng(1)
    base, cell = 40 * rng.lognormal(0, 0.01, size=(2, 20))
    cell = cell * 3  # clearly apart: resolved if it were clean
    estimate = latency_ratio(cell, base, np.median(cell), np.median(base), disturbed=True)
    assert not estimate.has_interval and estimate.resolved is None
    assert ratio_text(estimate).endswith(DISTURBED_MARK) and "[" not in ratio_text(estimate)


def test_compare_prints_disturbed_for_the_busy_cell_and_intervals_for_the_others(tmp_path):
    rows = _compare(_store(tmp_path))
    busy, quiet = rows[BUSY], rows["MTNet-32 r=0.75 g=1"]
    assert busy[2].endswith(DISTURBED_MARK) and "[" not in busy[2]  # forward: disturbed side
    assert "[" in busy[3]  # its forward+backward was clean: interval as usual
    assert "[" in quiet[2] and DISTURBED_MARK not in quiet[2]


def test_a_disturbed_baseline_disturbs_every_ratio_against_it(tmp_path):
    rows = _compare(_store(tmp_path, disturbed=BASE))
    assert len(rows) == 8 and all(row[2].endswith(DISTURBED_MARK) for row in rows.values())


def test_tables_and_show_mark_the_disturbed_timing(tmp_path):
    folder = _store(tmp_path)
    text = render(load_stores(folder), "md")
    busy = next(line for line in text.splitlines() if f"| {BUSY}" in line)
    assert busy.count(DISTURBED_MARK) == 1 and DISTURBED_NOTE in text
    quiet = next(line for line in text.splitlines() if "| MTNet-32 r=0.75 g=1" in line)
    assert DISTURBED_MARK not in quiet
    table = records_table(read_records(folder), "t")
    shown = {row[0]: text_of(row[4]) for row in table.rows}
    assert shown[BUSY].endswith(" †") and not shown["MTNet-32 r=0.75 g=1"].endswith("†")
    assert DISTURBED_NOTE in table.footnotes


def test_an_old_store_reads_unknown_and_is_neither_marked_nor_refused(tmp_path):
    folder = tmp_path / "reports" / "substreams"
    write_records(folder, read_records(FIXTURES / "substreams"))  # no verdict fields at all
    frame = load_stores(folder)[0].frame
    timed = frame[frame["latency_fwd_ms"].notna()]
    assert set(timed["latency_fwd_verdict"]) == {"unknown"}
    assert DISTURBED_MARK not in render(load_stores(folder), "md")
    assert all(DISTURBED_MARK not in row[2] for row in _compare(folder).values())


def test_figures_draw_a_disturbed_latency_hollow_and_only_on_latency_axes(tmp_path):
    from matplotlib.colors import to_hex

    from mtbench.report import plots
    from mtbench.report.interactive import cell_source
    from mtbench.report.style import family_styles

    cells = load_stores(_store(tmp_path))[0].ok
    busy = list(cells["label"]).index(BUSY)
    bars = plots.latency_bars(cells).axes[0].patches
    hatched = [p for p in bars if p.get_hatch() == plots.DISTURBED_HATCH]
    assert len(hatched) == 1 and to_hex(hatched[0].get_facecolor()) == "#ffffff"
    counts, timed = plots.complexity(cells).axes[:2]
    faces = [to_hex(c) for pc in timed.collections for c in pc.get_facecolors()]
    assert faces.count("#ffffff") == 1  # the latency panel: R3D-18 hollow
    assert "#ffffff" not in [to_hex(c) for pc in counts.collections for c in pc.get_facecolors()]
    source = cell_source(cells, family_styles(cells["family"])).data
    assert source["latency_fill"][busy] == "white" and source["fill"][busy] != "white"
    assert [i for i, f in enumerate(source["latency_fill"]) if f == "white"] == [busy]
