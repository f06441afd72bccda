"""`mtbench compare`: ratios with bootstrap intervals, seed differences against a hand
computation, machines kept apart, old records without raw repeats left without an interval."""

import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mtbench.measure.machine import machine_key
from mtbench.measure.profile import ProfileOptions, profile
from mtbench.report.compare import (
    NOT_RESOLVED,
    latency_ratio,
    median_interval,
    seed_difference,
)
from mtbench.report.frame import load_stores
from mtbench.report.tables import render
from mtbench.suite.store import read_records, write_records

FIXTURES = Path(__file__).parent / "fixtures" / "report"
BASE = "MTNet-32 r=0.875 g=1"


def _with_repeats(records, seed=0, scale=1.0):
    """Records given raw repeats around their median (real records: median of the repeats)."""
    rng = np.random.default_rng(seed)
    for record in records:
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            stats = record.get(key)
            if stats:
                samples = stats["median"] * scale * rng.lognormal(0, 0.03, size=10)
                stats.update(median=float(np.median(samples)), samples=samples.tolist())
    return records


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "reports" / "substreams"
    write_records(folder, _with_repeats(read_records(FIXTURES / "substreams")))
    return folder


def test_bootstrap_interval_of_a_ratio_covers_the_true_ratio():
    rng = np.random.default_rng(1)
    covered = 0
    trials = 60
    for _ in range(trials):
        base = 40 * rng.lognormal(0, 0.05, size=25)
        cell = 1.5 * 40 * rng.lognormal(0, 0.05, size=25)
        estimate = latency_ratio(cell, base, np.median(cell), np.median(base))
        assert estimate.low < estimate.value < estimate.high
        assert estimate.high - estimate.low < 0.2  # 5% noise, 25 repeats: a tight interval
        assert estimate.resolved
        covered += estimate.low <= 1.5 <= estimate.high
    assert covered >= 0.85 * trials  # nominal 95%; the percentile bootstrap runs a bit under


def test_two_draws_of_one_distribution_are_not_resolved():
    rng = np.random.default_rng(2)
    a, b = 40 * rng.lognormal(0, 0.05, size=(2, 30))
    estimate = latency_ratio(a, b, np.median(a), np.median(b))
    assert estimate.low < 1 < estimate.high and estimate.resolved is False


def test_without_raw_repeats_there_is_no_interval():
    estimate = latency_ratio((), (), 30.0, 20.0)
    assert estimate.value == 1.5 and not estimate.has_interval and estimate.resolved is None
    assert median_interval([31.0]) is None


def test_paired_seed_difference_against_a_hand_computation():
    cell = {0: 70.0, 1: 72.0, 2: 75.0}
    base = {0: 68.0, 1: 71.0, 2: 71.0}
    # differences 2, 1, 4: mean 7/3, sd sqrt(7/3), se sd/sqrt(3); t(0.975, 2) = 4.302653
    estimate = seed_difference(cell, base)
    se = (7 / 3) ** 0.5 / 3**0.5
    assert estimate.value == pytest.approx(7 / 3)
    assert estimate.se == pytest.approx(se)
    assert estimate.low == pytest.approx(7 / 3 - 4.302653 * se, abs=1e-5)
    assert estimate.high == pytest.approx(7 / 3 + 4.302653 * se, abs=1e-5)
    assert estimate.how.startswith("paired") and estimate.resolved is False


def test_unpaired_seeds_use_welch_and_one_seed_gives_no_interval():
    cell, base = {0: 80.0, 1: 82.0, 2: 84.0}, {3: 60.0, 4: 61.0}
    estimate = seed_difference(cell, base)
    va, vb = 4.0 / 3, 0.5 / 2  # sample variances over n
    se = (va + vb) ** 0.5
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    assert estimate.value == pytest.approx(82.0 - 60.5)
    assert estimate.se == pytest.approx(se)
    assert estimate.high - estimate.value == pytest.approx(stats.t.ppf(0.975, df) * se)
    assert estimate.how.startswith("Welch") and estimate.resolved is True
    single = seed_difference({0: 80.0}, {0: 60.0})
    assert single.value == 20.0 and not single.has_interval


def test_raw_repeat_times_reach_the_record():
    record = profile(
        "r3d-18",
        {"num_classes": 4},
        [1, 3, 2, 16, 16],
        ProfileOptions(device="cpu", warmup=0, repeats=4, measure=("latency_fwd",)),
    )
    stats = record["latency_fwd_ms"]
    assert len(stats["samples"]) == stats["repeats"] == 4
    assert stats["median"] == pytest.approx(statistics.median(stats["samples"]))
    env = record["env"]
    for key in ("cpu", "cpu_capability", "onednn_max_cpu_isa", "threads", "gpu", "cudnn"):
        assert key in env
    assert machine_key(env).startswith(env["cpu"])


def test_compare_prints_ratios_with_intervals_and_exact_count_ratios(store, report_cli):
    result = report_cli("compare", store.parent, "--baseline", BASE)
    assert result.exit_code == 0, result.output
    lines = {line.split("|")[1].strip(): line for line in result.output.splitlines() if "|" in line}
    records = {r["label"]: r for r in read_records(store)}
    row = [c.strip() for c in lines["R3D-18"].strip("|").split("|")]
    ratio = records["R3D-18"]["gflops"] / records[BASE]["gflops"]
    assert f"{ratio:.2f}" in row
    latency = (
        records["R3D-18"]["latency_fwd_ms"]["median"] / records[BASE]["latency_fwd_ms"]["median"]
    )
    assert row[2].startswith(f"{latency:.2f} [")
    assert BASE not in lines  # the baseline is not compared with itself


