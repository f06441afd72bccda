"""Scenario results in `mtbench table`, its 'can it run live' table and `compare` (issue 38),
read from records whose scenario parts are written here, so every printed figure has a
known source."""

import copy
import csv
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from mtbench.report.frame import load_store
from mtbench.suite.store import read_records, write_records

FIXTURES = Path(__file__).parent / "fixtures" / "report" / "substreams"
SETTINGS = {"min_duration_s": 1.0, "seed": 0, "window": 16, "stride": 8}
SETTINGS_SERVER = {"min_duration_s": 1.0, "seed": 0, "target_latency_ms": 1000.0}


def _stream(fps: float, miss_rate: float, p99: float) -> dict:
    return {
        "fps": fps,
        "window": 16,
        "stride": 8,
        "source": "frames",
        "windows": 10,
        "misses": round(miss_rate * 10),
        "miss_rate": miss_rate,
        "p50_ms": p99 - 10,
        "p90_ms": p99 - 2,
        "p99_ms": p99,
        "max_ms": p99,
        "sustained_fps": fps,
        "forward_ms": p99 - 12,
    }


def _loadgen(p90: float, result: str, failed: list[str]) -> dict:
    return {
        "scenario": "Server",
        "result": result,
        "failed": failed,
        "percentiles_ms": {"p50": p90 / 2, "p90": p90, "p99": p90 * 1.5},
        "samples_per_s": 5.0,
        "qps_with_overhead": None,
        "qps_without_overhead": None,
        "logs": [],
    }


CURVE = [  # a server search's steps, out of order as bisection runs them
    {"at": 10.0, "passed": True, "p99_ms": 300.0, "throughput": 9.5},
    {"at": 15.0, "passed": False, "p99_ms": 1900.0, "throughput": 13.0},
    {"at": 12.0, "passed": True, "p99_ms": 700.0, "throughput": 11.8},
]


def _part(name: str, **fields) -> dict:
    part = {
        "name": name,
        "settings": SETTINGS_SERVER if name == "server" else SETTINGS,
        "short": True,
        "mlperf_valid": False,
        "label": "short run (1 s; MLPerf: 600 s): not MLPerf-valid",
        "loadgen": None,
        "stream": None,
        "search": None,
    }
    return {**part, **fields}


def _search(over: str, found: float | None) -> dict:
    return {"over": over, "curve": [], "found": found, "note": None if found else "none passed"}


def _as(record: dict, label: str, scenario: str, part: dict) -> dict:
    out = copy.deepcopy(record)
    out.update(label=label, scenario=scenario, scenario_run=part, cell_key=f"key-{label}")
    return out


@pytest.fixture
def store(tmp_path):
    records = {r["label"]: r for r in read_records(FIXTURES)}
    mtnet, r3d = records["MTNet-32 r=0.875 g=1"], records["R3D-18"]
    written = [
        _as(mtnet, "mtnet 25", "stream", _part("stream", stream=_stream(25.0, 0.0, 140.0))),
        _as(mtnet, "mtnet 30", "stream", _part("stream", stream=_stream(30.0, 0.5, 300.0))),
        _as(
            mtnet,
            "mtnet live",
            "stream",
            _part("stream", stream=_stream(27.5, 0.0, 150.0), search=_search("fps", 27.5)),
        ),
        _as(
            mtnet,
            "mtnet server",
            "server",
            _part(
                "server",
                loadgen=_loadgen(80.0, "INVALID", ["early stopping"]),
                search={**_search("target_qps", 12.0), "curve": CURVE},
            ),
        ),
        _as(
            r3d,
            "r3d server",
            "server",
            _part("server", loadgen=_loadgen(200.0, "VALID", []), search=_search("target_qps", 3)),
        ),
    ]
    folder = tmp_path / "reports" / "scenarios"
    write_records(folder, written)
    return folder


def test_the_live_table_reads_the_search_and_the_fixed_rates(store, report_cli):
    result = report_cli("table", store.parent, "--live")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.startswith("| mtnet-32")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:] == ["16 / 8", "27.5", "0.0", "50.0", "140.00"]
    assert "Runs of 1 s each: short runs" in result.output
    text = report_cli("table", store.parent, "--live", "--format", "csv").output
    assert list(csv.reader(text.splitlines()))[1][4:] == ["27.5", "0.0", "50.0", "140.0"]


def test_the_table_labels_every_scenario_row_and_shows_its_figures(store, report_cli):
    result = report_cli("table", store.parent)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "server" in line]
    assert len(lines) == 2
    mtnet = next(line for line in lines if "mtnet server" in line)
    assert "server: INVALID (early stopping); short run (1 s; MLPerf: 600 s): not MLPerf-valid" in (
        mtnet
    )
    cells = [c.strip() for c in mtnet.strip("|").split("|")]
    assert cells[-6:] == ["80.00", "120.00", "12.00", "–", "–", "–"]  # p90, p99, QPS; stream
    assert "server: VALID; short run" in next(line for line in lines if "r3d server" in line)


