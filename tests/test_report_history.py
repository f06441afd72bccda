"""`mtbench history`: every measurement of a cell over code versions, with what changed and the
regressions flagged by the intervals `compare` uses; nothing is dropped from the store."""

import numpy as np
import pytest

from mtbench.report.frame import load_stores
from mtbench.report.history import cell_histories, render_history
from mtbench.suite.store import append_record, read_records

RNG = np.random.default_rng(0)


def env(torch="2.4.0", mtbench="0.3.0", commit="aaaa111"):
    return {
        "cpu": "Test CPU",
        "threads": 2,
        "torch": torch,
        "mtbench": mtbench,
        "git_commit": commit,
    }


def record(key, label, median, when, code=None, seed=None, top1=None, group=None, sha="f00d"):
    samples = (median * (1 + RNG.normal(0, 0.01, 20))).tolist()
    return {
        "suite": "hist",
        "cell_key": key,
        "label": label,
        "model": label.split()[0],
        "family": "mtnet",
        "model_kwargs": {},
        "input_shape": [1, 3, 8, 32, 32],
        "params_total": 1e6,
        "gflops": 1.0,
        "status": "ok",
        "started_at": when,
        "latency_fwd_ms": {
            "median": median,
            "p10": median * 0.99,
            "p90": median * 1.01,
            "samples": samples,
        },
        "env": code or env(),
        "provenance": {"sha256": sha},
        "seed": seed,
        "top1": top1,
        "seed_group": group,
    }


@pytest.fixture
def store(tmp_path):
    """mtnet-32 measured three times: again under the same code (no change), then under torch
    2.5.0 at +19%; mtnet-64 once; r3d-18 trained over 3 seeds twice, a new commit 8 points
    lower."""
    folder = tmp_path / "hist"
    append_record(folder, record("k32", "mtnet-32", 10.0, "2026-01-01T10:00:00"))
    append_record(
        folder, record("k64", "mtnet-64 <img src=x onerror=alert(1)>", 20.0, "2026-01-01T10:01:00")
    )
    append_record(folder, record("k32", "mtnet-32", 10.05, "2026-01-02T10:00:00"))
    append_record(folder, record("k32", "mtnet-32", 12.0, "2026-01-03T10:00:00", env("2.5.0")))
    for commit, base in (("aaaa111", 60.0), ("bbbb222", 52.0)):
        for seed in range(3):
            append_record(
                folder,
                record(
                    f"r3d-{seed}",
                    f"r3d-18 train.seed={seed}",
                    5.0,
                    f"2026-01-0{4 + (commit > 'b')}T10:0{seed}:00",
                    env(commit=commit),
                    seed,
                    base + seed,
                    "r3d",
                ),
            )
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
    calm = cli_inproc(
        "history", str(store), "--model", "mtnet-32", "--threshold", "30", "--fail-on-regression"
    )
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


# A CI gate on one x3d-xs cell: measured at 40 ms under commit aaaa111, then again under bbbb222.
SPREAD = np.linspace(0.98, 1.02, 21)  # odd and symmetric: the median is exactly the figure


def contention(others_cores):
    return {
        "others_share": others_cores / 2,
        "others_cores": others_cores,
        "pressure_some": None,
        "load_before": None,
        "load_after": None,
        "wall_s": 1.0,
        "own_cpu_s": 2.0,
        "cores": 2,
        "threads": 2,
    }


def timed_record(median, commit, when, others_cores=0.0):
    """An x3d-xs record as the runner writes one, its forward timed with other processes on
    `others_cores` of the 2 cores (1.9: disturbed, as the contention meter judges it)."""
    from dataclasses import replace

    from mtbench.measure.contention import verdict
    from mtbench.measure.latency import summarize
    from mtbench.record import new_record, with_cell

    identity = {
        "model": "x3d-xs",
        "family": "x3d",
        "provenance": {"sha256": "f00d"},
        "model_kwargs": {},
        "input_shape": [1, 3, 4, 160, 160],
    }
    record = new_record(identity, {"device": "cpu", "threads": 2}, when)
    stats = summarize((median * SPREAD).tolist())
    said, reasons = verdict(contention(others_cores), stats.samples)
    stats = replace(stats, contention=contention(others_cores), verdict=said, reasons=reasons)
    record.update(status="ok", latency_fwd_ms=stats.as_dict(), env=env(commit=commit))
    return with_cell(record, {"suite": "gate", "cell_key": "x3d0", "label": "x3d-xs"})


def gate_store(folder, before_ms, after_ms, disturbed_side=None):
    busy = {side: 1.9 if side == disturbed_side else 0.0 for side in ("before", "after")}
    append_record(folder, timed_record(before_ms, "aaaa111", "2026-02-01T10:00:00", busy["before"]))
    append_record(folder, timed_record(after_ms, "bbbb222", "2026-02-02T10:00:00", busy["after"]))
    return folder


