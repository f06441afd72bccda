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
        assert f"{record['params_total'] / 1e6:.2f}" in cells
        assert f"{record['gflops']:.2f}" in cells
        assert f"{record['latency_fwd_ms']['median']:.2f}" in cells
        assert f"{record['latency_fwdbwd_ms']['median']:.2f}" in cells
        if record.get("top1") is not None:
            assert f"{record['top1']:.3f}" in cells and f"{record['top5']:.3f}" in cells
    assert "| MTNet-64 " in text and "42.87" in text and "84.876" in text
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


def test_compare_adds_paper_and_delta(reports):
    table = summary_table(substreams(reports).frame, compare=True)
    row = table[table["Model"] == "MTNet-64"].iloc[0]
    assert row["Params paper"] == 43.02
    assert row["Params Δ%"] == pytest.approx((42.87 - 43.02) / 43.02 * 100)
    assert row["Top-1 paper"] == 85.625
    assert pd.isna(table[table["Model"] == "R3D-18"].iloc[0]["Params paper"])
    text = render([substreams(reports)], "md", compare=True)
    assert "-0.3" in text  # params delta at one decimal


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
