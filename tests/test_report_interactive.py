"""The interactive figures' data: one row per cell in the table's order, hover texts that say
what a value is, the report's colours; figures only where the store has both of their values."""

import shutil
from pathlib import Path

import pytest

from mtbench.report.build import report_styles
from mtbench.report.frame import load_stores
from mtbench.report.interactive import cell_source, interactive_figures
from mtbench.report.tables import ordered_rows, summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def stores(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    return load_stores(tmp_path / "reports")


def test_rows_follow_the_table_and_hover_texts_name_the_spread(stores):
    store = next(s for s in stores if s.suite == "substreams")
    cells = ordered_rows(store.ok, None)
    source = cell_source(cells, report_styles(stores))
    assert source.data["label"] == list(summary_table(store.frame)["Model"])
    i = source.data["label"].index("MTNet-64")
    assert source.data["latency_text"][i].startswith("66.25 ms (p10 ")
    assert source.data["top1_text"][i] == "84.88%"
    assert source.data["colour"][i] == report_styles(stores)["mtnet"][0]
    r3d = source.data["label"].index("R3D-18")
    assert source.data["top1_text"][r3d] == "–" and source.data["top1"][r3d] is None


def test_a_store_without_accuracy_gets_only_the_cost_figures(stores):
    store = next(s for s in stores if s.suite == "baselines")
    html = interactive_figures(ordered_rows(store.ok, None), report_styles(stores), "find-b")
    assert "params_m-vs-gflops" in html and "gflops-vs-latency_fwd_ms" in html
    assert "gflops-vs-top1" not in html and "latency_fwd_ms-vs-top1" not in html
    assert "window.mtbenchSelect(" in html and 'data-find="find-b"' in html