@pytest.mark.parametrize(
    ("side", "before_ms", "after_ms"), [("after", 40.0, 120.0), ("before", 120.0, 40.0)]
)
def test_a_change_with_a_disturbed_side_is_neither_regression_nor_improvement(
    tmp_path, cli_inproc, side, before_ms, after_ms
):
    store = gate_store(tmp_path / "gate", before_ms, after_ms, disturbed_side=side)
    verdicts = [r["latency_fwd_ms"]["verdict"] for r in read_records(store)]
    assert verdicts == (["clean", "disturbed"] if side == "after" else ["disturbed", "clean"])
    (step,) = histories(store)["x3d-xs"].steps
    ratio = step.estimates["F"]
    assert ratio.value == pytest.approx(after_ms / before_ms) and not ratio.has_interval
    assert step.regressions == [] and step.improvements == []
    change = f"latency F {after_ms / before_ms - 1:+.1%}"
    assert step.disturbed == [change]
    result = cli_inproc("history", str(store), "--fail-on-regression")
    assert result.returncode == 0, result.stdout
    assert f"DISTURBED (not judged): {change}" in result.stdout
    assert "REGRESSION" not in result.stdout and "IMPROVEMENT" not in result.stdout
    summary = result.stdout.rstrip().splitlines()
    assert summary[-1] == "no regression flagged (threshold 5%)"
    assert summary[-3] == f"- x3d-xs on Test CPU: {change} (commit aaaa111 → bbbb222)"


def test_a_clean_slower_timing_is_still_a_regression(tmp_path, cli_inproc):
    store = gate_store(tmp_path / "gate", 40.0, 120.0)
    (step,) = histories(store)["x3d-xs"].steps
    assert step.regressions == ["latency F +200.0%"] and step.estimates["F"].low > 2.9
    assert step.disturbed == [] and step.improvements == []
    result = cli_inproc("history", str(store), "--fail-on-regression")
    assert result.returncode == 1 and "REGRESSION: latency F +200.0%" in result.stdout


def test_a_clean_faster_timing_is_flagged_an_improvement_never_a_failure(tmp_path, cli_inproc):
    store = gate_store(tmp_path / "gate", 40.0, 28.0)
    (step,) = histories(store)["x3d-xs"].steps
    assert step.improvements == ["latency F -30.0%"] and step.estimates["F"].high < 0.71
    assert step.regressions == [] and step.disturbed == []
    assert not histories(store, threshold=0.35)["x3d-xs"].steps[0].improvements
    result = cli_inproc("history", str(store), "--fail-on-regression")
    assert result.returncode == 0 and "| IMPROVEMENT: latency F -30.0% |" in result.stdout
    lines = result.stdout.rstrip().splitlines()
    assert lines[-4:] == [
        "1 improvement(s) flagged (threshold 5%):",
        "- x3d-xs on Test CPU: latency F -30.0% (commit aaaa111 → bbbb222)",
        "",
        "no regression flagged (threshold 5%)",
    ]


def test_higher_accuracy_over_seeds_is_an_improvement(tmp_path):
    folder = tmp_path / "acc"
    for commit, base in (("aaaa111", 52.0), ("bbbb222", 60.0)):
        for seed in range(3):
            append_record(
                folder,
                record(
                    f"r3d-{seed}",
                    f"r3d-18 train.seed={seed}",
                    5.0,
                    f"2026-01-0{4 + (commit > 'b')}T10:0{seed}:00",
                    env(commit=commit),
                    seed,
                    base + seed,
                    "r3d",
                ),
            )
    (step,) = histories(folder)["r3d-18"].steps
    assert step.improvements == ["top-1 +8.00 points (+15.1%)"] and step.regressions == []


def test_a_slowdown_timed_busy_then_quiet_is_judged_against_the_code_before_it(tmp_path):
    """A (clean, 40 ms) -> B (disturbed, 120 ms) -> B again (clean, 120 ms): the first step is
    not judged; the second is judged against A, the latest undisturbed timing, and is the
    regression (judged against the disturbed B it would read as no change)."""
    store = tmp_path / "gate"
    append_record(store, timed_record(40.0, "aaaa111", "2026-02-01T10:00:00"))
    append_record(store, timed_record(120.0, "bbbb222", "2026-02-02T10:00:00", 1.9))
    append_record(store, timed_record(120.0, "bbbb222", "2026-02-03T10:00:00"))
    first, second = histories(store)["x3d-xs"].steps
    assert first.disturbed == ["latency F +200.0%"] and first.regressions == []
    assert second.regressions == ["latency F +200.0%"] and second.disturbed == []
    assert second.estimates["F"].low > 2.9