def test_compare_gives_p90_and_qps_ratios_within_one_scenario(store, report_cli):
    result = report_cli("compare", store.parent, "--baseline", "mtnet server")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.startswith("| r3d server")]
    assert "2.50 (one run each)" in row  # p90 200 / 80
    assert "0.25 (one run each)" in row  # QPS 3 / 12
    # A stream cell is another scenario: not compared with a server's.
    assert "not compared: mtnet 25" in result.output


def test_a_store_without_scenarios_keeps_its_table(tmp_path):
    folder = tmp_path / "reports" / "substreams"
    write_records(folder, read_records(FIXTURES))
    frame = load_store(folder).frame
    assert set(frame["scenario"]) == {"repeat"} and frame["scenario_p90_ms"].isna().all()
    from mtbench.report.tables import summary_table

    assert not any(c.startswith(("Scenario", "QPS", "Live")) for c in summary_table(frame).columns)


def test_the_server_curve_draws_each_step_in_order_of_throughput(store):
    from mtbench.report.scenario_plots import server_curve

    frame = load_store(store).frame
    figure = server_curve(frame[frame["status"] == "ok"])
    (line,) = [ln for ln in figure.axes[0].lines if ln.get_label().startswith("mtnet server")]
    assert line.get_xydata().tolist() == [[9.5, 300.0], [11.8, 700.0], [13.0, 1900.0]]
    (bound,) = [ln for ln in figure.axes[0].lines if ln.get_label().startswith("p99 bound")]
    assert bound.get_ydata()[0] == SETTINGS_SERVER["target_latency_ms"]


def test_a_cells_log_line_carries_its_scenario():
    from mtbench.suite.runner import scenario_figure

    stream = _part("stream", stream=_stream(30.0, 0.5, 300.0))
    assert scenario_figure(stream) == "stream 30.0 fps, 50.0% missed"
    server = _part(
        "server", loadgen=_loadgen(80.0, "INVALID", []), search=_search("target_qps", 12.0)
    )
    assert scenario_figure(server) == "server p99 120.00 ms, INVALID, found 12.0"
    single = _part("single-stream", loadgen=_loadgen(80.0, "VALID", []))
    assert scenario_figure(single) == "single-stream p90 80.00 ms, VALID"


def _kept(center: float, n: int = 200) -> list[float]:
    """Per-query latencies spread evenly over center ± 10 ms: their p90 is center + 8."""
    return [center - 10 + 20 * i / (n - 1) for i in range(n)]


@pytest.fixture
def sampled_store(tmp_path):
    """Single-stream and server cells whose records kept their per-query latencies (and the
    server searches their curves), one of them run on a disturbed machine."""
    records = {r["label"]: r for r in read_records(FIXTURES)}
    mtnet, r3d = records["MTNet-32 r=0.875 g=1"], records["R3D-18"]

    def single(latencies: list[float], qps: float, verdict: str = "clean") -> dict:
        run = {**_loadgen(sorted(latencies)[179], "VALID", []), "scenario": "SingleStream"}
        run.update(qps_without_overhead=qps, latencies_ms=latencies)
        return _part("single-stream", loadgen=run, verdict=verdict, reasons=[])

    def server(found: float, failing: float, latencies: list[float]) -> dict:
        curve = [{"at": found, "passed": True}, {"at": failing, "passed": False}]
        run = {**_loadgen(sorted(latencies)[179], "VALID", []), "latencies_ms": latencies}
        return _part("server", loadgen=run, search={**_search("target_qps", found), "curve": curve})

    written = [
        _as(mtnet, "mtnet single", "single-stream", single(_kept(80.0), 12.5)),
        _as(r3d, "r3d single", "single-stream", single(_kept(200.0), 5.0)),
        _as(mtnet, "mtnet server", "server", server(12.0, 15.0, _kept(80.0))),
        _as(r3d, "r3d server", "server", server(3.0, 4.0, _kept(200.0))),
    ]
    busy = _as(r3d, "r3d busy", "single-stream", single(_kept(200.0), 5.0, "disturbed"))
    folder = tmp_path / "reports" / "sampled"
    write_records(folder, [*written, busy])
    return folder


def _ratios(report_cli, store, baseline: str, cell: str) -> list[str]:
    result = report_cli("compare", store.parent, "--baseline", baseline)
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if line.startswith(f"| {cell} ")]
    header = next(line for line in result.output.splitlines() if "Scenario p90 ratio" in line)
    cells = zip(header.strip("|").split("|"), row.strip("|").split("|"), strict=True)
    named = {key.strip(): value.strip() for key, value in cells}
    return [named["Scenario p90 ratio"], named["QPS ratio"]]


