"""The breakdown from the command line and in suites: printed and stored, one-line refusals,
a failing breakdown that leaves the rest of the cell measured, cell keys unchanged."""

import json
import re

import pandas as pd
import pytest
from conftest import assert_one_line_error, run_one_cell
from suite_files import suite_cells

from mtbench.measure import ceilings
from mtbench.measure.profile import ProfileOptions
from mtbench.numbers import DISTURBED_NOTE
from mtbench.report.breakdown_tables import breakdown_markdown

FAST = ("--input", "1x3x4x32x32", "--warmup", "0", "--repeats", "1", "--measure")


@pytest.fixture(autouse=True)
def stub_ceilings(monkeypatch, tmp_path):
    """Ceilings cached in the test's folder and 'measured' at once."""
    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path / "ceilings"))
    measured = {"gemm_gflops": 50.0, "conv3d_gflops": 60.0, "copy_gbs": 10.0, "add_gbs": 12.0}
    monkeypatch.setattr(
        ceilings, "measure_figure", lambda name, *a: ceilings.Measured(measured[name], "clean")
    )


def test_unknown_depth_and_rows_are_one_line_naming_what_exists(cli_inproc):
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--breakdown", "--depth", "9"),
        "--depth 9",
        "no modules at depth 9",
        "depths 0-4",
        "layer1",
    )
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--breakdown", "--by", "layer"), "--by", "module, op"
    )
    assert_one_line_error(cli_inproc("profile", "r3d-18", "--depth", "-1"), "--depth", ">= 0")
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--measure", "latency,breakdown"), "breakdown", "memory"
    )


def test_profile_prints_the_breakdown_by_module_and_by_op(cli_inproc):
    result = cli_inproc("profile", "r3d-18", *FAST, "params,flops", "--breakdown")
    assert result.returncode == 0, result.stderr
    assert "where the cost goes, by module (depth 1)" in result.stdout
    for needle in ("layer4", "fwd ms", "GEMM 50"):
        assert needle in result.stdout
    assert "un-profiled median" in result.stdout
    result = cli_inproc("profile", "r3d-18", *FAST, "params", "--breakdown", "--by", "op")
    assert "dense conv" in result.stdout and "normalisation" in result.stdout


def test_json_carries_the_compact_breakdown_and_the_ceilings(cli_inproc):
    result = cli_inproc("profile", "r3d-18", *FAST, "latency_fwd", "--breakdown", "--json")
    record = json.loads(result.stdout)
    breakdown = record["breakdown"]
    assert breakdown["error"] is None and breakdown["depth"] == 1
    assert [r[0] for r in breakdown["modules"]][:2] == ["stem", "layer1"]
    median = record["latency_fwd_ms"]["median"]
    assert breakdown["unprofiled_fwd_ms"] == pytest.approx(median, rel=1e-3)
    assert record["env"]["ceilings"]["gemm_gflops"] == 50.0
    assert len(json.dumps(breakdown)) < 2500  # 300 cells: well under a megabyte
    ceilings = record["env"]["ceilings"]
    assert re.search(r"\| layer1 +\|", breakdown_markdown("r3d-18", breakdown, ceilings, "module"))


def test_a_failing_breakdown_in_a_suite_keeps_the_rest_of_the_cell(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ninput = [1, 3, 2, 16, 16]\nwarmup = 0\nrepeats = 1\n'
        'measure = ["params", "latency_fwd", "breakdown"]\nbreakdown_depth = 9\n'
        '[[models]]\nname = "r3d-18"\nnum_classes = 3\n'
    )
    record = run_one_cell(path, tmp_path / "out")
    assert record["params_total"] > 0 and record["latency_fwd_ms"]["median"] > 0
    assert "no modules at depth 9" in record["breakdown"]["error"]
    assert record["breakdown_depth"] == 9


