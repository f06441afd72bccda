"""`mtbench history`: every measurement of a cell over code versions, with what changed and the
regressions flagged by the intervals `compare` uses; nothing is dropped from the store."""

import numpy as np
import pytest

from mtbench.report.frame import load_stores
from mtbench.report.history import cell_histories, render_history
from mtbench.suite.store import append_record, read_records

RNG = np.random.default_rng(0)


def env(torch="2.4.0", mtbench="0.3.0", commit="aaaa111"):
    return {"cpu": "Test CPU", "threads": 2, "torch": torch, "mtbench": mtbench,
            "git_commit": commit}  # fmt: skip


def record(key, label, median, when, code=None, seed=None, top1=None, group=None, sha="f00d"):
    samples = (median * (1 + RNG.normal(0, 0.01, 20))).tolist()
    return {
        "suite": "hist", "cell_key": key, "label": label, "model": label.split()[0],
        "family": "mtnet", "model_kwargs": {}, "input_shape": [1, 3, 8, 32, 32],
        "params_total": 1e6, "gflops": 1.0, "status": "ok", "started_at": when,
        "latency_fwd_ms": {"median": median, "p10": median * 0.99, "p90": median * 1.01,
                           "samples": samples},
        "env": code or env(), "provenance": {"sha256": sha}, "seed": seed, "top1": top1,
        "seed_group": group,
    }  # fmt: skip


@pytest.fixture
def store(tmp_path):
    """mtnet-32 measured three times: again under the same code (no change), then under torch
    2.5.0 at +19%; mtnet-64 once; r3d-18 trained over 3 seeds twice, a new commit 8 points
    lower."""
    folder = tmp_path / "hist"
    append_record(folder, record("k32", "mtnet-32", 10.0, "2026-01-01T10:00:00"))
    append_record(folder, record("k64", "mtnet-64 <img src=x onerror=alert(1)>", 20.0,
                                 "2026-01-01T10:01:00"))  # fmt: skip
    append_record(folder, record("k32", "mtnet-32", 10.05, "2026-01-02T10:00:00"))
    append_record(folder, record("k32", "mtnet-32", 12.0, "2026-01-03T10:00:00", env("2.5.0")))
    for commit, base in (("aaaa111", 60.0), ("bbbb222", 52.0)):
        for seed in range(3):
            append_record(folder, record(f"r3d-{seed}", f"r3d-18 train.seed={seed}", 5.0,
                                         f"2026-01-0{4 + (commit > 'b')}T10:0{seed}:00",
                                         env(commit=commit), seed, base + seed, "r3d"))  # fmt: skip
    return folder


def histories(folder, threshold=0.05):
    (s,) = load_stores(folder)
    return {h.label: h for h in cell_histories(s.records, threshold)}


def test_measurements_are_cut_where_code_changed_or_a_seed_came_again(store):
    found = histories(store)
    assert [len(found[k].measurements) for k in found] == [3, 1, 2]
    r3d = found["r3d-18"]
    assert [len(m.records) for m in r3d.measurements] == [3, 3]
    assert r3d.steps[0].changed == ["commit aaaa111 → bbbb222"]
    torch_step = found["mtnet-32"].steps[1]
    assert torch_step.changed == ["torch 2.4.0 → 2.5.0"]
    assert found["mtnet-32"].steps[0].changed == ["nothing recorded (measured again)"]


def test_a_latency_step_is_flagged_only_beyond_the_threshold_with_its_interval(store):
    found = histories(store)
    again, upgrade = found["mtnet-32"].steps
    assert not again.regressions  # +0.5%, under 5%
    ratio = upgrade.estimates["F"]
    assert ratio.value == pytest.approx(12.0 / 10.05) and ratio.low > 1.1
    assert upgrade.regressions == ["latency F +19.4%"]
    assert not histories(store, threshold=0.25)["mtnet-32"].steps[1].regressions


def test_accuracy_over_seeds_is_flagged_with_the_seed_interval(store):
    step = histories(store)["r3d-18"].steps[0]
    assert step.estimates["top-1"].value == pytest.approx(-8.0)
    assert step.regressions == ["top-1 -8.00 points (-13.1%)"]


def test_nothing_is_dropped_and_the_views_keep_the_latest(store):
    assert len(read_records(store)) == 10
    ok = load_stores(store)[0].ok
    latest = ok.set_index("label")["latency_fwd_ms"]
    assert latest["r3d-18"] == 5.0 and ok.set_index("label").loc["r3d-18", "top1"] == 53.0


def test_render_lists_measurements_steps_and_the_flags(store):
    text = render_history(list(histories(store).values()), 0.05)
    assert "| torch 2.4.0 → 2.5.0 |" in text.replace("  ", " ") or "torch 2.4.0 → 2.5.0" in text
    assert "REGRESSION: latency F +19.4%" in text
    assert text.rstrip().splitlines()[-3] == "2 regression(s) flagged (threshold 5%):"


def test_history_command_fails_on_regression_and_reads_bad_input_as_one_line(store, cli_inproc):
    result = cli_inproc("history", str(store), "--cell", "k32")
    assert result.returncode == 0 and "2026-01-03 10:00:00" in result.stdout
    assert "REGRESSION" in result.stdout and "r3d-18" not in result.stdout.split("flagged")[0]
    assert cli_inproc("history", str(store), "--fail-on-regression").returncode == 1
    calm = cli_inproc("history", str(store), "--model", "mtnet-32", "--threshold", "30",
                      "--fail-on-regression")  # fmt: skip
    assert calm.returncode == 0 and "no regression flagged (threshold 30%)" in calm.stdout
    for args, needle in (
        (["--cell", "nope"], "--cell 'nope': no such cell"),
        (["--threshold", "0"], "--threshold 0: a percentage above 0"),
        (["--cell", "k32", "--model", "x"], "give one of them"),
    ):
        bad = cli_inproc("history", str(store), *args)
        assert bad.returncode == 2 and needle in bad.stderr and "Traceback" not in bad.stderr


def test_a_store_measured_once_has_no_history(tmp_path, cli_inproc):
    append_record(tmp_path / "once", record("k", "mtnet-32", 10.0, "2026-01-01T10:00:00"))
    result = cli_inproc("history", str(tmp_path / "once"))
    assert result.returncode == 0 and "measured once" in result.stdout


def test_the_report_has_a_history_panel_only_where_a_cell_was_measured_again(store, tmp_path):
    from mtbench.report.build import build_plots

    html = build_plots(store.parent, ["complexity"], ["png"])[2].read_text()
    assert 'id="history-hist"' in html and "torch 2.4.0 → 2.5.0" in html
    assert '<tr class="warn">' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    once = tmp_path / "once"
    append_record(once / "s", record("k", "mtnet-32", 10.0, "2026-01-01T10:00:00"))
    assert "History" not in build_plots(once, ["complexity"], ["png"])[2].read_text()


def test_a_suite_name_and_label_with_markup_are_text_in_the_page(tmp_path):
    from mtbench.report.build import build_plots

    evil = "<img src=x onerror=alert(1)>"
    row = record("k", f"mtnet-32 {evil} & \"q\" 'a'", 10.0, "2026-01-01T10:00:00")
    row["suite"] = evil
    row["model_kwargs"] = {"note": evil}
    append_record(tmp_path / "r" / "s", row)
    append_record(tmp_path / "r" / "s", {**row, "env": env("2.5.0")})
    html = build_plots(tmp_path / "r", ["complexity"], ["png"])[2].read_text()
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # heading, table, history