def _two_machines(store):
    records = read_records(store)
    other = {**records[0]["env"], "cpu": "Intel Xeon Platinum 8375C", "cpu_capability": "AVX512"}
    for record in records[::2]:
        record["env"] = other
    write_records(store, records)


def test_a_store_of_two_machines_is_split_in_tables(store):
    _two_machines(store)
    whole = load_stores(store)[0]
    assert len(whole.machines) == 2
    text = render([whole], "md")
    assert "substreams holds cells from 2 machines" in text
    assert "### substreams [machine 1/2]" in text and "### substreams [machine 2/2]" in text
    csv = render([whole], "csv")
    assert "Machine" in csv.splitlines()[0] and "Intel Xeon" in csv


def test_a_cell_that_failed_before_measuring_makes_no_machine_of_its_own(store):
    """A record without env (the cell failed before anything was measured) is listed as
    failed under the store's one machine, not as a second machine."""
    records = read_records(store)
    records[0].update(env=None, status="failed", error="RuntimeError: could not quantize")
    write_records(store, records)
    whole = load_stores(store)[0]
    assert len(whole.machines) == 1 and whole.by_machine() == [whole]
    text = render([whole], "md")
    assert "holds cells from" not in text and "could not quantize" in text
    records[0]["env"] = records[1]["env"]
    write_records(store, records)
    _two_machines(store)  # records[0] is among those moved: set it back to no env
    records = read_records(store)
    records[0].update(env=None)
    write_records(store, records)
    parts = load_stores(store)[0].by_machine()
    assert len(parts) == 2 and all("could not quantize" in render([p], "md") for p in parts)


def test_merging_one_suite_run_on_two_machines_keeps_both_results(store, tmp_path, cli_inproc):
    records = read_records(store)
    elsewhere = tmp_path / "xeon" / "substreams"
    other = {**records[0]["env"], "cpu": "Intel Xeon Platinum 8375C", "cpu_capability": "AVX2"}
    write_records(elsewhere, [{**r, "env": other} for r in records])
    merged = tmp_path / "merged"
    result = cli_inproc("merge", str(store), str(elsewhere), "-o", str(merged))
    assert result.returncode == 0, result.stderr
    assert f"into {len(records)} cells on 2 machines ({2 * len(records)} results)" in result.stdout
    (whole,) = load_stores(merged)
    parts = whole.by_machine()
    assert [len(part.frame) for part in parts] == [len(records), len(records)]
    assert {machine_key(other)} == set(parts[1].frame["machine"])
    shown = cli_inproc("show", str(merged))
    assert f"{merged}: {2 * len(records)} cells" in shown.stdout.replace("\n", "")


def test_compare_refuses_across_machines_unless_asked(store, report_cli):
    _two_machines(store)
    records = read_records(store)
    base_machine = machine_key(next(r for r in records if r["label"] == BASE)["env"])
    result = report_cli("compare", store.parent, "--baseline", BASE)
    assert result.exit_code == 0, result.output
    refused = [line for line in result.output.splitlines() if "another machine" in line]
    assert refused and all("--across-machines" in line for line in refused)
    compared = [line for line in result.output.splitlines() if line.startswith("### against")]
    assert compared == [f"### against {BASE} on {base_machine}"]
    anyway = report_cli("compare", store.parent, "--baseline", BASE, "--across-machines")
    assert "another machine" not in anyway.output and " vs " in anyway.output


def test_old_records_without_raw_repeats_say_unavailable(tmp_path, report_cli):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    result = report_cli("compare", tmp_path / "reports" / "substreams", "--baseline", BASE)
    assert result.exit_code == 0, result.output
    assert "[unavailable]" in result.output and NOT_RESOLVED + " " not in result.output
    table = report_cli("table", tmp_path / "reports", "--baseline", BASE)
    assert table.exit_code == 0 and "[unavailable]" in table.output


def test_seed_groups_compare_paired(tmp_path, report_cli):
    base = read_records(FIXTURES / "substreams")[1]  # MTNet-32 r=0.875 g=1, trained on hacs
    records = []
    for label, tops in (("a", (70.0, 72.0, 75.0)), ("b", (68.0, 71.0, 71.0))):
        for seed, top1 in enumerate(tops):
            name = f"{label} train.seed={seed}"
            records.append(
                {
                    **base,
                    "cell_key": f"{label}{seed}",
                    "label": name,
                    "model": label,
                    "seed": seed,
                    "seed_group": label,
                    "top1": top1,
                }
            )
    write_records(tmp_path / "s", records)
    result = report_cli("compare", tmp_path, "--baseline", "b")
    assert result.exit_code == 0, result.output
    assert "+2.33 ± 0.88 [-1.46, +6.13] n.r. (paired, 3 seeds)" in result.output


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--baseline", "nope"], "no such cell"),
        (["--baseline", BASE, "--format", "latex"], "md, csv"),
    ],
)
def test_bad_compare_input_is_one_line_exit_2(store, cli_inproc, args, needle):
    result = cli_inproc("compare", str(store), *args)
    assert result.returncode == 2 and needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_across_machines_prefers_the_baseline_of_the_cells_own_machine(store, report_cli):
    records = read_records(store)
    twin = {**next(r for r in records if r["label"] == BASE), "cell_key": "twin"}
    twin["env"] = {**twin["env"], "cpu": "Intel Xeon Platinum 8375C"}
    write_records(store, [*records, twin])
    result = report_cli("compare", store.parent, "--baseline", BASE, "--across-machines")
    assert result.exit_code == 0, result.output
    assert " vs " not in result.output  # every cell found a baseline on its own machine