def test_breakdown_leaves_existing_cell_keys_alone(tmp_path):
    assert "breakdown_depth" not in ProfileOptions().key_options()
    assert ProfileOptions(breakdown_depth=2).key_options()["breakdown_depth"] == 2
    (plain,) = suite_cells(tmp_path, "")
    (with_depth,) = suite_cells(tmp_path, "breakdown_depth = 2")
    (measured,) = suite_cells(tmp_path, 'measure = ["params", "breakdown"]')
    assert len({plain.key, with_depth.key, measured.key}) == 3
    assert "breakdown" not in ProfileOptions().measure


@pytest.mark.slow
def test_a_suite_with_breakdowns_gets_its_figures_tables_and_report(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ninput = [1, 3, 4, 32, 32]\nwarmup = 0\nrepeats = 1\n'
        'measure = ["params", "flops", "latency_fwd", "breakdown"]\n'
        '[[models]]\nname = ["r3d-18", "x3d-xs"]\nnum_classes = 3\n'
    )
    out = tmp_path / "out"
    assert cli_inproc("run", str(path), "--output", str(out)).returncode == 0
    kinds = "breakdown-shares,breakdown-roofline,breakdown-ops"
    result = cli_inproc("plot", str(out), "--only", kinds, "--format", "png")
    assert result.returncode == 0, result.stderr
    for kind in kinds.split(","):
        assert (out / "plots" / f"s-{kind}.png").stat().st_size > 0
    page = (out / "index.html").read_text()
    assert "Where the cost goes" in page and "layer4" in page and "blocks.3" in page
    table = cli_inproc("table", str(out), "--breakdown", "--by", "op")
    assert table.returncode == 0 and re.search(r"\| dense conv +\|", table.stdout)
    assert re.search(r"\| grouped conv +\|", table.stdout)  # X3D's depthwise convolutions
    assert "x3d-xs" in table.stdout and "un-profiled median" in table.stdout


def test_ceilings_command_prints_caches_and_remeasures(cli_inproc, monkeypatch):
    calls = []
    measured = {"gemm_gflops": 50.0, "conv3d_gflops": 60.0, "copy_gbs": 10.0, "add_gbs": 12.0}
    monkeypatch.setattr(
        ceilings,
        "measure_figure",
        lambda name, *a: calls.append(name) or ceilings.Measured(measured[name], "clean"),
    )
    first = cli_inproc("ceilings", "--threads", "1")
    assert first.returncode == 0 and "cpu/float32/1 threads" in first.stdout
    assert "GEMM 50.0 (clean)" in first.stdout and len(calls) == 4  # one call per figure
    cli_inproc("ceilings", "--threads", "1")
    assert len(calls) == 4
    cli_inproc("ceilings", "--threads", "1", "--remeasure")
    assert len(calls) == 8
    assert_one_line_error(cli_inproc("ceilings", "--dtype", "float64"), "--dtype", "float32")


def test_a_disturbed_breakdown_is_marked_in_tables_and_figures():
    from mtbench.measure.breakdown import MODULE_COLUMNS, OP_COLUMNS
    from mtbench.report.breakdown_plots import _with_breakdown

    b = {
        "depth": 1,
        "error": None,
        "module_columns": list(MODULE_COLUMNS),
        "modules": [["a", 1, 1.0, 1.0, 0.1, 1.0, 10.0, None]],
        "op_columns": list(OP_COLUMNS),
        "ops": [["dense conv", 1.0, 1.0, 1.0, 10.0, None]],
        "fwd_ms": 10.0,
        "unprofiled_fwd_ms": 9.0,
        "time_source": "cpu wall clock",
        "verdict": "disturbed",
    }
    text = breakdown_markdown("m", b, None, "module")
    assert "### m †: where" in text and DISTURBED_NOTE in text  # the one mark, the one note
    frame = pd.DataFrame([{"label": "m", "breakdown": b, "ceilings": None}])
    assert _with_breakdown(frame)[0][0] == "m †"
    assert "(disturbed)" not in breakdown_markdown("m", {**b, "verdict": "clean"}, None, "op")
