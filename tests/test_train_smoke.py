"""The shipped train-smoke suite end to end (in this process), as CI runs it: three training
seeds of each model learn the synthetic motion classes above chance, the seeds aggregate in
tables, `compare` gives the paired top-1 difference, and the accuracy plots draw from the
store."""

import csv
import io
import statistics
from pathlib import Path

import pytest
from conftest import run_inproc as mtbench

from mtbench.suite.store import read_records
from mtbench.train.checkpoint import LAST

# One worker builds the module-scoped fixture once for all of them (tests/serial_last.py).
# The whole module is one training of the shipped suite: slow.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("train-smoke")]

SUITE = Path(__file__).parent.parent / "suites" / "train-smoke.toml"
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("train-smoke")
    result = mtbench("run", str(SUITE), "--output", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def top1_by_seed(store) -> dict[str, dict[int, float]]:
    by_model: dict[str, dict[int, float]] = {}
    for record in read_records(store):
        assert record["status"] == "ok", record["error"]
        by_model.setdefault(record["model"], {})[record["seed"]] = record["top1"]
    return by_model


def test_every_seed_reduces_the_loss_and_beats_chance(store, top1_by_seed):
    assert {m: sorted(s) for m, s in top1_by_seed.items()} == {
        "r3d-18": SEEDS,
        "mtnet-32": SEEDS,
    }
    for record in read_records(store):
        chance = 100 / record["num_classes"]
        assert record["top1"] > chance, record["label"]
        curve = record["train_curve"]
        assert curve[-1]["loss"] < curve[0]["loss"], record["label"]
        assert record["gflops"] > 0 and record["latency_fwd_ms"]["median"] > 0


def test_each_model_beats_chance_by_more_than_two_standard_errors(top1_by_seed):
    for model, seeds in top1_by_seed.items():
        values = list(seeds.values())
        se = statistics.stdev(values) / len(values) ** 0.5
        assert statistics.mean(values) - 25 > 2 * se, (model, values)


def test_table_reports_the_seeds_as_mean_and_std(store, top1_by_seed):
    result = mtbench("table", str(store), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = {row["Model"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    for model, seeds in top1_by_seed.items():
        values = list(seeds.values())
        row = rows[model]
        assert float(row["Top-1 (%)"]) == pytest.approx(statistics.mean(values))
        assert float(row["Top-1 (%) std"]) == pytest.approx(statistics.stdev(values))
        assert row["Top-1 (%) seeds"] == "3"


def test_compare_gives_the_paired_difference_over_seeds(store, top1_by_seed):
    result = mtbench("compare", str(store), "--baseline", "r3d-18", "--format", "csv")
    assert result.returncode == 0, result.stderr
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    diffs = [top1_by_seed["mtnet-32"][s] - top1_by_seed["r3d-18"][s] for s in SEEDS]
    se = statistics.stdev(diffs) / len(diffs) ** 0.5
    assert row["Cell"] == "mtnet-32"
    assert row["Top-1 Δ (points) ± SE [95% CI]"].startswith(
        f"{statistics.mean(diffs):+.2f} ± {se:.2f} ["
    ), row
    assert "(paired, 3 seeds)" in row["Top-1 Δ (points) ± SE [95% CI]"]


def test_accuracy_and_training_plots_draw_from_it(store):
    result = mtbench("plot", str(store), "--format", "png")
    assert result.returncode == 0, result.stderr
    plots = {p.name for p in (store / "plots").iterdir()}
    for name in ("accuracy-gflops", "accuracy-latency", "training"):
        assert f"train-smoke-{name}.png" in plots, plots


def test_retime_disturbed_measures_a_trained_cell_without_training_or_evaluating(
    store, tmp_path, monkeypatch, cli_inproc
):
    """`--retime-disturbed` loads the trained network from its checkpoint and times it again;
    the stored accuracy stands (nothing is trained or evaluated again)."""
    import shutil

    from mtbench.suite import runner
    from mtbench.suite.store import write_records

    busy_key = read_records(store)[0]["cell_key"]

    def other_checkpoints(folder: str, names: list[str]) -> list[str]:
        """Only the re-timed cell's checkpoint is copied (each is 170 to 270 MB)."""
        return [] if Path(folder).name == busy_key else [n for n in names if n == LAST]

    copy = tmp_path / "store"
    shutil.copytree(store, copy, ignore=other_checkpoints)
    records = read_records(copy)
    for record in records:  # a quiet run, whatever this machine was doing
        record["latency_fwd_ms"].update(verdict="clean", reasons=[])
    busy = records[0]
    busy["latency_fwd_ms"].update(verdict="disturbed", reasons=["busy"])
    write_records(copy, records)

    def refuse(*args, **kwargs):
        raise AssertionError("re-timing must not train or evaluate")

    monkeypatch.setattr(runner, "train_and_evaluate", refuse)
    result = cli_inproc("run", str(SUITE), "--output", str(copy), "--retime-disturbed")
    assert result.returncode == 0, result.stdout + result.stderr
    after = read_records(copy)
    assert len(after) == len(records) + 1
    new = after[-1]
    assert new["cell_key"] == busy["cell_key"] and new["status"] == "ok"
    assert new["top1"] == busy["top1"] and new["train_curve"] == busy["train_curve"]
    assert new["params_total"] == busy["params_total"] and new["gflops"] == busy["gflops"]
    assert new["latency_fwd_ms"]["samples"] != busy["latency_fwd_ms"]["samples"]