def _interval(text: str) -> tuple[float, float, float]:
    """'2.36 [2.30, 2.42]' (and any mark after it) as its three numbers."""
    value, bounds = text.split(" [", 1)
    low, high = bounds.partition("]")[0].split(", ")
    return float(value), float(low), float(high)


def test_compare_bounds_scenario_ratios_with_the_kept_latencies(sampled_store, report_cli):
    p90, qps = _ratios(report_cli, sampled_store, "mtnet single", "r3d single")
    value, low, high = _interval(p90)
    # p90s 208 and 88 ms; 200 queries a side leave the bootstrap a few percent either way.
    assert value == pytest.approx(208 / 88, abs=0.01) and low < value < high
    assert 0.9 * 208 / 88 < low and high < 1.1 * 208 / 88 and "n.r." not in p90
    value, low, high = _interval(qps)
    # Queries/s go as 1/mean: 200 evenly spread latencies leave the means a fraction of a
    # percent, so the printed interval is the ratio to two places on both sides.
    assert (low, value, high) == (0.40, 0.40, 0.40) and "n.r." not in qps
    # The server's highest rates are bounded by each search's next failing step.
    p90, qps = _ratios(report_cli, sampled_store, "mtnet server", "r3d server")
    assert qps == "0.25 [0.20, 0.33] (search step)"  # 3/12 within [3/15, 4/12]
    assert _interval(p90)[1] > 2.0


def test_a_disturbed_scenario_gets_no_interval(sampled_store, report_cli):
    p90, qps = _ratios(report_cli, sampled_store, "mtnet single", "r3d busy")
    assert p90.endswith("†") and "[" not in p90 and qps.endswith("†")


def test_the_scenario_summary_puts_each_scenarios_figure_side_by_side(sampled_store, report_cli):
    records = {r["label"]: r for r in read_records(sampled_store)}
    result = report_cli("table", sampled_store.parent, "--scenarios")
    assert result.exit_code == 0, result.output
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in result.output.splitlines()
        if line.startswith("| mtnet-32") or line.startswith("| r3d-18")
    }
    mtnet, r3d = rows["mtnet-32 g=1, r=0.875"], rows["r3d-18"]
    single = records["mtnet single"]
    assert mtnet[3] == f"{single['gflops']:.2f}"
    assert mtnet[4] == f"{single['latency_fwd_ms']['median']:.2f}"
    # p90 of 200 latencies spread over 70-90 ms as LoadGen's summary gave it; the server's
    # highest rate; no multi-stream, offline or stream cell: missing, never guessed.
    assert mtnet[5:] == ["87.99", "–", "12.00", "–", "–", "–"]
    # Two single-stream cells of r3d-18: the latest, run on a busy machine, is marked.
    assert r3d[5] == "207.99 †" and r3d[7] == "3.00"
    assert "short runs, never MLPerf-valid" in result.output


def test_live_and_scenarios_are_two_tables(sampled_store, cli_inproc):
    result = cli_inproc("table", str(sampled_store.parent), "--scenarios", "--live")
    assert_one_line_error(result, "--live and --scenarios are two tables: ask for one")


def test_a_search_that_passed_every_step_is_shown_as_a_lower_bound(tmp_path, report_cli):
    """X3D-S under OpenVINO passed at every rate its server search tried: the rate it found is
    the top of the range searched, not the highest it sustains."""
    records = {r["label"]: r for r in read_records(FIXTURES)}
    curve = [{"at": 20.0, "passed": True}, {"at": 30.0, "passed": True}]
    open_ended = {**_search("target_qps", 30.0), "curve": curve, "note": "every step passed"}
    bounded = {**_search("target_qps", 3.0), "curve": [*curve[:1], {"at": 4.0, "passed": False}]}
    written = [
        _as(
            records["MTNet-32 r=0.875 g=1"],
            "mtnet server",
            "server",
            _part("server", loadgen=_loadgen(80.0, "VALID", []), search=open_ended),
        ),
        _as(
            records["R3D-18"],
            "r3d server",
            "server",
            _part("server", loadgen=_loadgen(200.0, "VALID", []), search=bounded),
        ),
    ]
    folder = tmp_path / "reports" / "open"
    write_records(folder, written)
    result = report_cli("table", folder.parent, "--scenarios")
    assert result.exit_code == 0, result.output
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in result.output.splitlines()
        if line.startswith(("| mtnet-32", "| r3d-18"))
    }
    assert rows["mtnet-32 g=1, r=0.875"][7] == "≥ 30.00" and rows["r3d-18"][7] == "3.00"
    assert "≥: every step of the search passed" in result.output
