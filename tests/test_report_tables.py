"""Tables from the fixture stores: exactly the store's numbers at the stated rounding."""

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from mtbench.errors import UsageError
from mtbench.report.commands import register
from mtbench.report.frame import load_stores
from mtbench.report.paper import PaperCounts
from mtbench.report.tables import GFLOPS_HEADER, render, summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def reports(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    return tmp_path / "reports"


def store_records(name):
    lines = (FIXTURES / name / "results.jsonl").read_text().splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]


def substreams(reports):
    return next(s for s in load_stores(reports) if s.suite == "substreams")


def test_store_reading_skips_the_torn_line_and_keeps_failed_cells(reports):
    store = substreams(reports)
    assert store.unreadable_lines == 1
    assert len(store.frame) == 10
    assert list(store.failed["label"]) == ["MTNet-132 g=8"]
    assert len(store.ok) == 9


def test_markdown_has_the_store_numbers_rounded(reports):
    text = render([substreams(reports)], "md")
    assert GFLOPS_HEADER in text and "1 MAC = 1 FLOP" in text
    for record in store_records("substreams"):
        if record["status"] != "ok":
            continue
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()]
        cells = next(row for row in rows if len(row) > 1 and row[1] == record["label"])
        assert f"{record['params_total'] / 1e6:.2f} M" in cells  # params in the unit that fits
        assert f"{record['gflops']:.2f}" in cells
        assert f"{record['latency_fwd_ms']['median']:.2f}" in cells
        assert f"{record['latency_fwdbwd_ms']['median']:.2f}" in cells
        if record.get("top1") is not None:
            assert f"{record['top1']:.3f}" in cells and f"{record['top5']:.3f}" in cells
    assert "| MTNet-64 " in text and "42.87 M" in text and "84.876" in text
    assert "- failed: MTNet-132 g=8: RuntimeError: out of memory" in text


def test_csv_keeps_full_precision(reports):
    text = render(load_stores(reports), "csv")
    table = pd.read_csv(io.StringIO(text))
    r3d = table[(table["Suite"] == "baselines") & (table["Model"] == "R3D-18")].iloc[0]
    assert r3d["Params (M)"] == 33.371472
    assert r3d[GFLOPS_HEADER] == 40.70
    assert len(table) == 4 + 9  # failed cells are not rows


def test_latex_is_booktabs_grouped_by_family(reports):
    text = render([substreams(reports)], "latex", sort="gflops")
    assert r"\toprule" in text and r"\bottomrule" in text
    rows = [line for line in text.splitlines() if line.startswith("mtnet &")]
    gflops = [float(line.split(" & ")[5]) for line in rows]
    assert gflops == sorted(gflops)
    body = text.split(r"\midrule", 1)[1]
    assert r"\midrule" + "\nr3d & R3D-18" in body  # a rule between the families
    assert r"Top-1 (\%)" in text and r"16$\times$112$\times$112" in text


def test_sort_within_family(reports):
    table = summary_table(substreams(reports).frame, sort="params")
    mtnet = table[table["Family"] == "mtnet"]["Params (M)"].tolist()
    assert mtnet == sorted(mtnet)
    assert table["Family"].tolist()[-1] == "r3d"


class FakeCounter:
    """Stands in for counting a model again (minutes at 16x256x256 on this CPU): records
    what it was asked and answers with numbers the test knows."""

    def __init__(self):
        self.asked = []

    def __call__(self, model, kwargs, dims, count_norm):
        self.asked.append((model, kwargs, dims))
        return 44.2, {"mtnet-64": 59.0, "mtnet-32": 34.4}.get(model, 9.1)


def test_compare_on_a_cpu_112_store_shows_no_delta_against_256_or_gpu_figures(reports, monkeypatch):
    counter = FakeCounter()
    monkeypatch.setattr("mtbench.report.paper.count_at", counter)
    store = substreams(reports)
    table = summary_table(store.frame, compare=True, counts=PaperCounts(store.folder))
    row = table[table["Model"] == "MTNet-64"].iloc[0]
    # GFLOPs: counted again at the paper's input, and only that count meets the paper's number.
    assert ("mtnet-64", {"r": 0.875, "g": 1, "num_classes": 700}, (16, 256, 256)) in [
        (m, {"r": 0.875, "g": 1, **k}, d) for m, k, d in counter.asked
    ]
    assert row["GFLOPs (1 MAC = 1 FLOP)"] == 63.98  # the cell's own, at 16×112×112
    assert row["GFLOPs at 16×256×256, 700 classes"] == 59.0
    assert row["GFLOPs Δ%"] == pytest.approx((59.0 - 64.53) / 64.53 * 100)
    assert row["Params Δ%"] == pytest.approx((44.2 - 43.02) / 43.02 * 100)
    # Latency: the paper's F and B are GPU figures; the cells ran on cpu: no delta at all.
    assert row["F paper"] == 53.17 and "F Δ%" not in table and "F+B Δ%" not in table
    assert row["Top-1 paper"] == 85.625
    assert pd.isna(table[table["Model"] == "R3D-18"].iloc[0]["Params paper"])
    notes = " ".join(table.attrs["notes"])
    assert "counted again at the paper's input (Table 3, 16×256×256" in notes
    assert "the cells ran at 16×112×112" in notes and "no delta" in notes
    text = render([store], "md", compare=True)
    assert "+2.7" in text and "-8.6" in text  # params and GFLOPs deltas at one decimal
    # The counts are kept beside the store: a second table counts nothing again.
    asked = len(counter.asked)
    render([substreams(reports)], "md", compare=True)
    assert len(counter.asked) == asked


def test_a_cell_at_the_paper_input_on_a_gpu_gets_every_delta(reports, monkeypatch):
    monkeypatch.setattr("mtbench.report.paper.count_at", FakeCounter())
    frame = substreams(reports).frame
    row = frame.index[frame["label"] == "MTNet-64"][0]
    frame.at[row, "input"] = "16×256×256"
    frame.at[row, "kwargs"] = {"num_classes": 700}
    frame.at[row, "device"] = "cuda"
    table = summary_table(frame, compare=True)
    got = table[table["Model"] == "MTNet-64"].iloc[0]
    assert got["GFLOPs Δ%"] == pytest.approx((63.98 - 64.53) / 64.53 * 100)  # its own count
    assert got["F Δ%"] == pytest.approx((66.25 - 53.17) / 53.17 * 100)


def test_measure_only_store_has_no_accuracy_columns(reports):
    table = summary_table(next(s for s in load_stores(reports) if s.suite == "baselines").frame)
    assert "Top-1 (%)" not in table.columns and "Dataset" not in table.columns


def test_bad_options_are_usage_errors(reports):
    with pytest.raises(UsageError, match="--sort"):
        render(load_stores(reports), "md", sort="speed")
    with pytest.raises(UsageError, match="--format"):
        render(load_stores(reports), "html")


def test_table_command(reports):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # more than one command keeps the subcommand names
    result = CliRunner().invoke(app, ["table", str(reports), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "### baselines" in result.output and "### substreams" in result.output
    result = CliRunner().invoke(app, ["table", str(reports), "--compare", "arxiv"])
    assert isinstance(result.exception, UsageError)
